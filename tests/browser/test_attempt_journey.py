"""A whole adult IO attempt at the bay, from Start IO attempt to success, counting the taps."""

import re

import pytest
from playwright.sync_api import expect

from attempts.models import Attempt, AttemptEvent
from tests.factories import (
    PASSWORD,
    ClinicianFactory,
    LocationFactory,
    reference_version,
)

pytestmark = pytest.mark.usefixtures("migrated_data")

MAX_TAPS = 25


class Taps:
    """Clicks the user makes, counted; the ones that record must add exactly one event."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def __call__(self, locator, *, records=True):
        before = AttemptEvent.objects.count()
        self.count += 1
        if not records:
            locator.click()
            return
        # Wait for the server's answer to the tap, then check it saved exactly one event.
        with self.page.expect_response(lambda r: r.request.method == "POST") as answer:
            locator.click()
        assert answer.value.status in {200, 302}, answer.value.url
        expect(self.page.locator(".htmx-request")).to_have_count(0)
        assert AttemptEvent.objects.count() == before + 1, locator


def test_complete_adult_attempt_in_few_taps_every_tap_saved(
    page, live_server, log_in, assert_accessible, signed_in_context, watched
):
    reference_version()
    bay = LocationFactory(name="Resus 1")
    clinician, colleague = ClinicianFactory(), ClinicianFactory()
    bay.staff.add(clinician, colleague)
    log_in(page, clinician.username, PASSWORD)
    tap = Taps(page)

    tap(page.get_by_role("button", name="Start IO attempt"), records=False)
    assert_accessible(page)
    page.get_by_label("Weight (kg)").fill("72")
    tap(page.get_by_role("button", name="Adult: start"))
    attempt = Attempt.objects.get()

    expect(page.get_by_role("heading", name="Indication")).to_be_visible()
    assert_accessible(page)
    tap(page.get_by_role("button", name="Indication met — continue"))

    expect(page.get_by_role("heading", name="Site and side")).to_be_visible()
    assert_accessible(page)
    tap(page.get_by_role("button", name="Proximal humerus, left"))

    expect(
        page.get_by_role(
            "heading", name="Contraindication screen: Proximal humerus, left"
        )
    ).to_be_visible()
    assert_accessible(page)
    tap(page.get_by_role("button", name="Use this site"))

    expect(page.get_by_role("heading", name="Needle")).to_be_visible()
    assert_accessible(page)
    tap(page.get_by_role("button", name="Use 25 mm blue (suggested)"))

    expect(page.get_by_role("heading", name="Preparation")).to_be_visible()
    assert_accessible(page)
    tap(page.get_by_role("button", name="All confirmed — continue"))

    # Half-way: a reload resumes at the same stage, with the clock from the server's start.
    expect(page.get_by_role("button", name="Needle in bone")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Insertion")).to_be_visible()
    assert_accessible(page)
    tap(page.get_by_role("button", name="Needle in bone"))

    # Another clinician on another tablet sees the same state.
    other = watched(signed_in_context(colleague).new_page())
    other.goto(f"{live_server.url}/bay/attempts/{attempt.public_id}/")
    expect(other.get_by_role("heading", name="Confirmation")).to_be_visible()
    expect(other.get_by_role("button", name="Confirm placement")).to_be_visible()

    expect(page.get_by_role("heading", name="Confirmation")).to_be_visible()
    assert_accessible(page)
    tap(page.get_by_role("button", name="Confirm placement"))

    expect(page.get_by_role("heading", name="Outcome")).to_be_visible()
    assert_accessible(page)
    tap(page.get_by_role("button", name="Success"))

    expect(page.get_by_role("heading", name="IO needle in place")).to_be_visible()
    expect(page.get_by_text("Remove by")).to_be_visible()
    assert_accessible(page)

    print(f"\nComplete adult attempt: {tap.count} taps (limit {MAX_TAPS})")
    assert tap.count <= MAX_TAPS
    attempt.refresh_from_db()
    assert attempt.outcome == Attempt.Outcome.SUCCESS
    events = list(attempt.events.all())
    assert len(events) == tap.count - 1  # every tap but the link to the start card
    assert all(event.recorded_at for event in events)

    other.reload()
    expect(other.get_by_role("heading", name="IO needle in place")).to_be_visible()


def test_troubleshoot_is_one_tap_away_and_logs_what_was_done(page, live_server, log_in):
    reference_version()
    bay = LocationFactory(name="Resus 2")
    clinician = ClinicianFactory()
    bay.staff.add(clinician)
    log_in(page, clinician.username, PASSWORD)
    page.get_by_role("button", name="Start IO attempt").click()
    page.get_by_role("button", name="Child: start").click()
    expect(page.get_by_role("heading", name="Indication")).to_be_visible()

    page.get_by_role("button", name="Troubleshoot").click()
    expect(page.get_by_role("heading", name="Troubleshooting")).to_be_visible()
    # Wait for the server's answer: the panel is on screen before and after the swap.
    with page.expect_response(re.compile(r"/taps/troubleshoot-action/$")) as answer:
        page.get_by_role(
            "button", name=re.compile("^Done: Pull the needle back")
        ).click()
    assert answer.value.status == 200
    expect(page.get_by_role("heading", name="Troubleshooting")).to_be_visible()
    page.get_by_role("button", name="Close").click()
    expect(page.get_by_role("heading", name="Troubleshooting")).to_be_hidden()

    kinds = list(AttemptEvent.objects.values_list("kind", flat=True))
    assert kinds == ["started", "troubleshooting_opened", "troubleshooting_action"]


def test_a_tap_that_does_not_reach_the_server_is_kept_and_sent_when_it_can(
    page, live_server, log_in, page_problems
):
    # htmx logs the failed request; the dropped request is what this test is about.
    page_problems.expect("htmx:sendError", "htmx:afterRequest", "net::ERR_FAILED")
    reference_version()
    bay = LocationFactory(name="Resus 3")
    clinician = ClinicianFactory()
    bay.staff.add(clinician)
    log_in(page, clinician.username, PASSWORD)
    page.get_by_role("button", name="Start IO attempt").click()
    page.get_by_role("button", name="Adult: start").click()
    expect(page.get_by_role("heading", name="Indication")).to_be_visible()
    # The cards drawn ahead for a network drop are in.
    expect(page.locator("#offline-cards[data-offline-ready]")).to_be_attached()

    # The connection drops: the tap never reaches the server, is kept on the tablet, and the
    # next card comes from the tablet.
    page.route("**/taps/**", lambda route: route.abort())
    page.get_by_role("button", name="Indication met — continue").click()
    expect(
        page.get_by_role("status").filter(has_text="waiting for network (1)")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Site and side")).to_be_visible()
    expect(page.get_by_text("Not saved — check connection")).to_be_hidden()
    assert list(AttemptEvent.objects.values_list("kind", flat=True)) == ["started"]

    # Back online: the kept tap is sent once, and the server's next card shows.
    page.unroute("**/taps/**")
    expect(page.locator("[data-offline-queue]")).to_be_hidden(timeout=15_000)
    expect(page.get_by_role("heading", name="Site and side")).to_be_visible()
    assert AttemptEvent.objects.filter(kind="indication_confirmed").count() == 1
