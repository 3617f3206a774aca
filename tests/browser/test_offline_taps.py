"""Taps through a network drop, in real Chromium at tablet size (issue #13).

The tablet goes offline at the preparation card, the clinician taps on through Needle in bone
and Confirm placement, and when the network is back every tap is recorded once, in order,
at the time it was tapped on the tablet.
"""

import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from attempts import flow
from attempts.models import REMOVAL_DEADLINE, AttemptEvent
from tests.factories import (
    PASSWORD,
    ClinicianFactory,
    EpisodeFactory,
    LocationFactory,
    reference_version,
    walk,
)

pytestmark = pytest.mark.usefixtures("migrated_data")
Kind = AttemptEvent.Kind
# What Chromium logs with the network off: the requests it could not make, and the service
# worker's update check.
OFFLINE_NOISE = ("ERR_INTERNET_DISCONNECTED", "error occurred when fetching the script")
OFFLINE_TAPS = [Kind.STAGE_COMPLETED, Kind.NEEDLE_IN_BONE, Kind.PLACEMENT_CONFIRMED]


@pytest.fixture
def at_indication(db):
    """A new adult attempt (72 kg) at a bay, and the clinician who started it."""
    version = reference_version()
    bay = LocationFactory()
    clinician = ClinicianFactory()
    bay.staff.add(clinician)
    episode = EpisodeFactory(location=bay, created_by=clinician, weight_kg=72)
    attempt = episode.start_attempt(
        by=clinician, version=version, client_token=uuid.uuid4()
    )
    return attempt, clinician


@pytest.fixture
def at_preparation(at_indication):
    attempt, clinician = at_indication
    return walk(attempt, to=flow.Stage.PREPARATION), clinician


def events_after_needle(attempt):
    return list(
        attempt.events.filter(kind__in=OFFLINE_TAPS)
        .order_by("pk")
        .values_list("kind", "occurred_at", "recorded_at", "data")
    )


def cards_ready(page):
    """The cards drawn ahead, which the page loads after it shows, are on the tablet, with
    the site drawings they show, and the service worker answers for the page."""
    expect(page.locator("#offline-cards[data-offline-ready]")).to_be_attached()


def open_attempt(page, live_server, log_in, attempt, clinician):
    """Signed in as `clinician`, the attempt's page with its cards drawn ahead."""
    log_in(page, clinician.username, PASSWORD)
    page.goto(f"{live_server.url}/bay/attempts/{attempt.public_id}/")
    cards_ready(page)


def queue_count(page):
    return page.locator("[data-queue-count]")


def test_taps_kept_offline_are_recorded_once_in_order_at_the_tablets_time(
    page, live_server, log_in, page_problems, at_preparation, assert_accessible
):
    page_problems.expect(*OFFLINE_NOISE)
    attempt, clinician = at_preparation
    open_attempt(page, live_server, log_in, attempt, clinician)
    expect(page.get_by_role("heading", name="Preparation")).to_be_visible()

    page.context.set_offline(True)
    page.get_by_role("button", name="All confirmed — continue").click()
    expect(page.get_by_role("heading", name="Insertion")).to_be_visible()
    expect(
        page.get_by_role("status").filter(has_text="waiting for network")
    ).to_be_visible()
    expect(queue_count(page)).to_have_text("1")
    page.get_by_role("button", name="Needle in bone").click()
    expect(page.get_by_role("heading", name="Confirmation")).to_be_visible()
    page.get_by_role("button", name="Confirm placement").click()
    expect(page.get_by_role("heading", name="Outcome")).to_be_visible()
    expect(queue_count(page)).to_have_text("3")
    assert_accessible(page)
    assert events_after_needle(attempt) == []  # nothing reached the server yet

    page.context.set_offline(False)
    # Sent in order, then the page shows the server's card.
    expect(page.locator("[data-offline-queue]")).to_be_hidden(timeout=15_000)
    expect(page.get_by_role("button", name="Success")).to_be_visible()
    recorded = events_after_needle(attempt)
    assert [kind for kind, *_ in recorded] == OFFLINE_TAPS
    for _, occurred, recorded_at, data in recorded:
        assert data["clock"] == flow.TABLET_TIME_USED
        assert (
            occurred < recorded_at
        )  # tapped on the tablet before the server heard of it
    attempt.refresh_from_db()
    assert attempt.stage == flow.Stage.OUTCOME
    inserted = recorded[1][1]
    assert attempt.inserted_at == inserted
    assert attempt.removal_due_at == inserted + REMOVAL_DEADLINE


