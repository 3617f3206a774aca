"""The items of a version in the admin: one part of a version per page, reordered in one save.

The version's own page (admin.py) lists its parts; each part opens here: a section with its steps
(`SectionAdmin`), or one kind of item of the version (the inlines below, shown one at a time).
"""

from collections import defaultdict
from typing import ClassVar

import reversion
from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.db.models import F
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.text import capfirst

from checklists.models import (
    STEP_TEXT_MAX_LENGTH,
    Contraindication,
    NeedleSize,
    Section,
    Site,
    Source,
    Step,
    TroubleshootingItem,
)

SHORT_TEXT_MESSAGES = {
    "required": "Write the text: an empty item cannot be shown.",
    "max_length": (
        f"Keep it to {STEP_TEXT_MAX_LENGTH} characters or fewer: longer does not read at "
        "arm's length. Put the rest in the detail."
    ),
}
SOURCES_MESSAGES = {"required": "Cite at least one source for this item."}
# Rows whose position changes are parked this far out first, so positions can be swapped.
TEMPORARY_POSITION_OFFSET = 1_000_000


def wrapping_textarea(rows=3):
    return forms.Textarea(attrs={"rows": rows, "class": "wrapping-text"})


class PreloadedAutocompleteSelectMultiple(AutocompleteSelectMultiple):
    """The admin's autocomplete, rendering the chosen sources from one lookup per page.

    Django's widget runs one query per row to label the selected options.
    """

    def __init__(self, *args, labels, **kwargs):
        super().__init__(*args, **kwargs)
        self.labels = labels

    def build_attrs(self, base_attrs, extra_attrs=None):
        attrs = super().build_attrs(base_attrs, extra_attrs)
        # Sized by CSS (admin.css), never by an inline style the CSP would refuse.
        attrs["data-width"] = "resolve"
        attrs["class"] = f"{attrs.get('class', '')} compact-sources".strip()
        return attrs

    def optgroups(self, name, value, attr=None):
        chosen = [str(v) for v in value if str(v) in self.labels]
        options = [
            self.create_option(name, pk, self.labels[pk], True, index)
            for index, pk in enumerate(chosen)
        ]
        return [(None, options, 0)]


class PreloadedChoiceField(forms.TypedChoiceField):
    """A foreign-key select whose options are loaded once per page, not once per row."""

    def __init__(self, objects, *, required=True, **kwargs):
        by_pk = {str(obj.pk): obj for obj in objects}
        choices = [("", "—")] + [(pk, str(obj)) for pk, obj in by_pk.items()]
        super().__init__(
            choices=choices,
            coerce=lambda pk: by_pk[str(pk)],
            required=required,
            empty_value=None,
            **kwargs,
        )

    def prepare_value(self, value):
        return getattr(value, "pk", value)

    def has_changed(self, initial, data):
        return str(self.prepare_value(initial) or "") != str(data or "")


class DraftPageForm(forms.ModelForm):
    """The form of a page of a draft (a part, a section, the summary): its save is refused if
    another save of the draft came after the page was drawn, which it would undo unseen."""

    seen_edits = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def draft(self):
        return self.instance

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["seen_edits"].initial = self.draft().edits

    def clean(self):
        cleaned = super().clean()
        # Drawn by the draft's own pages (templates/admin/checklists/…); a revert from the
        # history page has no such mark, and means to put an older state back.
        if self.instance.pk and cleaned.get("seen_edits") is not None:
            self.draft().check_not_changed_since(cleaned["seen_edits"])
        return cleaned


class SectionForm(DraftPageForm):
    def draft(self):
        return self.instance.version


class ContentForm(forms.ModelForm):
    """An item's form. Positions are checked across the whole part (PositionedFormSet), not row
    by row against the stored rows: otherwise a swap of two positions is refused."""

    def validate_constraints(self):
        exclude = self._get_validation_exclusions()
        if self.instance.version_id:
            # Set by the formset even where it is not a field (a section's steps): slugs stay
            # unique within the version.
            exclude.discard("version")
        exclude.add("position")
        try:
            self.instance.validate_constraints(exclude=exclude)
        except ValidationError as error:
            self._update_errors(error)


