from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from accounts.roles import CLINICIAN, CONTENT_EDITOR, SUPERVISOR, role_required
from checklists.diff import diff_versions
from checklists.models import ChecklistVersion


@require_GET
@role_required(CONTENT_EDITOR)
def home(request):
    """The content editor's home: versions by status, and the way into the admin."""
    versions = ChecklistVersion.objects.select_related(
        "procedure", "author", "reviewer"
    )[:20]
    return render(request, "checklists/home.html", {"versions": versions})


@require_GET
@role_required(CLINICIAN, SUPERVISOR)
def reference(request):
    """The published checklist, by section, every item with its citation."""
    version = ChecklistVersion.objects.with_content().published().first()
    return render(
        request, "checklists/reference.html", {"version": version, "is_preview": False}
    )


@require_GET
@role_required(CONTENT_EDITOR)
def version_preview(request, pk):
    """A version rendered exactly as clinicians see the published one."""
    version = get_object_or_404(ChecklistVersion.objects.with_content(), pk=pk)
    return render(
        request, "checklists/reference.html", {"version": version, "is_preview": True}
    )


@require_GET
@role_required(CONTENT_EDITOR)
def version_diff(request, pk):
    """What a version adds, removes and changes compared with the published one."""
    version = get_object_or_404(ChecklistVersion.objects.with_content(), pk=pk)
    published = (
        ChecklistVersion.objects.with_content()
        .published()
        .filter(procedure_id=version.procedure_id)
        .exclude(pk=version.pk)
        .first()
    )
    if published is None and version.based_on_id:
        published = ChecklistVersion.objects.with_content().get(pk=version.based_on_id)
    context = {
        "version": version,
        "published": published,
        "diff": diff_versions(published, version),
    }
    return render(request, "checklists/version_diff.html", context)
