"""The content editors' admin: drafts are edited part by part, a second editor approves and
publishes after a confirmation page that shows what changes.

Published and retired versions are view-only here, and their models refuse changes as well.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods, require_POST
from reversion.admin import VersionAdmin

from checklists.admin_content import DraftPageForm, SectionAdmin, error_summary
from checklists.admin_parts import (
    PARTS,
    attempts_in_progress_elsewhere,
    part_rows,
    version_diff,
)
from checklists.models import (
    CHANGED_IT_YOURSELF,
    ChecklistVersion,
    Procedure,
    Source,
)

__all__ = ["ChecklistVersionAdmin", "SectionAdmin"]


# Longer than any key, title or phrase of a citation an editor looks for. Without a bound, a
# pasted page of text became one LIKE per word and field: SQLite refuses a pattern past 50 000
# bytes ("LIKE or GLOB pattern too complex"), which the outage middleware reports as a 503.
MAX_SEARCH_LENGTH = 200


class BoundedSearchMixin:
    """Searches the admin's lists with at most MAX_SEARCH_LENGTH characters of the term."""

    def get_search_results(self, request, queryset, search_term):
        if len(search_term) > MAX_SEARCH_LENGTH:
            search_term = search_term[:MAX_SEARCH_LENGTH]
            # The autocomplete answers JSON: a message would surface on the next page instead.
            if getattr(request.resolver_match, "url_name", None) != "autocomplete":
                messages.warning(
                    request,
                    f"Searched for the first {MAX_SEARCH_LENGTH} characters only: "
                    "shorten the search.",
                )
        return super().get_search_results(request, queryset, search_term)


