"""What changed between two checklist versions, item by item, matched on their stable slugs."""

from dataclasses import dataclass, field

from django.utils.text import capfirst

# For each kind of item: the related name on the version and the fields an editor can change.
COMPARED = (
    ("Section", "sections", ("title", "position")),
    (
        "Step",
        "steps",
        (
            "section",
            "position",
            "text",
            "detail",
            "caveat",
            "kind",
            "is_critical",
            "population",
            "sources",
        ),
    ),
    (
        "Site",
        "sites",
        (
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
        ),
    ),
    (
        "Contraindication",
        "contraindications",
        (
            "text",
            "region",
            "site",
            "population",
            "severity",
            "caveat",
            "sources",
        ),
    ),
    (
        "Needle size",
        "needle_sizes",
        (
            "length_mm",
            "hub_colour",
            "min_weight_kg",
            "max_weight_kg",
            "for_deep_tissue",
            "tissue_note",
            "caveat",
            "sources",
        ),
    ),
    (
        "Troubleshooting item",
        "troubleshooting_items",
        ("problem", "cause", "action", "caveat", "sources"),
    ),
)


# What an editor reads for a field, where its own name would not do (tissue_note → Tissue note).
FIELD_LABELS = {
    ("Section", "title"): "Section title",
    ("Step", "text"): "Step text",
    ("Step", "detail"): "Step detail",
    ("Step", "kind"): "Kind of step",
    ("Step", "is_critical"): "Critical step",
    ("Contraindication", "text"): "Contraindication text",
    ("Needle size", "min_weight_kg"): "Weight from (kg)",
    ("Needle size", "max_weight_kg"): "Weight to (kg)",
    ("Site", "name"): "Site name",
}


@dataclass
class Change:
    kind: str
    slug: str
    label: str
    fields: list = field(default_factory=list)  # (human label, old, new)
    section: str = ""  # a step's section slug …
    section_title: str = ""  # … and title, as editors know it


def field_label(kind, item, name):
    """The name an editor knows a field by: "Step text", "Tissue note"."""
    if (kind, name) in FIELD_LABELS:
        return FIELD_LABELS[(kind, name)]
    return capfirst(str(item._meta.get_field(name).verbose_name))


@dataclass
class VersionDiff:
    added: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    changed: list = field(default_factory=list)

    @property
    def is_empty(self):
        return not (self.added or self.removed or self.changed)


def _value(item, name):
    """What is compared (a related item's stable slug) and what an editor reads (its title)."""
    value = getattr(item, name)
    if name == "sources":
        keys = ", ".join(sorted(source.key for source in value.all()))
        return keys, keys
    if name in {"section", "site"}:
        return (value.slug, str(value)) if value else ("", "")
    if name in {"kind", "population", "severity", "region", "bone", "drawing"}:
        return value, getattr(item, f"get_{name}_display")()
    if isinstance(value, bool):
        return value, "Yes" if value else "No"
    text = "" if value is None else str(value)
    return text, text


def _snapshot(version, related_name, names):
    return {
        item.slug: (item, {n: _value(item, n) for n in names})
        for item in getattr(version, related_name).all()
    }


def _change(kind, slug, item, fields=None):
    section = getattr(item, "section", None) if kind == "Step" else None
    return Change(
        kind,
        slug,
        str(item),
        fields or [],
        section=section.slug if section else "",
        section_title=str(section) if section else "",
    )


def diff_versions(old, new):
    """Items added, removed and changed from `old` to `new` (old may be None: all added).

    Both versions should come from `ChecklistVersion.objects.with_content()`.
    """
    result = VersionDiff()
    for kind, related_name, names in COMPARED:
        before = _snapshot(old, related_name, names) if old else {}
        after = _snapshot(new, related_name, names)
        for slug, (item, _values) in after.items():
            if slug not in before:
                result.added.append(_change(kind, slug, item))
        for slug, (item, values) in before.items():
            if slug not in after:
                result.removed.append(_change(kind, slug, item))
                continue
            new_item, new_values = after[slug]
            changed = [
                (field_label(kind, new_item, n), values[n][1], new_values[n][1])
                for n in names
                if values[n][0] != new_values[n][0]
            ]
            if changed:
                result.changed.append(_change(kind, slug, new_item, changed))
    return result
