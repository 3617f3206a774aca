"""The "Why / source" blocks of a card are drawn once per item of a published version (#14),
and the unbound forms the version alone decides (a limb's screen, the list of needles) once per
version and limb: what the clinician sees is what a fresh drawing shows, a draft's change shows
at once, and two versions, limbs or patients never show each other's; a source renamed in the
admin shows once the kept content is read again."""

import re
import uuid

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from attempts.stages import StageContent
from attempts.templatetags.bay import WHY_TEMPLATE
from checklists.models import ImmutableContentError
from tests.attempts.conftest import site
from tests.factories import (
    ChecklistVersionFactory,
    ContentEditorFactory,
    EpisodeFactory,
    NeedleSizeFactory,
    SectionFactory,
    SiteFactory,
    SourceFactory,
    StepFactory,
    published_version,
)
from tests.forms import read_field

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


# Unbound forms that the version alone decides (bay.drawn_once): the screen's boxes for a limb,
# the needle card's list of every needle.


def screen_boxes(html):
    """(values shown, values ticked) of the screen card's boxes."""
    shown = re.findall(r'name="present" value="(\d+)"', html)
    return shown, read_field(html, "screen-present")[2]


def at_screen(tap, attempt, site_pk, side="left"):
    tap(attempt, "indication")
    return tap(attempt, "site", site=site_pk, side=side).text


def test_screen_boxes_follow_the_limb_and_the_earlier_attempts(
    tap, clinician, bay, version
):
    humerus = site(version, "proximal-humerus-adult")
    tibia = site(version, "proximal-tibia-adult")
    earlier_io = str(version.contraindications.get(slug="earlier-io-same-bone").pk)

    first = attempt_on(version, clinician, bay)
    shown, ticked = screen_boxes(at_screen(tap, first, humerus.pk))
    assert earlier_io in shown
    assert ticked == []

    tap(first, "outcome", outcome="failed", reason="Dislodged")
    second = first.episode.start_attempt(
        by=clinician, version=version, client_token=uuid.uuid4(), after=1
    )
    assert screen_boxes(at_screen(tap, second, humerus.pk)) == (shown, [earlier_io])

    other_patient = attempt_on(version, clinician, bay)
    assert screen_boxes(at_screen(tap, other_patient, humerus.pk)) == (shown, [])

    elsewhere = attempt_on(version, clinician, bay)
    tibia_shown, _ = screen_boxes(at_screen(tap, elsewhere, tibia.pk))
    assert tibia_shown == [
        str(item.pk)
        for item in version.contraindications.order_by("position")
        if item.applies_to(tibia, "adult")
    ]
    assert tibia_shown != shown


def needle_choices(html):
    return re.findall(r'name="needle" value="(\d+)"[^>]*>\s*([^<]*)</label>', html)


def needle_card(tap, attempt):
    tap(attempt, "indication")
    site_pk = attempt.checklist_version.sites.filter(for_adults=True).first().pk
    tap(attempt, "site", site=site_pk, side="left")
    return tap(attempt, "screen").text


def test_needle_list_is_the_attempts_own_versions(tap, clinician, bay, version):
    own = needle_choices(needle_card(tap, attempt_on(version, clinician, bay)))
    assert [pk for pk, _ in own] == [
        str(pk)
        for pk in version.needle_sizes.order_by("position").values_list("pk", flat=True)
    ]

    newer = published_version()
    theirs = needle_choices(needle_card(tap, attempt_on(newer, clinician, bay)))
    assert [pk for pk, _ in theirs] == [
        str(pk)
        for pk in newer.needle_sizes.order_by("position").values_list("pk", flat=True)
    ]
    assert not set(own) & set(theirs)
    assert needle_choices(needle_card(tap, attempt_on(version, clinician, bay))) == own


def test_a_drafts_needle_change_shows_at_once(tap, clinician, bay):
    draft = ChecklistVersionFactory()
    SiteFactory(version=draft, for_adults=True)
    needle = NeedleSizeFactory(version=draft, length_mm=25, hub_colour="blue")
    attempt = attempt_on(draft, clinician, bay)
    before = needle_choices(needle_card(tap, attempt))
    assert any("25 mm" in label for _, label in before)

    needle.length_mm = 45
    needle.save()
    tap(attempt, "outcome", outcome="abandoned", reason="Test of a draft")
    again = attempt_on(draft, clinician, bay)
    after = needle_choices(needle_card(tap, again))
    assert any("45 mm" in label for _, label in after)
    assert not any("25 mm" in label for _, label in after)


def pressed(html):
    """{step id: whether its check shows as ticked} on a check card."""
    return {
        step: state == "true"
        for step, state in re.findall(
            r'name="step" value="(\d+)">\s*(?:<input[^>]*>\s*)?'
            r'<button type="submit" class="check-toggle" aria-pressed="(true|false)"',
            html,
        )
    }


def test_a_tick_shows_on_its_own_attempt_only(client, tap, clinician, bay, version):
    blue = version.needle_sizes.get(hub_colour="blue").pk
    first, second = (attempt_on(version, clinician, bay) for _ in range(2))
    for attempt in (first, second):
        needle_card(tap, attempt)
        tap(attempt, "needle", needle=blue, tissue="normal")
    step = str(version.steps.filter(section__slug="preparation", kind="check")[0].pk)

    ticked = pressed(tap(first, "check", step=step, checked="on").text)
    assert ticked[step] is True
    assert sum(ticked.values()) == 1
    other = pressed(page(client, second))
    assert set(other) == set(ticked)
    assert not any(other.values())

    assert not any(pressed(tap(first, "check", step=step).text).values())


def test_a_source_the_bay_cites_cannot_be_renamed_under_it(client, clinician, bay):
    """The bay links each item to its sources on the reference page by key: a source that
    published content cites is part of that content, so its key cannot change and the
    bay's link never points at a key that is gone."""
    version = publish(indication_version("Shocked, no vein in 90 s.", key="S-before"))
    attempt = attempt_on(version, clinician, bay)
    client.force_login(clinician)
    assert "#source-S-before" in page(client, attempt)

    source = version.steps.get().sources.get()
    source.key = "S-after"
    with pytest.raises(ImmutableContentError):
        source.save()
    assert "#source-S-before" in page(client, attempt)
