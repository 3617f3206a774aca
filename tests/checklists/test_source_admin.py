"""Citations are shared by versions: one that content past draft cites cannot be changed or
deleted, in the admin or anywhere else; new sources, and sources only drafts cite, stay editable."""

import pytest
from django.urls import reverse

from checklists.models import ChecklistVersion, ImmutableContentError, Source
from tests.factories import (
    ChecklistVersionFactory,
    ContentEditorFactory,
    SectionFactory,
    SiteFactory,
    SourceFactory,
    StepFactory,
    published_version,
)
from tests.forms import form_data

STATES = ["in_review", "published", "retired"]


def version_citing(source, state):
    """A version in `state` whose site cites `source`."""
    if state == "retired":
        old = version_citing(source, "published")
        newer = old.new_draft(author=ContentEditorFactory())
        newer.sites.get().sources.set([SourceFactory()])
        newer.submit_for_review(by=newer.author)
        newer.publish(by=ContentEditorFactory())
        old.refresh_from_db()
        return old
    version = ChecklistVersionFactory()
    StepFactory(section=SectionFactory(version=version))
    SiteFactory(version=version, sources=[source])
    version.submit_for_review(by=version.author)
    if state == "published":
        version.publish(by=ContentEditorFactory())
    return version


def change_url(source):
    return reverse("admin:checklists_source_change", args=[source.pk])


@pytest.fixture
def signed_in(client, editor):
    client.force_login(editor)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("state", STATES)
def test_editor_cannot_change_a_source_that_content_past_draft_cites(signed_in, state):
    source = SourceFactory()
    version = version_citing(source, state)
    assert version.status == state
    citation = source.citation

    page = signed_in.get(change_url(source))
    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert f"Source {source.key} is cited by version {version.number}" in page.text
    assert "add a new source and cite it in a new draft" in page.text

    response = signed_in.post(
        change_url(source),
        {"key": source.key, "citation": "Made up", "grade": "H", "url": ""},
    )
    assert response.status_code == 403
    source.refresh_from_db()
    assert source.citation == citation


@pytest.mark.django_db
def test_a_source_published_content_cites_refuses_to_be_saved_or_deleted():
    source = SourceFactory()
    version_citing(source, "published")
    source.citation = "Rewritten behind the editors' backs"
    with pytest.raises(ImmutableContentError, match="cannot be changed"):
        source.save()
    with pytest.raises(ImmutableContentError, match="cannot be deleted"):
        source.delete()
    with pytest.raises(ImmutableContentError):
        Source.objects.filter(pk=source.pk).delete()
    source.refresh_from_db()
    assert source.citation != "Rewritten behind the editors' backs"


@pytest.mark.django_db
def test_superuser_cannot_delete_a_cited_source_in_the_admin(client, superuser):
    source = SourceFactory()
    version_citing(source, "published")
    client.force_login(superuser)

    url = reverse("admin:checklists_source_delete", args=[source.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    bulk = client.post(
        reverse("admin:checklists_source_changelist"),
        {"action": "delete_selected", "_selected_action": [source.pk], "post": "yes"},
    )
    assert bulk.status_code == 403
    assert Source.objects.filter(pk=source.pk).exists()


@pytest.mark.django_db
def test_editor_changes_a_source_only_a_draft_cites(signed_in):
    source = SourceFactory()
    draft = ChecklistVersionFactory()
    SiteFactory(version=draft, sources=[source])
    assert draft.status == ChecklistVersion.Status.DRAFT
    data = form_data(signed_in.get(change_url(source)).text, "source_form")
    data["citation"] = "Corrected before review."

    response = signed_in.post(change_url(source), data)

    assert response.status_code == 302
    source.refresh_from_db()
    assert source.citation == "Corrected before review."


@pytest.mark.django_db
def test_editor_adds_a_new_source(signed_in):
    response = signed_in.post(
        reverse("admin:checklists_source_add"),
        {"key": "new-src", "citation": "A new guideline, 2026.", "grade": "H"},
    )
    assert response.status_code == 302
    assert Source.objects.get(key="new-src").citation == "A new guideline, 2026."


@pytest.mark.django_db
def test_published_content_keeps_its_citation_on_the_reference_page(
    client, clinician, editor
):
    published = published_version()
    source = published.sites.get().sources.get()
    client.force_login(editor)
    client.post(
        change_url(source),
        {"key": source.key, "citation": "Made up", "grade": "H", "url": ""},
    )
    client.force_login(clinician)
    page = client.get(reverse("checklists:reference"))
    assert page.status_code == 200
    assert "Made up" not in page.text