class PositionedFormSet(BaseInlineFormSet):
    """All the items of one part: positions unique among them, saved in one go in any order."""

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        version_id = getattr(self.instance, "version_id", None)
        if version_id and not form.instance.version_id:
            # A section's new step belongs to the section's version.
            form.instance.version_id = version_id
        return form

    def kept_forms(self):
        return [
            form
            for form in self.forms
            if form.is_valid()
            and form.cleaned_data
            and not self._should_delete_form(form)
        ]

    def clean(self):
        by_position = defaultdict(list)
        for form in self.kept_forms():
            position = form.cleaned_data.get("position")
            if position is not None:
                by_position[position].append(form)
        noun = self.model._meta.verbose_name
        for position, forms_at in by_position.items():
            if len(forms_at) > 1:
                for form in forms_at:
                    form.add_error(
                        "position",
                        f"Position {position} is used by {len(forms_at)} items here: give "
                        f"each {noun} its own position.",
                    )
        super().clean()

    def save(self, commit=True):
        if commit:
            moving = [
                form.instance.pk
                for form in self.initial_forms
                if form.instance.pk
                and ("position" in form.changed_data or self._should_delete_form(form))
            ]
            if moving:
                # Inside the admin's transaction: the final positions are written just below.
                self.model._default_manager.filter(pk__in=moving).update(
                    position=F("position") + TEMPORARY_POSITION_OFFSET
                )
        return super().save(commit)


class NeedleSizeFormSet(PositionedFormSet):
    """Weight bands may not overlap: checked across the rows being saved together."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        # The formset compares the bands as edited; the model's own check against stored rows
        # would see the old values of rows changed in this same save.
        form.instance.band_checked_by_formset = True

    def clean(self):
        super().clean()
        kept = self.kept_forms()
        needles = [form.instance for form in kept]
        for form in kept:
            clash = form.instance.overlapping(needles)
            if clash:
                form.add_error(
                    "min_weight_kg",
                    f"This weight band overlaps {clash} ({clash.band_label}). "
                    "Bands may not overlap.",
                )


# Items one page of a version saves at most: far above any part's (the IO checklist's largest
# section has 18 steps), and the most forms a forged form count makes the server build (Django
# would build up to 2 000, each with its sources: a minute of a worker for one request).
MAX_ITEMS = 100


class BoundedInline:
    """An inline whose formset builds at most MAX_ITEMS forms; more are refused at the top."""

    max_num = MAX_ITEMS

    def get_formset(self, request, obj=None, **kwargs):
        kwargs.setdefault("absolute_max", MAX_ITEMS)
        return super().get_formset(request, obj, **kwargs)


class ContentInline(BoundedInline, admin.StackedInline):
    """Items of a version: editable only while the version is a draft."""

    form = ContentForm
    formset = PositionedFormSet
    extra = 0
    autocomplete_fields = ("sources",)
    ordering = ("position",)
    related_joins = ()
    prefetch = ("sources",)
    textareas: ClassVar[dict] = {}
    error_messages: ClassVar[dict] = {"sources": SOURCES_MESSAGES}
    classes = ("content-part",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.related_joins:
            queryset = queryset.select_related(*self.related_joins)
        return queryset.prefetch_related(*self.prefetch)

    def get_formset(self, request, obj=None, **kwargs):
        request._editing_version = self.version_of(obj)
        kwargs.setdefault("error_messages", self.error_messages)
        return super().get_formset(request, obj, **kwargs)

    def version_of(self, obj):
        return obj

    def _editable(self, obj):
        version = self.version_of(obj)
        return version is None or version.is_editable

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in self.textareas:
            kwargs["widget"] = wrapping_textarea(self.textareas[db_field.name])
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "sources":
            labels = getattr(request, "_source_labels", None)
            if labels is None:
                labels = {
                    str(pk): key for pk, key in Source.objects.values_list("pk", "key")
                }
                request._source_labels = labels
            kwargs["widget"] = PreloadedAutocompleteSelectMultiple(
                db_field, self.admin_site, labels=labels, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def preloaded_field(self, objects, *, required, label=None):
        return PreloadedChoiceField(list(objects), required=required, label=label)


class SectionInline(BoundedInline, admin.TabularInline):
    """The version's sections: their order and titles (their steps open from each section)."""

    model = Section
    form = ContentForm
    formset = PositionedFormSet
    fields = ("position", "slug", "title")
    extra = 0
    ordering = ("position",)
    verbose_name_plural = "Sections: order and titles"

    def _editable(self, obj):
        return obj is None or obj.is_editable

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


class SiteInline(ContentInline):
    model = Site
    fields = (
        ("position", "slug", "drawing"),
        ("name", "bone"),
        ("for_adults", "for_children"),
        "positioning",
        "landmarks",
        "notes",
        "caveat",
        "sources",
    )
    textareas: ClassVar[dict] = {
        "positioning": 2,
        "landmarks": 2,
        "notes": 3,
        "caveat": 2,
    }
    error_messages: ClassVar[dict] = {
        "landmarks": {
            "required": "Describe the landmarks: a site without them cannot be used."
        },
        "sources": SOURCES_MESSAGES,
    }


