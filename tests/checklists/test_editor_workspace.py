"""The editor's workspace: a version's parts with what changed, submitting never drops an edit,
errors listed with links, a confirmation before publishing, and who is signed in."""

import pytest
from django.urls import reverse

from checklists.models import ChecklistVersion
from tests.factories import (
    ContentEditorFactory,
    published_version,
    started_attempt,
)
from tests.forms import form_data


def change_url(version):
    return reverse("admin:checklists_checklistversion_change", args=[version.pk])


def publish_url(version):
    return reverse("admin:checklists_checklistversion_publish", args=[version.pk])


@pytest.fixture
def author():
    return ContentEditorFactory(first_name="Ada", last_name="Author")


@pytest.fixture
def reviewer():
    return ContentEditorFactory(first_name="Rita", last_name="Reviewer")


@pytest.fixture
def published():
    return published_version()


@pytest.fixture
def draft(published, author):
    return published.new_draft(author=author)


def change_step_and_needle(draft):
    step = draft.steps.get()
    step.text = "Changed wording"
    step.save()
    needle = draft.needle_sizes.get()
    needle.tissue_note = "Deep tissue"
    needle.save()
    return step, needle


@pytest.mark.django_db
def test_version_page_lists_its_parts_with_counts_and_changes(client, author, draft):
    change_step_and_needle(draft)
    client.force_login(author)
    page = client.get(change_url(draft))
    assert page.status_code == 200
    text = page.text
    section = draft.sections.get()
    assert f"Section: {section.title}" in text
    assert reverse("admin:checklists_section_change", args=[section.pk]) in text
    for part in ("sites", "needle-sizes", "contraindications", "troubleshooting"):
        assert (
            reverse("admin:checklists_checklistversion_part", args=[draft.pk, part])
            in text
        )
    assert text.count("1 changed") == 2  # the section's step, the needle sizes
    assert "Drafted by Ada Author" in text
    # No item's form on the version's own page: each part has its page.
    assert 'name="steps-' not in text


