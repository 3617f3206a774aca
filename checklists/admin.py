"""The content editors' admin: drafts are edited, a second editor approves and publishes.

Published and retired versions are view-only here, and their models refuse changes as well.
"""

from typing import ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from reversion.admin import VersionAdmin

from checklists.models import (
    STEP_TEXT_MAX_LENGTH,
    ChecklistVersion,
    Contraindication,
    NeedleSize,
    Procedure,
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


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("key", "grade", "citation")
    list_filter = ("grade",)
    search_fields = ("key", "citation")


@admin.register(Procedure)
class ProcedureAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name",)


class PreloadedAutocompleteSelectMultiple(AutocompleteSelectMultiple):
    """The admin's autocomplete, rendering the chosen sources from one lookup per page.

    Django's widget runs one query per row to label the selected options; a version has a
    hundred rows.
    """

    def __init__(self, *args, labels, **kwargs):
        super().__init__(*args, **kwargs)
        self.labels = labels

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


class NeedleSizeFormSet(BaseInlineFormSet):
    """Weight bands may not overlap: checked across the rows being saved together."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        # The formset compares the bands as edited; the model's own check against stored rows
        # would see the old values of rows changed in this same save.
        form.instance.band_checked_by_formset = True

    def clean(self):
        super().clean()
        kept = [
            form
            for form in self.forms
            if form.is_valid()
            and form.cleaned_data
            and not form.cleaned_data.get("DELETE")
        ]
        needles = [form.instance for form in kept]
        for form in kept:
            clash = form.instance.overlapping(needles)
            if clash:
                form.add_error(
                    "min_weight_kg",
                    f"This weight band overlaps {clash} ({clash.band_label}). "
                    "Bands may not overlap.",
                )


class ContentInline(admin.TabularInline):
    """An inline of version content: editable only while the version is a draft."""

    extra = 0
    autocomplete_fields = ("sources",)
    ordering = ("position",)
    related_joins = ()
    prefetch = ("sources",)
    error_messages: ClassVar[dict] = {"sources": SOURCES_MESSAGES}

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.related_joins:
            queryset = queryset.select_related(*self.related_joins)
        return queryset.prefetch_related(*self.prefetch)

    def get_formset(self, request, obj=None, **kwargs):
        request._editing_version = obj
        kwargs.setdefault("error_messages", self.error_messages)
        return super().get_formset(request, obj, **kwargs)

    def _editable(self, obj):
        return obj is None or obj.is_editable

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)

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

    def preloaded_field(self, request, objects, *, required):
        return PreloadedChoiceField(list(objects), required=required)


class SectionInline(ContentInline):
    model = Section
    fields = ("position", "slug", "title")
    autocomplete_fields = ()
    prefetch = ()
    error_messages: ClassVar[dict] = {}


class StepInline(ContentInline):
    model = Step
    fields = (
        "position",
        "section",
        "slug",
        "text",
        "kind",
        "is_critical",
        "population",
        "sources",
        "detail",
        "caveat",
    )
    related_joins = ("section",)
    error_messages: ClassVar[dict] = {
        "text": SHORT_TEXT_MESSAGES,
        "sources": SOURCES_MESSAGES,
    }

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "section":
            version = getattr(request, "_editing_version", None)
            sections = Section.objects.filter(version=version).order_by("position")
            return self.preloaded_field(request, sections, required=True)
        if db_field.name in {"detail", "caveat"}:
            kwargs["widget"] = forms.Textarea(attrs={"rows": 2, "cols": 30})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class SiteInline(ContentInline):
    model = Site
    fields = (
        "position",
        "slug",
        "name",
        "bone",
        "for_adults",
        "for_children",
        "positioning",
        "landmarks",
        "notes",
        "caveat",
        "drawing",
        "sources",
    )
    error_messages: ClassVar[dict] = {
        "landmarks": {
            "required": "Describe the landmarks: a site without them cannot be used."
        },
        "sources": SOURCES_MESSAGES,
    }

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in {"positioning", "landmarks", "notes", "caveat"}:
            kwargs["widget"] = forms.Textarea(attrs={"rows": 3, "cols": 30})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class ContraindicationInline(ContentInline):
    model = Contraindication
    fields = (
        "position",
        "slug",
        "text",
        "region",
        "site",
        "population",
        "severity",
        "caveat",
        "sources",
    )
    related_joins = ("site",)
    error_messages: ClassVar[dict] = {
        "text": SHORT_TEXT_MESSAGES,
        "sources": SOURCES_MESSAGES,
    }

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "site":
            version = getattr(request, "_editing_version", None)
            return self.preloaded_field(
                request,
                Site.objects.filter(version=version).order_by("position"),
                required=False,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class NeedleSizeInline(ContentInline):
    model = NeedleSize
    formset = NeedleSizeFormSet
    fields = (
        "position",
        "slug",
        "length_mm",
        "hub_colour",
        "min_weight_kg",
        "max_weight_kg",
        "for_deep_tissue",
        "tissue_note",
        "caveat",
        "sources",
    )


class TroubleshootingItemInline(ContentInline):
    model = TroubleshootingItem
    fields = ("position", "slug", "problem", "cause", "action", "caveat", "sources")
    error_messages: ClassVar[dict] = {
        "problem": SHORT_TEXT_MESSAGES,
        "cause": SHORT_TEXT_MESSAGES,
        "action": SHORT_TEXT_MESSAGES,
        "sources": SOURCES_MESSAGES,
    }


@admin.register(ChecklistVersion)
class ChecklistVersionAdmin(VersionAdmin):
    """Versions with their status; drafts edited with every item inline, then reviewed."""

    change_form_template = "admin/checklists/checklistversion/change_form.html"
    list_display = (
        "__str__",
        "status_label",
        "author",
        "reviewer",
        "published_at",
        "is_reference_content",
    )
    list_filter = ("status", "procedure")
    list_select_related = ("procedure", "author", "reviewer")
    search_fields = ("change_summary",)
    readonly_fields = (
        "procedure",
        "number",
        "status",
        "based_on",
        "author",
        "reviewer",
        "is_reference_content",
        "created_at",
        "submitted_at",
        "published_at",
        "retired_at",
    )
    fields = (*readonly_fields[:7], "change_summary", *readonly_fields[7:])
    inlines = (
        SectionInline,
        StepInline,
        SiteInline,
        ContraindicationInline,
        NeedleSizeInline,
        TroubleshootingItemInline,
    )

    @admin.display(description="status", ordering="status")
    def status_label(self, obj):
        return format_html("<strong>{}</strong>", obj.get_status_display())

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("procedure", "author", "reviewer", "based_on__procedure")
        )

    def has_add_permission(self, request):
        # New versions start from "New draft from published", never from an empty form.
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and not obj.is_editable:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not obj.is_editable:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if obj.author_id is None:
            obj.author = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        workflow = [
            ("new-draft", self.new_draft_view, "new_draft"),
            ("submit", self.submit_view, "submit"),
            ("return-to-draft", self.return_to_draft_view, "return_to_draft"),
            ("publish", self.publish_view, "publish"),
        ]
        return [
            path(
                f"<int:pk>/{slug}/",
                self.admin_site.admin_view(require_POST(view)),
                name=f"checklists_checklistversion_{name}",
            )
            for slug, view, name in workflow
        ] + super().get_urls()

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None:
            user = request.user
            context.update(
                can_new_draft=obj.is_frozen
                and user.has_perm("checklists.add_checklistversion"),
                can_submit=obj.status == ChecklistVersion.Status.DRAFT
                and user.has_perm("checklists.change_checklistversion"),
                can_return=obj.status == ChecklistVersion.Status.IN_REVIEW
                and user.has_perm("checklists.change_checklistversion"),
                can_publish=obj.status == ChecklistVersion.Status.IN_REVIEW
                and user.has_perm("checklists.publish_checklistversion"),
                is_author=obj.author_id == user.pk,
                preview_url=reverse(
                    "checklists:version-preview", kwargs={"pk": obj.pk}
                ),
                diff_url=reverse("checklists:version-diff", kwargs={"pk": obj.pk}),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def revision_view(self, request, object_id, version_id, extra_context=None):
        # Reverting rewrites the version: only a draft may be taken back to an earlier state.
        version = get_object_or_404(ChecklistVersion, pk=object_id)
        if not version.is_editable:
            messages.error(request, f"{version} is not a draft: it cannot be reverted.")
            return redirect(self._change_url(version))
        return super().revision_view(request, object_id, version_id, extra_context)

    def _version(self, request, pk, permission):
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return get_object_or_404(ChecklistVersion, pk=pk)

    def _change_url(self, version):
        return reverse("admin:checklists_checklistversion_change", args=[version.pk])

    def new_draft_view(self, request, pk):
        version = self._version(request, pk, "checklists.add_checklistversion")
        draft = version.new_draft(author=request.user)
        messages.success(
            request,
            f"{draft} created from {version}. Edit it, then submit it for review.",
        )
        return redirect(self._change_url(draft))

    def submit_view(self, request, pk):
        version = self._version(request, pk, "checklists.change_checklistversion")
        self._transition(
            request,
            lambda: version.submit_for_review(by=request.user),
            f"{version} submitted: another editor must approve and publish it.",
        )
        return redirect(self._change_url(version))

    def return_to_draft_view(self, request, pk):
        version = self._version(request, pk, "checklists.change_checklistversion")
        self._transition(
            request,
            lambda: version.return_to_draft(by=request.user),
            f"{version} is a draft again.",
        )
        return redirect(self._change_url(version))

    def publish_view(self, request, pk):
        version = self._version(request, pk, "checklists.publish_checklistversion")
        self._transition(
            request,
            lambda: version.publish(by=request.user),
            f"Published {version.procedure} v{version.number}: clinicians now see it.",
        )
        return redirect(self._change_url(version))

    def _transition(self, request, action, success_message):
        try:
            action()
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, success_message)
