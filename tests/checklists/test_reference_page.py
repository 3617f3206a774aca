"""The clinicians' reference page: the published checklist, each item with its citation."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from checklists.models import ChecklistVersion
from tests.factories import (
    ContentEditorFactory,
    SourceFactory,
    StepFactory,
    published_version,
)

REFERENCE = reverse("checklists:reference")


@pytest.mark.django_db
def test_reference_page_shows_the_published_version_with_citations(client, clinician):
    source = SourceFactory()
    version = published_version()
    step = version.steps.get()
    client.force_login(clinician)
    response = client.get(REFERENCE)
    assert response.status_code == 200
    assert step.text in response.text
    assert f"Version {version.number}" in response.text
    assert version.published_at.strftime("%Y") in response.text
    # The citation is a link to the full reference further down the same page.
    assert 'href="#source-seed"' in response.text
    assert 'id="source-seed"' in response.text
    assert source.citation not in response.text  # cited by nothing in this version


@pytest.mark.django_db
def test_loaded_checklist_is_marked_as_reference_content_until_editors_publish(
    client, clinician
):
    from django.core.management import call_command

    call_command("load_io_checklist")
    client.force_login(clinician)
    notice = "Reference content — not yet approved for clinical use at this hospital"
    assert notice in client.get(reverse("attempts:home")).text
    assert notice in client.get(REFERENCE).text

    loaded = ChecklistVersion.objects.published().get()
    draft = loaded.new_draft(author=ContentEditorFactory())
    draft.submit_for_review(by=draft.author)
    draft.publish(by=ContentEditorFactory())
    assert notice not in client.get(reverse("attempts:home")).text
    assert notice not in client.get(REFERENCE).text


@pytest.mark.django_db
def test_reference_page_query_count_does_not_grow_with_content(
    client, clinician, django_assert_num_queries
):
    version = published_version()
    client.force_login(clinician)
    with CaptureQueriesContext(connection) as small:
        client.get(REFERENCE)

    bigger = published_version(procedure=version.procedure)
    section = bigger.sections.get()
    # Published content is immutable: build the larger one as a draft, then publish it.
    draft = bigger.new_draft(author=ContentEditorFactory())
    for _ in range(25):
        StepFactory(section=draft.sections.get(slug=section.slug))
    draft.submit_for_review(by=draft.author)
    draft.publish(by=ContentEditorFactory())

    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(REFERENCE)
    assert response.text.count('class="step step-') == 26


@pytest.mark.django_db
def test_reference_page_without_a_published_version_says_so(client, clinician):
    # The test database carries the reference checklist: take it away, as on a new install.
    ChecklistVersion.objects.all().delete()
    client.force_login(clinician)
    assert "No checklist has been published yet" in client.get(REFERENCE).text


@pytest.mark.django_db
def test_reference_page_explains_the_grades_and_shows_every_caveat(client, clinician):
    from tests.factories import reference_version

    version = reference_version()
    client.force_login(clinician)
    html = client.get(REFERENCE).text
    assert "What the grades mean" in html
    for grade in ("<dt>H</dt>", "<dt>M</dt>", "<dt>L</dt>", "<dt>primary</dt>"):
        assert grade in html
    caveats = [
        item.caveat
        for model in ("steps", "sites", "contraindications", "troubleshooting_items")
        for item in getattr(version, model).exclude(caveat="")
    ]
    assert caveats
    html = html.replace("&#x27;", "'").replace("&quot;", '"')
    for caveat in caveats:
        assert caveat in html


def test_the_needle_table_says_the_deep_tissue_rule_once(client, clinician):
    from tests.factories import reference_version

    deep = reference_version().needle_sizes.get(for_deep_tissue=True)
    assert deep.tissue_note
    assert deep.band_label == deep.tissue_note
    client.force_login(clinician)
    html = client.get(REFERENCE).text
    row = html[html.index(f'<th scope="row">{deep.length_mm} mm</th>') :]
    row = row[: row.index("</tr>")]
    assert row.count(deep.tissue_note) == 1