@pytest.mark.django_db
def test_submit_for_review_saves_the_pages_unsaved_change_first(client, author, draft):
    client.force_login(author)
    data = form_data(client.get(change_url(draft)).text, "checklistversion_form")
    data["change_summary"] = "Typed, never saved on its own"
    data["_submit_for_review"] = "1"
    response = client.post(change_url(draft), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == ChecklistVersion.Status.IN_REVIEW
    assert draft.change_summary == "Typed, never saved on its own"
    page = client.get(change_url(draft))
    assert "Your changes were saved and" in page.text


@pytest.mark.django_db
def test_submit_with_edits_it_cannot_save_is_refused_not_submitted(
    client, author, draft
):
    client.force_login(author)
    response = client.post(
        reverse("admin:checklists_checklistversion_submit", args=[draft.pk]),
        {"change_summary": "an edit this address does not save"},
        follow=True,
    )
    assert "Save your changes first" in response.text
    draft.refresh_from_db()
    assert draft.status == ChecklistVersion.Status.DRAFT
    assert draft.change_summary == ""


@pytest.mark.django_db
def test_errors_are_listed_at_the_top_with_a_link_to_each_field(client, author, draft):
    client.force_login(author)
    section = draft.sections.get()
    url = reverse("admin:checklists_section_change", args=[section.pk])
    data = form_data(client.get(url).text, "section_form")
    data["steps-0-text"] = ""
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Not saved: 1 problem to fix" in response.text
    assert 'href="#id_steps-0-text"' in response.text
    assert "Write the text" in response.text


@pytest.mark.django_db
def test_needle_sizes_can_swap_positions_in_one_save(client, author, draft):
    from tests.factories import NeedleSizeFactory, free_position

    NeedleSizeFactory(
        version=draft,
        slug="pink",
        min_weight_kg=3,
        max_weight_kg=39,
        position=free_position(draft.needle_sizes),
    )
    first, second = draft.needle_sizes.order_by("position")
    client.force_login(author)
    url = reverse(
        "admin:checklists_checklistversion_part", args=[draft.pk, "needle-sizes"]
    )
    data = form_data(client.get(url).text, "checklistversion_form")
    data["needle_sizes-0-position"], data["needle_sizes-1-position"] = (
        data["needle_sizes-1-position"],
        data["needle_sizes-0-position"],
    )
    data["_continue"] = "1"
    response = client.post(url, data)
    assert response.status_code == 302, response.text
    assert list(draft.needle_sizes.order_by("position")) == [second, first]


@pytest.mark.django_db
def test_approve_and_publish_opens_a_confirmation_of_what_changes(
    client, author, reviewer, published, draft
):
    change_step_and_needle(draft)
    draft.change_summary = "Clarify the wording"
    draft.save()
    draft.submit_for_review(by=author)
    started_attempt(version=published)
    client.force_login(reviewer)
    assert publish_url(draft) in client.get(change_url(draft)).text

    page = client.get(publish_url(draft))
    assert page.status_code == 200
    text = page.text
    assert "Ada Author" in text
    assert "Clarify the wording" in text
    assert "1 attempt in progress" in text
    assert f"Step in {draft.sections.get().title}: Changed wording" in text
    assert "Step text" in text
    assert "Tissue note" in text
    assert "tissue_note" not in text
    assert f"Publish version {draft.number}" in text
    draft.refresh_from_db()
    assert (
        draft.status == ChecklistVersion.Status.IN_REVIEW
    )  # opening it publishes nothing

    client.post(publish_url(draft), form_data(text, "publish-form"))
    draft.refresh_from_db()
    assert (draft.status, draft.reviewer) == (
        ChecklistVersion.Status.PUBLISHED,
        reviewer,
    )


@pytest.mark.django_db
def test_the_author_never_reaches_the_confirmation(client, author, draft):
    draft.submit_for_review(by=author)
    client.force_login(author)
    response = client.get(publish_url(draft), follow=True)
    assert "A second editor must approve" in response.text
    assert "Publish version" not in response.text
    client.post(publish_url(draft))
    draft.refresh_from_db()
    assert draft.status == ChecklistVersion.Status.IN_REVIEW


@pytest.mark.django_db
def test_admin_header_names_the_editor_and_their_role(client, author):
    client.force_login(author)
    page = client.get(reverse("admin:index"))
    assert "<strong>Ada Author</strong>" in page.text
    assert "Content editor" in page.text
    assert "Welcome," not in page.text


@pytest.mark.django_db
def test_diff_page_uses_human_labels_and_section_titles(client, author, draft):
    change_step_and_needle(draft)
    client.force_login(author)
    page = client.get(reverse("checklists:version-diff", args=[draft.pk]))
    assert "Tissue note" in page.text
    assert "Step text" in page.text
    assert "tissue_note" not in page.text
    assert f"Step in {draft.sections.get().title}" in page.text


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["section", "part"])
def test_a_page_opened_before_another_save_of_the_draft_does_not_save_over_it(
    client, author, reviewer, draft, page
):
    """Two tabs (or two editors) on one draft: the second save would put back, unseen, what
    the first changed. It is refused with the reason, and the page opened again saves."""
    from checklists.models import CHANGED_SINCE

    if page == "section":
        url = reverse("admin:checklists_section_change", args=[draft.sections.get().pk])
        form_id, field = "section_form", "steps-0-text"
    else:
        url = reverse(
            "admin:checklists_checklistversion_part", args=[draft.pk, "needle-sizes"]
        )
        form_id, field = "checklistversion_form", "needle_sizes-0-tissue_note"
    client.force_login(author)
    tab_a = form_data(client.get(url).text, form_id)
    other = client.__class__()
    other.force_login(reviewer)
    tab_b = form_data(other.get(url).text, form_id)
    assert tab_a["seen_edits"] == tab_b["seen_edits"]

    assert (
        client.post(
            url, {**tab_a, field: "Saved in tab A", "_continue": "1"}
        ).status_code
        == 302
    )
    refused = other.post(url, {**tab_b, field: "Saved in tab B", "_continue": "1"})
    assert refused.status_code == 200
    assert "Not saved: 1 problem to fix" in refused.text
    assert CHANGED_SINCE.replace("'", "&#x27;") in refused.text
    kept = form_data(other.get(url).text, form_id)
    assert kept[field] == "Saved in tab A"
    assert (
        other.post(url, {**kept, field: "Saved in tab B", "_continue": "1"}).status_code
        == 302
    )
    assert form_data(client.get(url).text, form_id)[field] == "Saved in tab B"