class ContraindicationInline(ContentInline):
    model = Contraindication
    fields = (
        ("position", "slug", "severity"),
        "text",
        ("region", "site", "population"),
        "caveat",
        "sources",
    )
    related_joins = ("site",)
    textareas: ClassVar[dict] = {"caveat": 2}
    error_messages: ClassVar[dict] = {
        "text": SHORT_TEXT_MESSAGES,
        "sources": SOURCES_MESSAGES,
    }

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "site":
            version = getattr(request, "_editing_version", None)
            return self.preloaded_field(
                Site.objects.filter(version=version).order_by("position"),
                required=False,
                label="Site",
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class NeedleSizeInline(ContentInline):
    model = NeedleSize
    formset = NeedleSizeFormSet
    fields = (
        ("position", "slug"),
        ("length_mm", "hub_colour"),
        ("min_weight_kg", "max_weight_kg", "for_deep_tissue"),
        "tissue_note",
        "caveat",
        "sources",
    )
    textareas: ClassVar[dict] = {"caveat": 2}


class TroubleshootingItemInline(ContentInline):
    model = TroubleshootingItem
    fields = (("position", "slug"), "problem", "cause", "action", "caveat", "sources")
    textareas: ClassVar[dict] = {"caveat": 2}
    error_messages: ClassVar[dict] = {
        "problem": SHORT_TEXT_MESSAGES,
        "cause": SHORT_TEXT_MESSAGES,
        "action": SHORT_TEXT_MESSAGES,
        "sources": SOURCES_MESSAGES,
    }


class SectionStepInline(ContentInline):
    """A section's steps, in their order within the section."""

    model = Step
    fk_name = "section"
    fields = (
        ("position", "slug", "kind", "population", "is_critical"),
        "text",
        "sources",
        ("detail", "caveat"),
    )
    textareas: ClassVar[dict] = {"detail": 3, "caveat": 3}
    error_messages: ClassVar[dict] = {
        "text": SHORT_TEXT_MESSAGES,
        "sources": SOURCES_MESSAGES,
    }

    def version_of(self, obj):
        return obj.version if obj is not None else None


# A step's every save is kept (its section's page saves it inside a revision, below); the other
# items are registered by ChecklistVersionAdmin, whose inlines they are.
if not reversion.is_registered(Step):
    reversion.register(Step)


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    """A section of a version with its steps: one page that fits a desk screen."""

    change_form_template = "admin/checklists/section/change_form.html"
    form = SectionForm
    fields = ("version", "title")
    readonly_fields = ("version",)
    inlines = (SectionStepInline,)
    list_display = ("title", "version", "position")
    list_select_related = ("version__procedure",)
    ordering = ("version", "position")
    save_on_top = True

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Each save is kept in the version's history (django-reversion), as on the version's
        # own pages. Steps are registered above, sections by ChecklistVersionAdmin.
        with reversion.create_revision():
            reversion.set_user(request.user)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def has_module_permission(self, request):
        # Sections open from their version's page, not from the admin's index.
        return False

    def has_add_permission(self, request):
        # New sections are added on the version's "Sections" part, where their order is set.
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and not obj.version.is_editable:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not obj.version.is_editable:
            return False
        return super().has_delete_permission(request, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("version__procedure")

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None:
            context.update(
                title=f"Section “{obj.title}” of {obj.version}",
                subtitle=None,
                version=obj.version,
                version_url=reverse(
                    "admin:checklists_checklistversion_change", args=[obj.version_id]
                ),
                error_summary=error_summary(
                    context.get("adminform"), context.get("inline_admin_formsets")
                ),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Whoever saves a section's steps shares in the draft, and so cannot publish it; a
        # page of the draft drawn before this save is out of date.
        form.instance.version.record_edit(by=request.user)

    def response_change(self, request, obj):
        if "_continue" not in request.POST and "_save" in request.POST:
            self.message_user(request, f"Section “{obj}” saved.")
            return self._redirect_to_version(obj)
        return super().response_change(request, obj)

    def _redirect_to_version(self, obj):
        return redirect("admin:checklists_checklistversion_change", obj.version_id)


def error_summary(adminform, inline_admin_formsets):
    """Every error of a failed save, each with a link to its field: (href, text)."""
    entries = []
    if adminform is not None:
        form = adminform.form
        entries += _form_errors(form, "", "content-main")
    for inline in inline_admin_formsets or ():
        formset = inline.formset
        noun = capfirst(formset.model._meta.verbose_name)
        for error in formset.non_form_errors():
            entries.append((f"#{formset.prefix}-group", f"{noun}s: {error}"))
        for index, form in enumerate(formset.forms):
            if not form.errors:
                continue
            where = f"{noun} {index + 1}"
            if form.instance.pk:
                where += f" (“{form.instance}”)"
            entries += _form_errors(form, where, f"{formset.prefix}-{index}")
    return entries


def _form_errors(form, where, anchor):
    entries = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        if name == "__all__" or field is None:
            href, label = f"#{anchor}", where or "This page"
        else:
            href = f"#{form[name].id_for_label or form[name].auto_id}"
            label = capfirst(str(field.label or name))
            if where:
                label = f"{where}: {label}"
        entries += [(href, f"{label} — {error}") for error in errors]
    return entries
