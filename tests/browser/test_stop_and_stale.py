"""Stopping an attempt from any card, and a stale second tablet, in real Chromium."""

import pytest
from playwright.sync_api import expect

from attempts import flow
from attempts.models import Attempt, AttemptEvent
from tests.browser.conftest import PageProblems
from tests.factories import (
    PASSWORD,
    ClinicianFactory,
    EpisodeFactory,
    LocationFactory,
    reference_version,
    walk,
)

pytestmark = pytest.mark.usefixtures("migrated_data")


def kinds(attempt):
    return list(attempt.events.values_list("kind", flat=True))


def answered(page, button):
    """Tap `button` and wait for the server's answer to that tap (not to what the page loads
    in the background: the cards drawn ahead for a network drop, the site drawings)."""

    def is_the_tap(response):
        background = "/offline-cards/" in response.url or "/static/" in response.url
        return response.request.method in {"GET", "POST"} and not background

    with page.expect_response(is_the_tap) as answer:
        button.click()
    return answer.value


def at_the_screen(page, log_in):
    """A clinician signed in, who started an adult attempt and chose the left humerus."""
    reference_version()
    bay = LocationFactory()
    clinician = ClinicianFactory()
    bay.staff.add(clinician)
    log_in(page, clinician.username, PASSWORD)
    page.get_by_role("button", name="Start IO attempt").click()
    page.get_by_role("button", name="Adult: start").click()
    page.get_by_role("button", name="Indication met — continue").click()
    page.get_by_role("button", name="Proximal humerus, left").click()


def choose_the_right_tibia(page, attempt):
    """Tap the right tibia on the site card: its screen shows and the attempt holds it."""
    response = answered(page, page.get_by_role("button", name="Proximal tibia, right"))
    expect(
        page.get_by_role(
            "heading", name="Contraindication screen: Proximal tibia, right"
        )
    ).to_be_visible()
    attempt.refresh_from_db()
    assert attempt.site_label == "Proximal tibia, right"
    return response


