"""What the bay's cards show of the checklist: the right items for this patient and limb, each
with its caveat on the card and its sources one tap away, and the notice where the content is not
approved."""

import re
import uuid
from html import escape
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from attempts.flow import Stage
from checklists import drawings
from tests.attempts.conftest import site
from tests.factories import ContentEditorFactory, EpisodeFactory, walk

pytestmark = pytest.mark.django_db


def attempt_for(clinician, bay, version, age_group, weight=20):
    episode = EpisodeFactory(
        location=bay, created_by=clinician, age_group=age_group, weight_kg=weight
    )
    return episode.start_attempt(
        by=clinician, version=version, client_token=uuid.uuid4()
    )


def offered(html):
    """The contraindications the screen asks about: the labels of its boxes."""
    return set(re.findall(r'<label for="screen-present_\d+">([^<]*?)\s*<span', html))


@pytest.fixture
def card(client, clinician):
    client.force_login(clinician)

    def get(attempt):
        return client.get(
            reverse("attempts:attempt-detail", args=[attempt.public_id])
        ).text

    return get


@pytest.mark.parametrize(
    ("age_group", "site_slug", "asked", "not_asked"),
    [
        # An abdominal or IVC injury rules out every leg site, not only the tibia [S9][S11].
        ("adult", "distal-tibia-adult", {"abdominal-or-ivc-injury"}, set()),
        ("child", "distal-femur-child", {"abdominal-or-ivc-injury"}, set()),
        ("adult", "proximal-humerus-adult", set(), {"abdominal-or-ivc-injury"}),
        # The children's wound-or-fracture rule [S12] is asked for children only.
        ("child", "proximal-tibia-child", {"below-wound-or-fracture-child"}, set()),
        ("adult", "proximal-tibia-adult", set(), {"below-wound-or-fracture-child"}),
        # Proximal vascular injury of the limb [S11], everywhere.
        ("adult", "proximal-humerus-adult", {"proximal-vascular-injury"}, set()),
    ],
)
def test_the_screen_asks_what_applies_to_this_patient_and_limb(
    tap, card, clinician, bay, version, age_group, site_slug, asked, not_asked
):
    attempt = attempt_for(clinician, bay, version, age_group)
    tap(attempt, "indication")
    tap(attempt, "site", site=site(version, site_slug).pk, side="left")
    texts = offered(card(attempt))
    items = {c.slug: c.text for c in version.contraindications.all()}
    assert {items[slug] for slug in asked} <= texts
    assert not {items[slug] for slug in not_asked} & texts
    # And the server's rule is the same: an item not asked cannot be ticked.
    for slug in not_asked:
        refused = tap(
            attempt,
            "screen",
            present=[version.contraindications.get(slug=slug).pk],
            override_reason="x",
        )
        assert refused.status_code == 422


def test_every_item_on_a_card_carries_its_sources_and_caveat(
    tap, card, attempt, version
):
    tap(attempt, "indication")
    tap(attempt, "site", site=site(version, "proximal-tibia-adult").pk, side="left")
    tap(attempt, "screen")
    tap(
        attempt,
        "needle",
        needle=version.needle_sizes.get(hub_colour="blue").pk,
        tissue="normal",
    )
    html = card(attempt)
    steps = [
        s
        for s in version.steps.filter(section__slug="preparation")
        if s.applies_to("adult")
    ]
    assert steps
    for step in steps:
        block = html[html.index(escape(step.text)) :]
        why = block[: block.index("</details>")]
        assert "Why / source" in why
        for source in step.sources.all():
            assert f'aria-label="Source {source.key}"' in why
        if step.caveat:
            # On the card, not behind the disclosure.
            caveat = why.index(escape(step.caveat))
            assert caveat < why.index("<details")


def test_the_screen_shows_its_sections_steps_and_each_items_caveat(
    tap, card, attempt, version
):
    tap(attempt, "indication")
    tap(attempt, "site", site=site(version, "proximal-tibia-adult").pk, side="left")
    html = card(attempt)
    assert "Contraindication screen" in html
    steps = list(version.steps.filter(section__slug="contraindications"))
    assert any(step.is_critical and step.caveat for step in steps)
    for step in steps:
        assert escape(step.text) in html
        if step.caveat:
            assert escape(step.caveat) in html
    for item in version.contraindications.exclude(caveat=""):
        if escape(item.text) in html:
            block = html[html.index(escape(item.text)) :]
            assert escape(item.caveat) in block[: block.index("</details>")]


