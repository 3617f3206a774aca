"""A version's parts as its admin page lists them: counts and what changed since the published one."""

from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, Q
from django.urls import reverse

from checklists.admin_content import (
    ContraindicationInline,
    NeedleSizeInline,
    SectionInline,
    SiteInline,
    TroubleshootingItemInline,
)
from checklists.diff import diff_versions
from checklists.models import ChecklistVersion


@dataclass(frozen=True)
class Part:
    """One kind of item of a version, edited on a page of its own."""

    slug: str
    title: str
    kind: str  # as checklists.diff names it
    related_name: str
    inline: type


PARTS = {
    part.slug: part
    for part in (
        Part(
            "sections",
            "Sections: order and titles",
            "Section",
            "sections",
            SectionInline,
        ),
        Part("sites", "Sites", "Site", "sites", SiteInline),
        Part(
            "contraindications",
            "Contraindications",
            "Contraindication",
            "contraindications",
            ContraindicationInline,
        ),
        Part(
            "needle-sizes",
            "Needle sizes",
            "Needle size",
            "needle_sizes",
            NeedleSizeInline,
        ),
        Part(
            "troubleshooting",
            "Troubleshooting items",
            "Troubleshooting item",
            "troubleshooting_items",
            TroubleshootingItemInline,
        ),
    )
}


@dataclass
class PartRow:
    title: str
    count: int
    noun: str
    changes: str
    url: str


def compared_with(version):
    """The version a draft is compared with: the published one, else the one it came from."""
    published = (
        ChecklistVersion.objects.with_content()
        .published()
        .filter(procedure_id=version.procedure_id)
        .exclude(pk=version.pk)
        .first()
    )
    if published is None and version.based_on_id:
        published = ChecklistVersion.objects.with_content().get(pk=version.based_on_id)
    return published


def version_diff(version):
    """(the compared version, the diff): `version` comes from `with_content()`."""
    old = compared_with(version)
    return old, diff_versions(old, version)


def _changes_label(counter):
    words = [
        f"{counter[what]} {what}"
        for what in ("changed", "added", "removed")
        if counter[what]
    ]
    return ", ".join(words) or "No changes"


def part_rows(version, diff):
    """One row per section (with its steps), then one per other part, for the version page."""
    by_part = Counter()
    by_section = Counter()
    for what, changes in (
        ("changed", diff.changed),
        ("added", diff.added),
        ("removed", diff.removed),
    ):
        for change in changes:
            if change.kind == "Step":
                by_section[(change.section, what)] += 1
            elif change.kind == "Section":
                by_section[(change.slug, what)] += 1
            else:
                by_part[(change.kind, what)] += 1
    rows = []
    for section in version.sections.all():
        counter = Counter({what: by_section[(section.slug, what)] for what in _WHATS})
        rows.append(
            PartRow(
                f"Section: {section.title}",
                len(section.steps.all()),
                "step",
                _changes_label(counter),
                reverse("admin:checklists_section_change", args=[section.pk]),
            )
        )
    removed_sections = [c for c in diff.removed if c.kind == "Section"]
    for part in PARTS.values():
        if part.kind == "Section":
            counter = Counter(removed=len(removed_sections))
            count = len(version.sections.all())
        else:
            counter = Counter({what: by_part[(part.kind, what)] for what in _WHATS})
            count = len(getattr(version, part.related_name).all())
        rows.append(
            PartRow(
                part.title,
                count,
                "item",
                _changes_label(counter),
                reverse(
                    "admin:checklists_checklistversion_part",
                    args=[version.pk, part.slug],
                ),
            )
        )
    return rows


_WHATS = ("changed", "added", "removed")


def attempts_in_progress_elsewhere(version):
    """Attempts still in progress on the procedure's other versions: they keep their version."""
    return (
        ChecklistVersion.objects.filter(procedure_id=version.procedure_id)
        .exclude(pk=version.pk)
        .aggregate(n=Count("attempts", filter=Q(attempts__outcome="in_progress")))["n"]
    )