def test_a_double_tap_offline_is_one_event(
    page, live_server, log_in, page_problems, at_preparation
):
    page_problems.expect(*OFFLINE_NOISE)
    attempt, clinician = at_preparation
    open_attempt(page, live_server, log_in, attempt, clinician)
    page.context.set_offline(True)
    # The same form submitted twice before the card moves on: one token, one tap.
    page.evaluate(
        """() => {
          const form = [...document.querySelectorAll('#stage form')].find(
            (f) => f.action.includes('/taps/checks-done/'));
          const button = form.querySelector('button[name=all_confirmed]');
          form.requestSubmit(button);
          form.requestSubmit(button);
        }"""
    )
    expect(page.get_by_role("heading", name="Insertion")).to_be_visible()
    expect(queue_count(page)).to_have_text("1")
    page.context.set_offline(False)
    expect(page.locator("[data-offline-queue]")).to_be_hidden(timeout=15_000)
    expect(page.get_by_role("heading", name="Insertion")).to_be_visible()
    assert [kind for kind, *_ in events_after_needle(attempt)] == [Kind.STAGE_COMPLETED]


def test_the_queue_survives_a_reload_and_is_sent_when_the_page_loads_again(
    page, live_server, log_in, page_problems, at_preparation
):
    page_problems.expect(*OFFLINE_NOISE)
    attempt, clinician = at_preparation
    log_in(page, clinician.username, PASSWORD)
    url = f"{live_server.url}/bay/attempts/{attempt.public_id}/"
    page.goto(url)
    cards_ready(page)
    page.context.set_offline(True)
    page.get_by_role("button", name="All confirmed — continue").click()
    page.get_by_role("button", name="Needle in bone").click()
    expect(queue_count(page)).to_have_text("2")
    tapped = page.evaluate("Date.now()")
    # The tab goes away before it could send (closed, or the tablet restarted): the next
    # page load on the tablet sends the queue.
    context = page.context
    page.close()
    context.set_offline(False)
    again = context.new_page()
    again.goto(url)
    expect(again.get_by_role("heading", name="Confirmation")).to_be_visible(
        timeout=15_000
    )
    recorded = events_after_needle(attempt)
    assert [kind for kind, *_ in recorded] == OFFLINE_TAPS[:2]
    nib = recorded[1]
    assert nib[1].timestamp() * 1000 <= tapped
    assert nib[2] - nib[1] < timedelta(minutes=1)


def test_a_tap_the_server_refuses_on_replay_is_listed_with_the_reason(
    page, live_server, log_in, page_problems, at_preparation
):
    page_problems.expect(*OFFLINE_NOISE, "status of 409")
    attempt, clinician = at_preparation
    open_attempt(page, live_server, log_in, attempt, clinician)
    page.context.set_offline(True)
    page.get_by_role("button", name="All confirmed — continue").click()
    expect(queue_count(page)).to_have_text("1")
    # Meanwhile another tablet moved the attempt on.
    attempt.record_event(
        kind=Kind.STAGE_COMPLETED,
        by=clinician,
        client_token=uuid.uuid4(),
        revision=attempt.revision,
    )
    page.context.set_offline(False)
    failed = page.get_by_role(
        "region", name="Taps saved on this tablet that were not applied"
    )
    expect(failed).to_be_visible(timeout=15_000)
    expect(failed).to_contain_text("already passed")
    assert [kind for kind, *_ in events_after_needle(attempt)] == [Kind.STAGE_COMPLETED]
    page.get_by_role("button", name="Dismiss").click()
    expect(failed).to_be_hidden()


