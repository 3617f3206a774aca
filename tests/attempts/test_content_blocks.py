"""The "Why / source" blocks of a card are drawn once per item of a published version (#14):
what the clinician sees is what a fresh drawing shows, a draft's change shows at once, and two
versions never show each other's blocks."""

import uuid

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from attempts.stages import StageContent
from attempts.templatetags.bay import WHY_TEMPLATE
from tests.factories import (
    ChecklistVersionFactory,
    ContentEditorFactory,
    EpisodeFactory,
    SectionFactory,
    SourceFactory,
    StepFactory,
)

pytestmark = pytest.mark.django_db


def indication_version(detail, *, key="S1"):
    """A draft whose indication card shows one information step with `detail`, citing source `key`."""
    version = ChecklistVersionFactory()
    StepFactory(
        section=SectionFactory(version=version, slug="indication"),
        kind="info",
        text="Consider IO access",
        detail=detail,
        sources=[SourceFactory(key=key)],
    )
    return version


def publish(version):
    version.submit_for_review(by=version.author)
    return version.publish(by=ContentEditorFactory())


def attempt_on(version, clinician, bay):
    episode = EpisodeFactory(location=bay, created_by=clinician)
    return episode.start_attempt(
        by=clinician, version=version, client_token=uuid.uuid4()
    )


def page(client, attempt):
    response = client.get(reverse("attempts:attempt-detail", args=[attempt.public_id]))
    assert response.status_code == 200
    return response.text


def fresh_why(step):
    """The block as the include draws it, with nothing kept."""
    return render_to_string(
        WHY_TEMPLATE,
        {
            "item": step,
            "detail": step.detail,
            "reference_url": reverse("checklists:reference"),
        },
    )


def test_clinician_sees_the_same_block_as_a_fresh_drawing(client, clinician, bay):
    version = publish(indication_version("Shocked, no vein in 90 s."))
    step = version.steps.get()
    attempt = attempt_on(version, clinician, bay)
    client.force_login(clinician)

    first, second = page(client, attempt), page(client, attempt)

    block = fresh_why(step)
    assert "Shocked, no vein in 90 s." in block
    assert block in first
    assert block in second


def test_published_block_is_drawn_once_and_kept_with_its_version(
    client, clinician, bay
):
    version = publish(indication_version("Kept detail"))
    attempt = attempt_on(version, clinician, bay)
    client.force_login(clinician)
    page(client, attempt)

    kept = StageContent.load(attempt, now=None).blocks
    assert len(kept) == 1
    assert "Kept detail" in next(iter(kept.values()))


def test_clinician_sees_a_draft_change_at_once(client, clinician, bay):
    version = indication_version("Before the edit")
    attempt = attempt_on(version, clinician, bay)
    client.force_login(clinician)
    assert "Before the edit" in page(client, attempt)

    # The caveat is not among what a block is looked up by: only a fresh drawing shows it.
    step = version.steps.get()
    step.caveat = "Sources differ on the time limit"
    step.save()

    assert "Sources differ on the time limit" in page(client, attempt)


def test_two_published_versions_never_share_a_block(client, clinician, bay):
    older = publish(indication_version("Older detail", key="S-old"))
    older_attempt = attempt_on(older, clinician, bay)
    client.force_login(clinician)
    assert "Older detail" in page(client, older_attempt)

    newer = publish(indication_version("Newer detail", key="S-new"))
    newer_page = page(client, attempt_on(newer, clinician, bay))
    older_page = page(client, older_attempt)

    assert "Newer detail" in newer_page
    assert "S-new" in newer_page
    assert "Older detail" not in newer_page
    assert "Older detail" in older_page
    assert "Newer detail" not in older_page


def test_block_text_is_escaped(client, clinician, bay):
    version = publish(indication_version("<script>alert(1)</script> & more"))
    client.force_login(clinician)

    shown = page(client, attempt_on(version, clinician, bay))

    assert "<script>alert(1)</script>" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in shown
