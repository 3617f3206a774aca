"""The loader follows its data file, but never over the hospital's own content."""

import json

import pytest

from checklists.loader import DATA_FILE, load_io_checklist
from checklists.models import ChecklistVersion, Source
from tests.factories import ContentEditorFactory, reference_version, started_attempt

pytestmark = pytest.mark.django_db


def changed_file(tmp_path, change):
    data = json.loads(DATA_FILE.read_text())
    change(data)
    path = tmp_path / "io_checklist.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


def reword_no_rock(data):
    removal = next(s for s in data["sections"] if s["slug"] == "removal")
    step = next(s for s in removal["steps"] if s["slug"] == "rem-no-rock")
    step["text"] = "Never rock the needle while pulling it out"


def test_a_changed_file_publishes_a_new_reference_version(tmp_path):
    old = reference_version()
    attempt = started_attempt(version=old)

    result = load_io_checklist(path=changed_file(tmp_path, reword_no_rock))

    assert result.created
    new = ChecklistVersion.objects.published().get()
    assert new == result.version
    assert new.number == old.number + 1
    assert new.is_reference_content
    assert new.steps.get(slug="rem-no-rock").text.startswith("Never rock")
    old.refresh_from_db()
    assert old.status == ChecklistVersion.Status.RETIRED
    # What a clinician followed stays as it was.
    assert (
        old.steps.get(slug="rem-no-rock").text != new.steps.get(slug="rem-no-rock").text
    )
    attempt.refresh_from_db()
    assert attempt.checklist_version == old


def test_a_changed_file_leaves_a_version_the_hospital_published_alone(tmp_path):
    draft = reference_version().new_draft(author=ContentEditorFactory())
    draft.submit_for_review(by=draft.author)
    draft.publish(by=ContentEditorFactory())

    result = load_io_checklist(path=changed_file(tmp_path, reword_no_rock))

    assert not result.created
    assert ChecklistVersion.objects.published().get() == draft
    assert not draft.steps.filter(text__startswith="Never rock").exists()


def recite(key, citation):
    def change(data):
        row = next(row for row in data["sources"] if row["key"] == key)
        row["citation"] = citation

    return change


def with_uncited_source(citation):
    """The file with one more source, which no item cites."""

    def change(data):
        data["sources"].append(
            {"key": "file-only", "citation": citation, "url": "", "grade": "M"}
        )

    return change


def test_a_changed_citation_leaves_a_source_published_content_cites_alone(tmp_path):
    old = reference_version()
    before = Source.objects.get(key="S9").citation

    load_io_checklist(
        path=changed_file(tmp_path, recite("S9", "MSD Manual, 2026 revision."))
    )

    # What clinicians saw with the old version, and see now, keeps its citation.
    assert Source.objects.get(key="S9").citation == before
    old.refresh_from_db()
    assert old.status in {
        ChecklistVersion.Status.PUBLISHED,
        ChecklistVersion.Status.RETIRED,
    }


def test_a_changed_citation_updates_a_source_no_version_cites(tmp_path):
    reference_version()
    load_io_checklist(path=changed_file(tmp_path, with_uncited_source("Draft A.")))

    def both(data):
        with_uncited_source("Draft B.")(data)

    load_io_checklist(path=changed_file(tmp_path, both))

    assert Source.objects.get(key="file-only").citation == "Draft B."


def test_a_citation_an_editor_corrected_is_kept(tmp_path):
    reference_version()
    load_io_checklist(path=changed_file(tmp_path, with_uncited_source("Draft A.")))
    source = Source.objects.get(key="file-only")
    source.citation = "Corrected by our librarian."
    source.save()

    load_io_checklist(path=changed_file(tmp_path, with_uncited_source("Draft B.")))

    assert Source.objects.get(key="file-only").citation == "Corrected by our librarian."