def test_a_tap_after_the_session_expired_is_kept_through_the_login_and_sent_after(
    page, live_server, log_in, at_preparation
):
    from django.contrib.sessions.models import Session

    attempt, clinician = at_preparation
    log_in(page, clinician.username, PASSWORD)
    url = f"{live_server.url}/bay/attempts/{attempt.public_id}/"
    page.goto(url)
    cards_ready(page)
    Session.objects.all().delete()  # the session ends while the card is on screen

    page.get_by_role("button", name="All confirmed — continue").click()
    expect(page.get_by_label("Username")).to_be_visible()
    assert events_after_needle(attempt) == []
    page.get_by_label("Username").fill(clinician.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # Back on the same attempt, the kept tap is sent once and the next card shows.
    expect(page.get_by_role("heading", name="Insertion")).to_be_visible(timeout=15_000)
    assert page.url == url
    recorded = events_after_needle(attempt)
    assert [kind for kind, *_ in recorded] == [Kind.STAGE_COMPLETED]
    assert recorded[0][3]["clock"] == flow.TABLET_TIME_USED


def test_a_reload_while_offline_keeps_the_card_and_the_queue(
    page, live_server, log_in, page_problems, at_preparation
):
    page_problems.expect(*OFFLINE_NOISE)
    attempt, clinician = at_preparation
    log_in(page, clinician.username, PASSWORD)
    url = f"{live_server.url}/bay/attempts/{attempt.public_id}/"
    page.goto(url)
    # The service worker keeps this page once it controls it (the next load).
    page.wait_for_function("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    cards_ready(page)
    expect(page.get_by_role("heading", name="Preparation")).to_be_visible()

    page.context.set_offline(True)
    page.get_by_role("button", name="All confirmed — continue").click()
    page.get_by_role("button", name="Needle in bone").click()
    expect(queue_count(page)).to_have_text("2")
    page.reload()
    # From the tablet: the card the kept taps lead to, and the count.
    expect(page.get_by_role("heading", name="Confirmation")).to_be_visible()
    expect(queue_count(page)).to_have_text("2")
    page.get_by_role("button", name="Confirm placement").click()
    expect(queue_count(page)).to_have_text("3")

    page.context.set_offline(False)
    expect(page.locator("[data-offline-queue]")).to_be_hidden(timeout=15_000)
    expect(page.get_by_role("button", name="Success")).to_be_visible()
    assert [kind for kind, *_ in events_after_needle(attempt)] == OFFLINE_TAPS


def test_logging_out_forgets_the_pages_kept_for_a_reload(
    page, live_server, log_in, at_preparation
):
    attempt, clinician = at_preparation
    log_in(page, clinician.username, PASSWORD)
    page.goto(f"{live_server.url}/bay/attempts/{attempt.public_id}/")
    page.wait_for_function("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    cards_ready(page)
    # The page and the cards drawn ahead that it loaded.
    page.wait_for_function(
        "caches.open('ioaccess-pages').then((c) => c.keys()).then((k) => k.length === 2)"
    )
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Username")).to_be_visible()
    # Logging out forgets them, and so does the sign-in page when it loads.
    page.wait_for_function(
        "caches.keys().then((names) => !names.includes('ioaccess-pages'))"
    )


def test_from_the_indication_the_whole_way_to_confirmation_offline(
    page, live_server, log_in, page_problems, assert_accessible, at_indication
):
    """No card waits for the network: another site, its screen, the suggested needle."""
    page_problems.expect(*OFFLINE_NOISE)
    attempt, clinician = at_indication
    open_attempt(page, live_server, log_in, attempt, clinician)

    page.context.set_offline(True)
    page.get_by_role("button", name="Indication met — continue").click()
    expect(page.get_by_role("heading", name="Site and side")).to_be_visible()
    page.get_by_role("button", name="Proximal tibia, right").click()
    expect(
        page.get_by_role(
            "heading", name="Contraindication screen: Proximal tibia, right"
        )
    ).to_be_visible()
    # A link, not a tap: the card drawn ahead, nothing kept.
    page.get_by_role("link", name="Choose another site").click()
    expect(page.get_by_role("heading", name="Site and side")).to_be_visible()
    expect(queue_count(page)).to_have_text("2")
    page.get_by_role("button", name="Proximal humerus, left").click()
    expect(
        page.get_by_role(
            "heading", name="Contraindication screen: Proximal humerus, left"
        )
    ).to_be_visible()
    page.get_by_role("button", name="Use this site").click()
    expect(page.get_by_role("heading", name="Needle")).to_be_visible()
    suggested = page.get_by_role("button", name=re.compile(r"\(suggested\)$"))
    needle_name = re.match(r"Use (.*) \(suggested\)", suggested.inner_text())[1]
    suggested.click()
    expect(page.get_by_role("heading", name="Preparation")).to_be_visible()
    page.get_by_role("button", name="All confirmed — continue").click()
    expect(page.get_by_role("heading", name="Insertion")).to_be_visible()
    # The choices made offline, on the card drawn before they were made.
    expect(page.locator("#stage .lead")).to_have_text(
        f"Proximal humerus, left · {needle_name}"
    )
    page.get_by_role("button", name="Needle in bone").click()
    expect(page.get_by_role("heading", name="Confirmation")).to_be_visible()
    expect(queue_count(page)).to_have_text("7")
    assert_accessible(page)
    assert attempt.events.count() == 1  # only Start reached the server

    page.context.set_offline(False)
    expect(page.locator("[data-offline-queue]")).to_be_hidden(timeout=15_000)
    expect(page.get_by_role("button", name="Confirm placement")).to_be_visible()
    recorded = list(attempt.events.order_by("pk").values_list("kind", "data"))
    assert [kind for kind, _ in recorded] == [
        Kind.STARTED,
        Kind.INDICATION_CONFIRMED,
        Kind.SITE_CHOSEN,
        Kind.SITE_CHOSEN,
        Kind.CONTRAINDICATIONS_SCREENED,
        Kind.NEEDLE_CHOSEN,
        Kind.STAGE_COMPLETED,
        Kind.NEEDLE_IN_BONE,
    ]
    assert all(data["clock"] == flow.TABLET_TIME_USED for _, data in recorded[1:])
    attempt.refresh_from_db()
    assert attempt.stage == flow.Stage.CONFIRMATION
    assert attempt.site_label == "Proximal humerus, left"
    assert str(attempt.needle) == needle_name
    assert attempt.inserted_at is not None


def test_an_attempt_can_be_stopped_offline(
    page, live_server, log_in, page_problems, at_preparation
):
    page_problems.expect(*OFFLINE_NOISE)
    attempt, clinician = at_preparation
    open_attempt(page, live_server, log_in, attempt, clinician)

    page.context.set_offline(True)
    page.get_by_role("button", name="Stop attempt").click()
    expect(page.get_by_role("heading", name="Stop attempt 1")).to_be_visible()
    page.get_by_role("link", name="Back to preparation").click()
    expect(page.get_by_role("heading", name="Preparation")).to_be_visible()
    page.get_by_role("button", name="Stop attempt").click()
    page.get_by_label("Why it failed or was abandoned").fill("Cannot find landmarks")
    page.get_by_role("button", name="Failed").click()
    # Only the server says what comes after an outcome: the tap is kept, the card says so.
    expect(page.get_by_role("heading", name="Saved on this tablet")).to_be_visible()
    expect(queue_count(page)).to_have_text("1")

    page.context.set_offline(False)
    expect(page.locator("[data-offline-queue]")).to_be_hidden(timeout=15_000)
    attempt.refresh_from_db()
    assert attempt.outcome == "failed"
    assert attempt.stage == flow.Stage.CLOSED
    stop = attempt.events.get(kind=Kind.OUTCOME_RECORDED)
    assert stop.data["reason"] == "Cannot find landmarks"
    assert stop.data["clock"] == flow.TABLET_TIME_USED
