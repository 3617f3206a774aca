"""What changed between two checklist versions, item by item, matched on their stable slugs."""

from dataclasses import dataclass, field

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


@dataclass
class Change:
    kind: str
    slug: str
    label: str
    fields: list = field(default_factory=list)  # (field name, old, new)


@dataclass
class VersionDiff:
    added: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    changed: list = field(default_factory=list)

    @property
    def is_empty(self):
        return not (self.added or self.removed or self.changed)


def _value(item, name):
    value = getattr(item, name)
    if name == "sources":
        return ", ".join(sorted(source.key for source in value.all()))
    if name in {"section", "site"}:
        return getattr(value, "slug", "") if value else ""
    return "" if value is None else str(value)


def _snapshot(version, related_name, names):
    return {
        item.slug: (item, {n: _value(item, n) for n in names})
        for item in getattr(version, related_name).all()
    }


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
                result.added.append(Change(kind, slug, str(item)))
        for slug, (item, values) in before.items():
            if slug not in after:
                result.removed.append(Change(kind, slug, str(item)))
                continue
            new_item, new_values = after[slug]
            changed = [
                (n, values[n], new_values[n])
                for n in names
                if values[n] != new_values[n]
            ]
            if changed:
                result.changed.append(Change(kind, slug, str(new_item), changed))
    return result