def test_abandon_before_insertion_in_one_tap_plus_the_reason(
    page, live_server, log_in, assert_accessible
):
    at_the_screen(page, log_in)
    expect(
        page.get_by_role(
            "heading", name="Contraindication screen: Proximal humerus, left"
        )
    ).to_be_visible()

    page.get_by_role("button", name="Stop attempt").click()
    expect(page.get_by_role("heading", name="Stop attempt 1")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Why it failed").fill("Peripheral IV obtained")
    assert answered(page, page.get_by_role("button", name="Abandoned")).status == 200

    expect(page.get_by_role("heading", name="Attempt 1 abandoned")).to_be_visible()
    expect(page.get_by_role("button", name="Stop attempt")).to_have_count(0)
    attempt = Attempt.objects.get()
    assert attempt.outcome == Attempt.Outcome.ABANDONED
    assert AttemptEvent.Kind.PLACEMENT_CONFIRMED not in kinds(attempt)
    outcome = attempt.events.get(kind=AttemptEvent.Kind.OUTCOME_RECORDED)
    assert outcome.data == {"outcome": "abandoned", "reason": "Peripheral IV obtained"}


def test_fail_after_needle_in_bone_without_confirming_placement(
    page, live_server, log_in, page_problems
):
    # Chromium logs the 422 it receives; the refused tap is what this test is about.
    page_problems.expect("status of 422")
    version = reference_version()
    bay = LocationFactory()
    clinician = ClinicianFactory()
    bay.staff.add(clinician)
    episode = EpisodeFactory(location=bay, created_by=clinician)
    attempt = walk(
        episode.start_attempt(by=clinician, version=version, client_token=_token()),
        to=flow.Stage.CONFIRMATION,
    )
    log_in(page, clinician.username, PASSWORD)
    page.goto(f"{live_server.url}/bay/attempts/{attempt.public_id}/")
    expect(page.get_by_role("heading", name="Confirmation")).to_be_visible()

    page.get_by_role("button", name="Stop attempt").click()
    expect(page.get_by_role("heading", name="Stop attempt 1")).to_be_visible()
    # Without the reason: the message at the field, nothing recorded.
    refused = answered(page, page.get_by_role("button", name="Failed"))
    assert refused.status == 422
    expect(page.get_by_text("Say briefly why it failed")).to_be_visible()
    expect(page.get_by_label("Why it failed")).to_be_focused()
    page.get_by_label("Why it failed").fill("Extravasation on flushing")
    assert answered(page, page.get_by_role("button", name="Failed")).status == 200

    expect(page.get_by_role("heading", name="Attempt 1 failed")).to_be_visible()
    expect(page.get_by_role("button", name="Start next attempt")).to_be_visible()
    attempt.refresh_from_db()
    assert attempt.outcome == Attempt.Outcome.FAILED
    assert AttemptEvent.Kind.PLACEMENT_CONFIRMED not in kinds(attempt)
    assert kinds(attempt)[-1] == AttemptEvent.Kind.OUTCOME_RECORDED


def test_a_stale_tap_from_a_second_tablet_gets_the_message_and_the_current_card(
    page, live_server, log_in, signed_in_context
):
    version = reference_version()
    bay = LocationFactory()
    first, second = ClinicianFactory(), ClinicianFactory()
    bay.staff.add(first, second)
    episode = EpisodeFactory(location=bay, created_by=first)
    attempt = walk(
        episode.start_attempt(by=first, version=version, client_token=_token()),
        to=flow.Stage.SITE,
    )
    url = f"{live_server.url}/bay/attempts/{attempt.public_id}/"
    log_in(page, first.username, PASSWORD)
    page.goto(url)
    other = signed_in_context(second).new_page()
    # Chromium logs the 409 it receives; anything else on that tablet fails the test.
    problems = PageProblems()
    problems.watch(other)
    other.goto(url)
    expect(other.get_by_role("heading", name="Site and side")).to_be_visible()

    page.get_by_role("button", name="Proximal humerus, left").click()
    expect(
        page.get_by_role(
            "heading", name="Contraindication screen: Proximal humerus, left"
        )
    ).to_be_visible()

    # The second tablet still shows the site card: its tap is refused, nothing recorded.
    stale = answered(other, other.get_by_role("button", name="Proximal tibia, right"))
    assert stale.status == 409
    expect(
        other.get_by_role("alert").filter(has_text=flow.STALE.split(" —")[0])
    ).to_be_visible()
    expect(
        other.get_by_role(
            "heading", name="Contraindication screen: Proximal humerus, left"
        )
    ).to_be_visible()
    expect(other.get_by_text("Not saved — check connection")).to_be_hidden()
    assert attempt.events.filter(kind=AttemptEvent.Kind.SITE_CHOSEN).count() == 1

    # Choosing another site on purpose works from the current card (and logs no error).
    other.get_by_role("link", name="Choose another site").click()
    expect(other.get_by_role("heading", name="Site and side")).to_be_visible()
    choose_the_right_tibia(other, attempt)
    assert [e for e in problems.errors if "status of 409" not in e] == []


def _token():
    import uuid

    return uuid.uuid4()


def test_a_done_step_in_the_progress_reopens_its_card_on_the_same_attempt(
    page, live_server, log_in
):
    at_the_screen(page, log_in)
    page.get_by_role("button", name="Use this site").click()
    expect(page.get_by_role("heading", name="Needle")).to_be_visible()
    attempt = Attempt.objects.get()

    progress = page.get_by_role("navigation", name="Progress")
    answered(page, progress.get_by_role("link", name="Site and side"))
    expect(page.get_by_role("heading", name="Site and side")).to_be_visible()
    assert page.url.endswith(f"/bay/attempts/{attempt.public_id}/?show=site")
    assert choose_the_right_tibia(page, attempt).status == 200
