"""Load the reference IO checklist from `content/io_checklist.json` (written from clinical-content.md).

Idempotent: an unchanged file changes nothing. While the published version is still the loader's
own reference content, a changed file publishes a new reference version (the old one retired;
attempts keep theirs). A version published by the hospital's editors is never touched, and nor is
a citation an editor corrected in the admin. The loaded version is published as *reference
content* so the demo works.
"""

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.db import transaction

from checklists.models import (
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

DATA_FILE = Path(__file__).resolve().parent / "content" / "io_checklist.json"


@dataclass(frozen=True)
class LoadResult:
    version: ChecklistVersion
    created: bool
    message: str


def load_io_checklist(*, path=DATA_FILE):
    """Publish the file's content as a new reference version, unless nothing is to be done."""
    raw = Path(path).read_bytes()
    data = json.loads(raw)
    digest = hashlib.sha256(raw).hexdigest()
    with transaction.atomic():
        sources = _load_sources(data["sources"])
        procedure, _ = Procedure.objects.get_or_create(
            slug=data["procedure"]["slug"], defaults={"name": data["procedure"]["name"]}
        )
        # Lock the procedure, then its versions: two loaders at once must not both publish,
        # and the procedure first, in the order publish() locks, so a loader and an editor
        # publishing at once wait for each other instead of deadlocking.
        Procedure.objects.select_for_update().get(pk=procedure.pk)
        versions = list(
            ChecklistVersion.objects.select_for_update().filter(procedure=procedure)
        )
        published = next(
            (v for v in versions if v.status == ChecklistVersion.Status.PUBLISHED), None
        )
        if published and not published.is_reference_content:
            return LoadResult(
                published,
                False,
                f"{published} was published by the hospital's editors; reference content left alone.",
            )
        if published and published.content_digest == digest:
            return LoadResult(published, False, f"{published} is up to date.")
        version = ChecklistVersion.objects.create(
            procedure=procedure,
            number=max((v.number for v in versions), default=0) + 1,
            change_summary=data["version"]["change_summary"],
            content_digest=digest,
        )
        _fill(version, data, sources)
        version.publish(by=None, as_reference=True)
    return LoadResult(
        version, True, f"Loaded and published {version} as reference content."
    )


def _load_sources(rows):
    sources = {}
    for row in rows:
        wanted = {"citation": row["citation"], "url": row["url"], "grade": row["grade"]}
        source, created = Source.objects.select_for_update().get_or_create(
            key=row["key"], defaults={**wanted, "loaded_digest": _digest(wanted)}
        )
        # The loader owns a row only while it still holds what the loader last wrote: an
        # editor's correction in the admin is kept.
        current = {name: getattr(source, name) for name in wanted}
        # …and only while no version past draft cites it: what clinicians see, or saw,
        # keeps its citation (a corrected citation is a new key in the file).
        if (
            not created
            and current != wanted
            and source.loaded_digest == _digest(current)
            and not source.citing_versions()
        ):
            for name, value in wanted.items():
                setattr(source, name, value)
            source.loaded_digest = _digest(wanted)
            source.full_clean()
            source.save()
        sources[source.key] = source
    return sources


def _digest(values):
    return hashlib.sha256(
        json.dumps(values, sort_keys=True).encode("utf-8")
    ).hexdigest()


def _save(item, source_keys, sources):
    item.full_clean()
    item.save()
    if not source_keys:
        raise ValueError(f"{item} has no source in the content file.")
    item.sources.set([sources[key] for key in source_keys])
    return item


def _fill(version, data, sources):
    for s_index, section_data in enumerate(data["sections"], start=1):
        section = Section(
            version=version,
            slug=section_data["slug"],
            title=section_data["title"],
            position=s_index * 10,
        )
        section.full_clean()
        section.save()
        for index, row in enumerate(section_data["steps"], start=1):
            step = Step(
                version=version,
                section=section,
                slug=row["slug"],
                position=index * 10,
                text=row["text"],
                detail=row.get("detail", ""),
                caveat=row.get("caveat", ""),
                kind=row["kind"],
                is_critical=row["critical"],
                population=row["population"],
            )
            _save(step, row["sources"], sources)
    sites = {}
    for index, row in enumerate(data["sites"], start=1):
        site = Site(
            version=version,
            slug=row["slug"],
            position=index * 10,
            name=row["name"],
            bone=row["bone"],
            for_adults="adult" in row["populations"],
            for_children="child" in row["populations"],
            positioning=row["positioning"],
            landmarks=row["landmarks"],
            notes=row.get("notes", ""),
            caveat=row.get("caveat", ""),
            drawing=row.get("drawing", ""),
        )
        sites[site.slug] = _save(site, row["sources"], sources)
    for index, row in enumerate(data["contraindications"], start=1):
        item = Contraindication(
            version=version,
            slug=row["slug"],
            position=index * 10,
            text=row["text"],
            site=sites[row["site"]] if row["site"] else None,
            region=row.get("region", Contraindication.Region.ANY),
            population=row.get("population", "all"),
            severity=row["severity"],
            caveat=row.get("caveat", ""),
        )
        _save(item, row["sources"], sources)
    for index, row in enumerate(data["needle_sizes"], start=1):
        item = NeedleSize(
            version=version,
            slug=row["slug"],
            position=index * 10,
            length_mm=row["length_mm"],
            hub_colour=row["hub_colour"],
            min_weight_kg=_decimal(row["min_weight_kg"]),
            max_weight_kg=_decimal(row["max_weight_kg"]),
            for_deep_tissue=row["for_deep_tissue"],
            tissue_note=row.get("tissue_note", ""),
            caveat=row.get("caveat", ""),
        )
        _save(item, row["sources"], sources)
    for index, row in enumerate(data["troubleshooting"], start=1):
        item = TroubleshootingItem(
            version=version,
            slug=row["slug"],
            position=index * 10,
            problem=row["problem"],
            cause=row["cause"],
            action=row["action"],
            caveat=row.get("caveat", ""),
        )
        _save(item, row["sources"], sources)


def _decimal(value):
    return None if value is None else Decimal(str(value))