@admin.register(Source)
class SourceAdmin(BoundedSearchMixin, admin.ModelAdmin):
    """Citations: new ones are added freely; one that content past draft cites is read-only."""

    change_form_template = "admin/checklists/source/change_form.html"
    list_display = ("key", "grade", "citation")
    list_filter = ("grade",)
    search_fields = ("key", "citation")

    def has_change_permission(self, request, obj=None):
        if obj is not None and self._citing_versions(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and self._citing_versions(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    def _citing_versions(self, request, obj):
        # Asked several times per page (permissions, the page's note): one query per source.
        cache = request.__dict__.setdefault("_citing_versions", {})
        if obj.pk not in cache:
            cache[obj.pk] = obj.citing_versions()
        return cache[obj.pk]

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None:
            versions = self._citing_versions(request, obj)
            if versions:
                context["frozen_message"] = obj.frozen_message("changed", versions)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def delete_queryset(self, request, queryset):
        # The bulk action's confirmation already refuses (has_delete_permission per source);
        # the model refuses too, should a cited source reach here.
        queryset.delete()


@admin.register(Procedure)
class ProcedureAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name",)


@admin.register(ChecklistVersion)
class ChecklistVersionAdmin(BoundedSearchMixin, VersionAdmin):
    """A version: its status, change summary and parts; each part edited on its own page."""

    change_form_template = "admin/checklists/checklistversion/change_form.html"
    part_form_template = "admin/checklists/checklistversion/part_form.html"
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
    form = DraftPageForm
    fieldsets = (
        (None, {"fields": ("change_summary",)}),
        (
            "Record",
            {
                "fields": readonly_fields,
                "classes": ("collapse",),
            },
        ),
    )
    # Every part, so that django-reversion keeps each item in a save's revision; a page shows
    # one part at a time (get_inlines).
    inlines = tuple(part.inline for part in PARTS.values())

    @admin.display(description="status", ordering="status")
    def status_label(self, obj):
        return format_html("<strong>{}</strong>", obj.get_status_display())

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("procedure", "author", "reviewer", "based_on__procedure")
        )

    def get_inlines(self, request, obj):
        part = getattr(request, "_version_part", None)
        return (part.inline,) if part else ()

    def get_fieldsets(self, request, obj=None):
        if getattr(request, "_version_part", None):
            return ((None, {"fields": ()}),)
        return super().get_fieldsets(request, obj)

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

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Whoever saves any page of a draft (a part, its summary, a revert) shares in it; a
        # page of the draft drawn before this save is out of date.
        form.instance.record_edit(by=request.user)

    def get_urls(self):
        workflow = [
            ("new-draft", self.new_draft_view, "new_draft"),
            ("submit", self.submit_view, "submit"),
            ("return-to-draft", self.return_to_draft_view, "return_to_draft"),
        ]
        return (
            [
                path(
                    f"<id:pk>/{slug}/",
                    self.admin_site.admin_view(require_POST(view)),
                    name=f"checklists_checklistversion_{name}",
                )
                for slug, view, name in workflow
            ]
            + [
                path(
                    "<id:pk>/publish/",
                    self.admin_site.admin_view(
                        require_http_methods(["GET", "POST"])(self.publish_view)
                    ),
                    name="checklists_checklistversion_publish",
                ),
                path(
                    "<id:pk>/part/<slug:part>/",
                    self.admin_site.admin_view(self.part_view),
                    name="checklists_checklistversion_part",
                ),
            ]
            + super().get_urls()
        )

    def part_view(self, request, pk, part):
        """One part of a version (its sites, its needle sizes …) on a page of its own."""
        if part not in PARTS:
            raise Http404("No such part of a version.")
        request._version_part = PARTS[part]
        return self.changeform_view(
            request,
            str(pk),
            extra_context={"part": PARTS[part], "show_delete": False},
        )

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        part = getattr(request, "_version_part", None)
        if obj is not None:
            context.update(
                self._workflow_context(request, obj),
                error_summary=error_summary(
                    context.get("adminform"), context.get("inline_admin_formsets")
                ),
            )
            if part is None:
                content = ChecklistVersion.objects.with_content().get(pk=obj.pk)
                compared, diff = version_diff(content)
                context.update(
                    parts=part_rows(content, diff),
                    compared=compared,
                )
            else:
                context.update(title=f"{part.title} — {obj}", subtitle=None)
        response = super().render_change_form(
            request, context, add, change, form_url, obj
        )
        if part is not None:
            response.template_name = [self.part_form_template]
        return response

    def _workflow_context(self, request, obj):
        user = request.user
        is_draft = obj.status == ChecklistVersion.Status.DRAFT
        in_review = obj.status == ChecklistVersion.Status.IN_REVIEW
        may_change = user.has_perm("checklists.change_checklistversion")
        return {
            "can_new_draft": obj.is_frozen
            and user.has_perm("checklists.add_checklistversion"),
            "can_submit": is_draft and may_change,
            "can_return": in_review and may_change,
            "can_publish": in_review
            and user.has_perm("checklists.publish_checklistversion"),
            "is_author": obj.author_id == user.pk,
            "is_contributor": obj.changed_by(user),
            "preview_url": reverse("checklists:version-preview", kwargs={"pk": obj.pk}),
            "diff_url": reverse("checklists:version-diff", kwargs={"pk": obj.pk}),
            "version_url": self._change_url(obj),
        }

    def response_change(self, request, obj):
        part = getattr(request, "_version_part", None)
        if part is not None:
            self.message_user(
                request, f"{part.title} of {obj} saved.", messages.SUCCESS
            )
            if "_continue" in request.POST:
                return redirect(request.path)
            return redirect(self._change_url(obj))
        if "_submit_for_review" in request.POST:
            # The page's edits were saved just now, with the version: then it is submitted.
            self._transition(
                request,
                lambda: obj.submit_for_review(by=request.user),
                f"Your changes were saved and {obj} was submitted: another editor must "
                "approve and publish it.",
            )
            return redirect(self._change_url(obj))
        return super().response_change(request, obj)

    def response_post_save_change(self, request, obj):
        return redirect(self._change_url(obj))

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
        draft = self._transition(
            request,
            lambda: version.new_draft(author=request.user),
            lambda draft: (
                f"{draft} created from {version}. Edit it, then submit it for review."
            ),
        )
        return redirect(self._change_url(draft or version))

    def submit_view(self, request, pk):
        """Submit what is saved. The version page's button saves the page first (response_change);
        a post carrying edits is refused rather than submitted without them."""
        version = self._version(request, pk, "checklists.change_checklistversion")
        if set(request.POST) - {"csrfmiddlewaretoken"}:
            messages.error(
                request, "Save your changes first: the version was not submitted."
            )
            return redirect(self._change_url(version))
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
        """GET: what publishing changes, with a final button; POST: publish (a second editor)."""
        version = self._version(request, pk, "checklists.publish_checklistversion")
        if version.status != ChecklistVersion.Status.IN_REVIEW:
            messages.error(
                request, f"{version} is not in review: it cannot be published."
            )
            return redirect(self._change_url(version))
        if version.author_id == request.user.pk:
            messages.error(
                request,
                "A second editor must approve: the author cannot publish their own draft.",
            )
            return redirect(self._change_url(version))
        if version.changed_by(request.user):
            messages.error(request, CHANGED_IT_YOURSELF)
            return redirect(self._change_url(version))
        if request.method == "POST":
            # The page the reviewer read carries its mark (when that content went into review,
            # which version was live); a post without it, or with another, was not made from
            # what publishing would do now (ChecklistVersion.review_mark).
            reviewed = request.POST.get("reviewed", "")
            self._transition(
                request,
                lambda: version.publish(by=request.user, reviewed=reviewed),
                f"Published {version.procedure} v{version.number}: clinicians now see it.",
            )
            return redirect(self._change_url(version))
        content = ChecklistVersion.objects.with_content().get(pk=version.pk)
        compared, diff = version_diff(content)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Publish version {version.number}?",
            "opts": self.opts,
            "version": content,
            "reviewed": version.review_mark,
            "compared": compared,
            "diff": diff,
            "in_progress": attempts_in_progress_elsewhere(version),
            "problems": version.content_problems(),
            "version_url": self._change_url(version),
            "diff_url": reverse("checklists:version-diff", kwargs={"pk": version.pk}),
        }
        return TemplateResponse(
            request,
            "admin/checklists/checklistversion/publish_confirmation.html",
            context,
        )

    def _transition(self, request, action, success_message):
        """`action()`'s result, with `success_message` (or its text for the result) shown;
        None, with the refusal's messages shown, if the model refused it."""
        try:
            result = action()
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return None
        if callable(success_message):
            success_message = success_message(result)
        messages.success(request, success_message)
        return result
