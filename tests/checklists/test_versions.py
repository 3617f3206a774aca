"""Versions: one published per procedure, immutable once published, two people to publish."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from checklists.models import ChecklistVersion, ImmutableContentError, NeedleSize
from tests.factories import (
    ChecklistVersionFactory,
    ContentEditorFactory,
    NeedleSizeFactory,
    SectionFactory,
    StepFactory,
    free_position,
    published_version,
)

PUBLISHED = ChecklistVersion.Status.PUBLISHED


@pytest.mark.django_db
def test_database_refuses_a_second_published_version_of_a_procedure():
    first = published_version()
    second = ChecklistVersionFactory(procedure=first.procedure)
    # Bypass every model method: the database itself must say no.
    with pytest.raises(IntegrityError), transaction.atomic():
        ChecklistVersion.objects.filter(pk=second.pk).update(
            status=PUBLISHED, published_at=timezone.now()
        )
    assert first.procedure.versions.published().get() == first


@pytest.mark.django_db
def test_published_version_refuses_to_be_saved_or_deleted():
    version = published_version()
    version.change_summary = "Sneaky edit"
    with pytest.raises(ImmutableContentError):
        version.save()
    with pytest.raises(ImmutableContentError):
        version.delete()
    version.refresh_from_db()
    assert version.change_summary == "Test version"


@pytest.mark.django_db
def test_items_of_a_published_version_refuse_changes():
    version = published_version()
    step = version.steps.get()
    step.text = "Changed after publishing"
    with pytest.raises(ImmutableContentError):
        step.save()
    with pytest.raises(ImmutableContentError):
        step.delete()
    with pytest.raises(ImmutableContentError):
        StepFactory(section=version.sections.get())
    assert version.steps.get().text != "Changed after publishing"


@pytest.mark.django_db
def test_retired_version_stays_immutable():
    first = published_version()
    draft = first.new_draft(author=ContentEditorFactory())
    draft.submit_for_review(by=draft.author)
    draft.publish(by=ContentEditorFactory())
    first.refresh_from_db()
    assert first.status == ChecklistVersion.Status.RETIRED
    step = first.steps.get()
    step.text = "Rewrite history"
    with pytest.raises(ImmutableContentError):
        step.save()


@pytest.mark.django_db
def test_author_cannot_publish_their_own_draft():
    draft = ChecklistVersionFactory()
    StepFactory(section=SectionFactory(version=draft))
    draft.submit_for_review(by=draft.author)
    with pytest.raises(ValidationError, match="second editor must approve"):
        draft.publish(by=draft.author)
    draft.refresh_from_db()
    assert draft.status == ChecklistVersion.Status.IN_REVIEW


@pytest.mark.django_db
def test_second_editor_publishes_and_the_previous_version_retires_in_one_step():
    first = published_version()
    author, reviewer = ContentEditorFactory(), ContentEditorFactory()
    draft = first.new_draft(author=author)
    draft.submit_for_review(by=author)
    draft.publish(by=reviewer)
    first.refresh_from_db()
    assert (first.status, draft.status) == (ChecklistVersion.Status.RETIRED, PUBLISHED)
    assert draft.reviewer == reviewer
    assert first.retired_at == draft.published_at


@pytest.mark.django_db
def test_a_draft_cannot_skip_review():
    draft = ChecklistVersionFactory()
    StepFactory(section=SectionFactory(version=draft))
    with pytest.raises(ValidationError, match="in review"):
        draft.publish(by=ContentEditorFactory())


@pytest.mark.django_db
def test_new_draft_copies_the_whole_tree_with_sources():
    first = published_version()
    draft = first.new_draft(author=ContentEditorFactory())
    assert draft.number == first.number + 1
    assert draft.status == ChecklistVersion.Status.DRAFT
    original, copy = first.steps.get(), draft.steps.get()
    assert copy.pk != original.pk
    assert (copy.slug, copy.text, copy.section.slug) == (
        original.slug,
        original.text,
        original.section.slug,
    )
    assert copy.section.version == draft
    assert list(copy.sources.all()) == list(original.sources.all())


@pytest.mark.django_db
def test_overlapping_weight_band_is_rejected_at_the_field():
    version = ChecklistVersionFactory()
    NeedleSizeFactory(version=version, min_weight_kg=3, max_weight_kg=39)
    overlapping = NeedleSize(
        version=version,
        slug="blue",
        position=free_position(version.needle_sizes),
        length_mm=25,
        hub_colour="blue",
        min_weight_kg=Decimal(39),
    )
    with pytest.raises(ValidationError) as caught:
        overlapping.full_clean()
    assert "overlaps" in caught.value.message_dict["min_weight_kg"][0]


@pytest.mark.django_db
def test_adjacent_weight_bands_are_accepted():
    version = ChecklistVersionFactory()
    NeedleSizeFactory(version=version, min_weight_kg=3, max_weight_kg=39)
    NeedleSize(
        version=version,
        slug="blue",
        position=free_position(version.needle_sizes),
        length_mm=25,
        hub_colour="blue",
        min_weight_kg=Decimal(40),
    ).full_clean()


@pytest.mark.django_db
def test_submitting_a_version_with_an_unsourced_item_is_refused():
    draft = ChecklistVersionFactory()
    StepFactory(section=SectionFactory(version=draft), sources=[])
    with pytest.raises(ValidationError, match="has no source"):
        draft.submit_for_review(by=draft.author)
