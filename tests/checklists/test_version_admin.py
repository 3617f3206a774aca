"""Editors change drafts in the admin, part by part; errors appear at the field and in a list at
the top; published versions stay read-only."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from checklists.models import ChecklistVersion, Step
from tests.factories import (
    ChecklistVersionFactory,
    ContentEditorFactory,
    NeedleSizeFactory,
    SectionFactory,
    SiteFactory,
    StepFactory,
    free_position,
    published_version,
)
from tests.forms import form_data


def change_url(version):
    return reverse("admin:checklists_checklistversion_change", args=[version.pk])


def section_url(section):
    return reverse("admin:checklists_section_change", args=[section.pk])


def part_url(version, part):
    return reverse("admin:checklists_checklistversion_part", args=[version.pk, part])


def page_of(version, field):
    """The admin page where `field` (a POST name such as steps-0-text) is edited."""
    prefix = field.split("-", 1)[0]
    if prefix == "steps":
        return section_url(version.sections.get()), "section_form"
    part = {"needle_sizes": "needle-sizes", "troubleshooting_items": "troubleshooting"}
    return part_url(version, part.get(prefix, prefix)), "checklistversion_form"


def edit(client, version, **changes):
    """Open the page of the part the changed fields belong to, change them, and save it."""
    url, form_id = page_of(version, next(iter(changes)))
    page = client.get(url)
    assert page.status_code == 200
    data = form_data(page.text, form_id)
    data.update(changes)
    return client.post(url, data)


@pytest.fixture
def draft(editor):
    version = ChecklistVersionFactory(author=editor)
    section = SectionFactory(version=version, slug="removal", title="Removal")
    StepFactory(section=section, slug="rem-no-rock", text="Do not rock the needle")
    NeedleSizeFactory(version=version, min_weight_kg=3, max_weight_kg=39)
    SiteFactory(version=version)
    return version


@pytest.fixture
def signed_in(client, editor):
    client.force_login(editor)
    return client


@pytest.mark.django_db
def test_editor_changes_a_step_of_a_draft(signed_in, draft):
    response = edit(
        signed_in, draft, **{"steps-0-text": "Do not rock or twist the needle"}
    )
    assert response.status_code == 302
    assert draft.steps.get().text == "Do not rock or twist the needle"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("steps-0-text", "x" * 141, "Keep it to 140 characters or fewer"),
        ("steps-0-text", "", "Write the text"),
        ("steps-0-sources", [], "Cite at least one source"),
        ("sites-0-landmarks", "", "Describe the landmarks"),
        (
            "needle_sizes-0-max_weight_kg",
            "2",
            "The band must end at or above where it starts",
        ),
    ],
)
def test_bad_content_gets_a_message_at_the_field_and_nothing_changes(
    signed_in, draft, field, value, message
):
    response = edit(signed_in, draft, **{field: value})
    assert response.status_code == 200
    assert message in response.text
    assert draft.steps.get().text == "Do not rock the needle"
    assert draft.sites.get().landmarks


@pytest.mark.django_db
# Each case draws 100 forms back (seconds): a version's part and a section's steps, both
# through ContentInline's bound, and the sections through SectionInline's.
@pytest.mark.parametrize(
    ("prefix", "count"),
    [("needle_sizes", "99999999"), ("steps", "9" * 30), ("sections", "101")],
)
def test_a_forged_form_count_is_refused_at_the_top_and_nothing_changes(
    signed_in, draft, prefix, count
):
    url, form_id = page_of(draft, prefix)
    data = form_data(signed_in.get(url).text, form_id)
    data[f"{prefix}-TOTAL_FORMS"] = count
    before = (draft.sections.count(), draft.steps.get().text, draft.sites.get().name)

    response = signed_in.post(url, data)

    assert response.status_code == 200
    assert "Please submit at most 100 forms." in response.text
    # The page drew back no more forms than it may build.
    drawn = {int(i) for i in re.findall(rf'name="{prefix}-(\d+)-', response.text)}
    assert len(drawn) <= 100
    assert (
        draft.sections.count(),
        draft.steps.get().text,
        draft.sites.get().name,
    ) == before


@pytest.mark.django_db
def test_overlapping_needle_bands_are_refused_at_the_field(signed_in, draft):
    page = signed_in.get(part_url(draft, "needle-sizes"))
    data = form_data(page.text, "checklistversion_form")
    seed = data["needle_sizes-0-sources"]
    # A free position: the only thing wrong with the new row must be its weight band.
    data.update(
        {
            "needle_sizes-TOTAL_FORMS": "2",
            "needle_sizes-1-position": str(free_position(draft.needle_sizes)),
            "needle_sizes-1-slug": "blue-25mm",
            "needle_sizes-1-length_mm": "25",
            "needle_sizes-1-hub_colour": "blue",
            "needle_sizes-1-min_weight_kg": "39",
            "needle_sizes-1-sources": seed,
            "needle_sizes-1-version": str(draft.pk),
        }
    )
    response = signed_in.post(part_url(draft, "needle-sizes"), data)
    assert response.status_code == 200
    assert "overlaps 15 mm pink (3–39 kg)" in response.text  # noqa: RUF001
    assert draft.needle_sizes.count() == 1


@pytest.mark.django_db
def test_published_version_is_view_only_in_the_admin(signed_in):
    version = published_version()
    page = signed_in.get(change_url(version))
    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert "New draft from this version" in page.text
    response = signed_in.post(change_url(version), {"change_summary": "edited"})
    assert response.status_code == 403
    version.refresh_from_db()
    assert version.change_summary == "Test version"
    # Each part of it opens, to be read, never saved.
    section = version.sections.get()
    step = section.steps.get()
    for url in (section_url(section), part_url(version, "needle-sizes")):
        page = signed_in.get(url)
        assert page.status_code == 200
        assert 'name="_save"' not in page.text
        assert "it can be read, not changed" in page.text
    response = signed_in.post(section_url(section), {"title": "edited"})
    assert response.status_code == 403
    response = signed_in.post(part_url(version, "needle-sizes"), {})
    assert response.status_code == 403
    assert section.steps.get().text == step.text


@pytest.mark.django_db
def test_two_person_workflow_in_the_admin(client, editor):
    published = published_version()
    client.force_login(editor)
    response = client.post(
        reverse("admin:checklists_checklistversion_new_draft", args=[published.pk])
    )
    draft = ChecklistVersion.objects.get(based_on=published)
    assert response["Location"] == change_url(draft)
    assert draft.author == editor

    client.post(reverse("admin:checklists_checklistversion_submit", args=[draft.pk]))
    page = client.get(change_url(draft))
    assert "another editor must approve and publish it" in page.text
    assert "Approve and publish" not in page.text
    client.post(reverse("admin:checklists_checklistversion_publish", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.status == ChecklistVersion.Status.IN_REVIEW

    reviewer = ContentEditorFactory()
    client.force_login(reviewer)
    assert "Approve and publish" in client.get(change_url(draft)).text
    publish_page = client.get(publish_url(draft))
    client.post(publish_url(draft), form_data(publish_page.text, "publish-form"))
    draft.refresh_from_db()
    published.refresh_from_db()
    assert (draft.status, draft.reviewer) == (
        ChecklistVersion.Status.PUBLISHED,
        reviewer,
    )
    assert published.status == ChecklistVersion.Status.RETIRED


@pytest.mark.django_db
@pytest.mark.parametrize("in_review", [False, True])
def test_a_new_draft_is_not_made_from_a_draft_or_a_version_in_review(
    signed_in, draft, in_review
):
    if in_review:
        draft.submit_for_review(by=draft.author)
    page = signed_in.get(change_url(draft))
    assert "New draft from this version" not in page.text
    versions = ChecklistVersion.objects.count()

    url = reverse("admin:checklists_checklistversion_new_draft", args=[draft.pk])
    response = signed_in.post(url, follow=True)

    assert response.redirect_chain[-1][0] == change_url(draft)
    assert "is not published: edit it, or start a new draft" in response.text
    assert ChecklistVersion.objects.count() == versions


def make_steps(version, count):
    section = version.sections.get()
    for _ in range(count):
        StepFactory(section=section)


@pytest.mark.django_db
def test_change_page_query_count_does_not_grow_with_steps(
    signed_in, draft, django_assert_num_queries
):
    url = section_url(draft.sections.get())
    make_steps(draft, 5)
    # What a process reads once (content types, the session's first save) is not per step.
    assert signed_in.get(url).status_code == 200
    with CaptureQueriesContext(connection) as few:
        assert signed_in.get(url).status_code == 200
    make_steps(draft, 30)
    with django_assert_num_queries(len(few.captured_queries)):
        response = signed_in.get(url)
    assert response.text.count('name="steps-') > 30 * 5
    assert Step.objects.filter(version=draft).count() == 36


@pytest.mark.django_db
def test_preview_renders_the_draft_as_clinicians_will_see_it(signed_in, draft):
    response = signed_in.get(reverse("checklists:version-preview", args=[draft.pk]))
    assert response.status_code == 200
    assert "Do not rock the needle" in response.text
    assert f"Preview of version {draft.number}" in response.text


@pytest.mark.django_db
def test_diff_shows_added_removed_and_changed_items(signed_in, editor):
    published = published_version()
    draft = published.new_draft(author=editor)
    step = draft.steps.get()
    step.text = "Changed wording"
    step.save()
    StepFactory(section=draft.sections.get(), slug="brand-new", text="A new step")
    draft.needle_sizes.all().delete()
    response = signed_in.get(reverse("checklists:version-diff", args=[draft.pk]))
    assert response.status_code == 200
    assert "Added (1)" in response.text
    assert "A new step" in response.text
    assert "Changed (1)" in response.text
    assert "Changed wording" in response.text
    assert "<del>Do the thing number" in response.text


@pytest.mark.django_db
def test_each_admin_save_of_a_draft_is_kept_in_its_history(signed_in, draft):
    from reversion.models import Version

    edit(signed_in, draft, **{"steps-0-text": "First wording"})
    edit(signed_in, draft, **{"steps-0-text": "Second wording"})
    step = draft.steps.get()
    kept = [
        v.field_dict["text"]
        for v in Version.objects.get_for_object(step).order_by("pk")
    ]
    assert kept == ["First wording", "Second wording"]
    history = signed_in.get(
        reverse("admin:checklists_checklistversion_history", args=[draft.pk])
    )
    assert history.status_code == 200


def swap_data(client, draft):
    """The section page's data with its two steps' positions swapped."""
    section = draft.sections.get()
    first = draft.steps.get(slug="rem-no-rock")
    second = StepFactory(
        section=section,
        slug="second",
        text="Second step",
        position=free_position(section.steps),
    )
    positions = (first.position, second.position)
    page = client.get(section_url(section))
    data = form_data(page.text, "section_form")
    index = {data[f"steps-{i}-id"]: i for i in range(int(data["steps-TOTAL_FORMS"]))}
    data[f"steps-{index[str(first.pk)]}-position"] = str(positions[1])
    data[f"steps-{index[str(second.pk)]}-position"] = str(positions[0])
    return data, first, second, positions


@pytest.mark.django_db
def test_swapping_two_step_positions_in_one_save_works(signed_in, draft):
    data, first, second, (first_position, second_position) = swap_data(signed_in, draft)
    response = signed_in.post(section_url(draft.sections.get()), data)
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.position, second.position) == (second_position, first_position)


@pytest.mark.django_db
def test_two_steps_at_one_position_are_refused_at_the_field_and_nothing_changes(
    signed_in, draft
):
    data, first, second, (first_position, second_position) = swap_data(signed_in, draft)
    index = {data[f"steps-{i}-id"]: i for i in range(int(data["steps-TOTAL_FORMS"]))}
    data[f"steps-{index[str(first.pk)]}-position"] = str(second_position)
    data[f"steps-{index[str(second.pk)]}-position"] = str(second_position)
    response = signed_in.post(section_url(draft.sections.get()), data)
    assert response.status_code == 200
    assert f"Position {second_position} is used by 2 items here" in response.text
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.position, second.position) == (first_position, second_position)


def publish_url(version):
    return reverse("admin:checklists_checklistversion_publish", args=[version.pk])


@pytest.fixture
def in_review(editor):
    draft = published_version().new_draft(author=editor)
    draft.submit_for_review(by=editor)
    return draft


@pytest.mark.django_db
def test_reviewer_cannot_publish_a_version_resubmitted_after_they_opened_it(
    client, editor, in_review
):
    reviewer = ContentEditorFactory()
    client.force_login(reviewer)
    seen = form_data(client.get(publish_url(in_review)).text, "publish-form")
    # Meanwhile the author takes it back, changes it and submits it again.
    in_review.return_to_draft(by=editor)
    step = in_review.steps.get()
    step.text = "Changed after the reviewer looked"
    step.save()
    in_review.submit_for_review(by=editor)

    response = client.post(publish_url(in_review), seen, follow=True)

    assert "what you reviewed is not what would be published" in response.text
    in_review.refresh_from_db()
    assert in_review.status == ChecklistVersion.Status.IN_REVIEW
    assert ChecklistVersion.objects.published().get() == in_review.based_on
    # Reading the page again shows the change, and then publishing works.
    page = client.get(publish_url(in_review))
    assert "Changed after the reviewer looked" in page.text
    client.post(publish_url(in_review), form_data(page.text, "publish-form"))
    in_review.refresh_from_db()
    assert in_review.status == ChecklistVersion.Status.PUBLISHED


@pytest.mark.django_db
def test_reviewer_cannot_publish_over_a_version_published_after_they_opened_it(
    client, editor, in_review
):
    """Two drafts of the live version; each reviewer's page compares with the live one. The
    first to publish changes what the second would retire: refused until re-read."""
    other = in_review.based_on.new_draft(author=ContentEditorFactory())
    step = other.steps.get()
    step.text = "A fix the second reviewer's page never showed"
    step.save()
    other.submit_for_review(by=other.author)
    reviewer = ContentEditorFactory()
    client.force_login(reviewer)
    seen = form_data(client.get(publish_url(in_review)).text, "publish-form")
    first = ContentEditorFactory()
    client.force_login(first)
    client.post(
        publish_url(other),
        form_data(client.get(publish_url(other)).text, "publish-form"),
    )
    assert ChecklistVersion.objects.published().get() == other

    client.force_login(reviewer)
    response = client.post(publish_url(in_review), seen, follow=True)

    assert "Another version was published after you opened this page" in response.text
    in_review.refresh_from_db()
    assert in_review.status == ChecklistVersion.Status.IN_REVIEW
    assert ChecklistVersion.objects.published().get() == other
    # Read again, the page compares with what is live now; then publishing works.
    page = client.get(publish_url(in_review))
    client.post(publish_url(in_review), form_data(page.text, "publish-form"))
    in_review.refresh_from_db()
    assert in_review.status == ChecklistVersion.Status.PUBLISHED


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reviewed", "message"),
    [
        (None, "publish it from its “Approve and publish” page"),
        ("", "publish it from its “Approve and publish” page"),
        (
            "2001-01-01T00:00:00+00:00",
            "what you reviewed is not what would be published",
        ),
        ("not a time", "what you reviewed is not what would be published"),
    ],
)
def test_a_publish_without_what_the_reviewer_saw_is_refused(
    client, in_review, reviewed, message
):
    client.force_login(ContentEditorFactory())
    data = {} if reviewed is None else {"reviewed": reviewed}

    response = client.post(publish_url(in_review), data, follow=True)

    assert response.status_code == 200
    assert message in response.text
    in_review.refresh_from_db()
    assert in_review.status == ChecklistVersion.Status.IN_REVIEW


@pytest.mark.django_db
def test_an_editor_who_changed_someone_elses_draft_cannot_publish_it(
    client, editor, draft
):
    co_editor = ContentEditorFactory()
    client.force_login(co_editor)
    edit(client, draft, **{"steps-0-text": "Changed by the co-editor alone"})
    client.post(reverse("admin:checklists_checklistversion_submit", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.status == ChecklistVersion.Status.IN_REVIEW

    page = client.get(change_url(draft))
    assert "You changed or submitted this draft" in page.text
    assert "Approve and publish" not in page.text
    refused = client.get(publish_url(draft), follow=True)
    assert "you changed or submitted this draft" in refused.text
    response = client.post(
        publish_url(draft), {"reviewed": draft.review_mark}, follow=True
    )
    assert "you changed or submitted this draft" in response.text
    draft.refresh_from_db()
    assert draft.status == ChecklistVersion.Status.IN_REVIEW

    # An editor who changed nothing reviews it and publishes it.
    reviewer = ContentEditorFactory()
    client.force_login(reviewer)
    page = client.get(publish_url(draft))
    assert "Changed by the co-editor alone" in page.text
    client.post(publish_url(draft), form_data(page.text, "publish-form"))
    draft.refresh_from_db()
    assert (draft.status, draft.reviewer) == (
        ChecklistVersion.Status.PUBLISHED,
        reviewer,
    )


@pytest.mark.django_db
def test_an_editor_who_only_submitted_a_draft_cannot_publish_it(editor, draft):
    co_editor = ContentEditorFactory()
    draft.submit_for_review(by=co_editor)
    with pytest.raises(ValidationError, match="you changed or submitted this draft"):
        draft.publish(by=co_editor)
    draft.refresh_from_db()
    assert draft.status == ChecklistVersion.Status.IN_REVIEW


@pytest.mark.django_db
@pytest.mark.parametrize("length", ["0", "101", "99999999999"])
def test_an_implausible_needle_length_is_refused_at_the_field(signed_in, draft, length):
    needle = draft.needle_sizes.get()

    response = edit(signed_in, draft, **{"needle_sizes-0-length_mm": length})

    assert response.status_code == 200
    assert "at least 1 mm and at most 100 mm long: check the number" in response.text
    assert draft.needle_sizes.get().length_mm == needle.length_mm


INVISIBLE = ["\u200b", "\u200b\u00a0\u2060\ufeff", "\u202e\u200d\t"]


@pytest.mark.django_db
@pytest.mark.parametrize("text", INVISIBLE)
@pytest.mark.parametrize(
    "field",
    ["steps-0-text", "sites-0-landmarks", "sites-0-name", "needle_sizes-0-hub_colour"],
)
def test_text_with_nothing_visible_is_refused_at_the_field(
    signed_in, draft, field, text
):
    before = (draft.steps.get().text, draft.sites.get().landmarks)

    response = edit(signed_in, draft, **{field: text})

    assert response.status_code == 200
    assert "Write text a clinician can read" in response.text
    assert (draft.steps.get().text, draft.sites.get().landmarks) == before
    assert draft.needle_sizes.get().hub_colour == "pink"


@pytest.mark.django_db
def test_every_content_model_refuses_required_text_with_nothing_visible(draft):
    from checklists.models import Source, TroubleshootingItem

    item = TroubleshootingItem(
        version=draft,
        slug="invisible",
        position=1,
        problem="\u200b",
        cause="Needle through the far cortex",
        action="\u2060 \u200b",
    )
    source = Source(key="invisible", citation="\ufeff", grade="H")
    with pytest.raises(ValidationError) as caught:
        item.full_clean()
    assert set(caught.value.message_dict) == {"problem", "action"}
    with pytest.raises(ValidationError) as caught:
        source.full_clean()
    assert "Write text a clinician can read" in caught.value.message_dict["citation"][0]