def test_the_site_card_draws_each_site_with_its_landmarks_behind_how_to_find_it(
    tap, card, clinician, bay, version
):
    attempt = attempt_for(clinician, bay, version, "child")
    tap(attempt, "indication")
    html = card(attempt)
    sites = [s for s in version.sites.all() if s.for_children]
    for item in sites:
        assert item.drawing, item
        assert f'alt="{escape(item.drawing_alt)}"' in html
        assert f"/static/img/sites/{item.drawing}.svg" in html
        assert escape(item.landmarks) in html
    assert html.count("How to find it") == len(sites)


def test_every_drawing_a_site_can_name_exists_as_a_small_clean_svg():
    folder = Path(settings.BASE_DIR) / "static"
    for key in drawings.DRAWINGS:
        svg = (folder / drawings.static_path(key)).read_text()
        assert svg.startswith("<svg")
        assert "<title>" in svg
        assert not re.search(r"<script|style=|<style|href", svg), key
        assert len(svg.encode()) < 4096


def test_a_pre_ticked_yes_makes_another_site_the_primary_button(
    tap, card, attempt, version
):
    humerus = site(version, "proximal-humerus-adult").pk
    tap(attempt, "indication")
    tap(attempt, "site", site=humerus, side="left")
    html = card(attempt)
    assert re.search(r'class="button button-secondary"[^>]*>Choose another site', html)
    tap(attempt, "outcome", outcome="failed", reason="Dislodged")
    attempt.refresh_from_db()
    nxt = attempt.episode.start_attempt(
        by=attempt.operator,
        version=version,
        client_token=uuid.uuid4(),
        after=attempt.number,
    )
    tap(nxt, "indication")
    tap(nxt, "site", site=humerus, side="left")
    html = card(nxt)
    # The earlier IO in this bone is pre-ticked: going elsewhere is the first choice.
    assert re.search(r'class="button button-primary"[^>]*>Choose another site', html)
    assert re.search(r'class="button button-secondary"[^>]*>Use this site', html)


@pytest.mark.parametrize(
    ("age_group", "growth_plate"), [("adult", False), ("child", True)]
)
def test_removal_offers_the_complications_only(
    client, clinician, bay, version, age_group, growth_plate
):
    attempt = walk(attempt_for(clinician, bay, version, age_group), to=Stage.AFTERCARE)
    client.force_login(clinician)
    html = client.get(
        reverse("attempts:attempt-removal", args=[attempt.public_id])
    ).text
    boxes = re.findall(
        r'<label for="removal-complications_\d+">(?:<input[^>]*>)?\s*([^<]*)</label>',
        html,
    )
    section = version.steps.filter(section__slug="complications")
    overview = section.get(slug="comp-overview")
    assert overview.text not in [b.strip() for b in boxes]
    assert (
        section.get(slug="comp-growth-plate").text in [b.strip() for b in boxes]
    ) is growth_plate
    assert (
        len(boxes)
        == section.filter(kind="check")
        .exclude(population="child" if age_group == "adult" else "adult")
        .count()
    )


def test_printouts_and_supervisor_pages_say_the_content_is_not_approved(
    client, clinician, bay, version, supervisor
):
    notice = "not yet approved for clinical use at this hospital"
    attempt = walk(
        attempt_for(clinician, bay, version, "adult", 72), to=Stage.AFTERCARE
    )
    client.force_login(clinician)
    for name in ("attempts:attempt-label", "attempts:attempt-summary"):
        page = client.get(reverse(name, args=[attempt.public_id])).text
        assert notice in page, name
    client.force_login(supervisor)
    assert notice in client.get(reverse("review:home")).text


def test_an_attempt_on_the_reference_version_keeps_its_notice_after_a_hospital_version(
    client, clinician, bay, version
):
    """The notice is the shown content's: an attempt still on the reference version says so
    after the editors publish their own; a page of the new version does not."""
    notice = "not yet approved for clinical use at this hospital"
    attempt = walk(
        attempt_for(clinician, bay, version, "adult", 72), to=Stage.AFTERCARE
    )
    draft = version.new_draft(author=ContentEditorFactory())
    draft.submit_for_review(by=draft.author)
    draft.publish(by=ContentEditorFactory())
    client.force_login(clinician)
    for name in ("attempts:attempt-detail", "attempts:attempt-removal"):
        page = client.get(reverse(name, args=[attempt.public_id])).text
        assert notice in page, name
    assert notice not in client.get(reverse("attempts:home")).text
    newer = attempt_for(clinician, bay, draft, "adult", 72)
    page = client.get(reverse("attempts:attempt-detail", args=[newer.public_id])).text
    assert "IO attempt" in page
    assert notice not in page
