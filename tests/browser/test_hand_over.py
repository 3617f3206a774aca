"""Hand-over at the shared tablet in real Chromium at 820 x 1180: Switch user with a PIN lands
the next clinician on the same card, and the idle tablet locks itself off the patient's card."""

import re

import pytest
from django.http import HttpResponse
from playwright.sync_api import expect

from accounts import tablet
from attempts.models import Attempt
from tests.accounts.test_pin import PIN, with_pin
from tests.factories import (
    PASSWORD,
    ClinicianFactory,
    LocationFactory,
    reference_version,
)

pytestmark = pytest.mark.usefixtures("migrated_data")

PATIENT_REFERENCE = "MRN-HANDOVER-2281"


def stand_tablet_at(page, live_server, location):
    """The tablet stands at `location` (the cookie the place picker sets)."""
    response = tablet.place(HttpResponse(), location.pk)
    page.context.add_cookies(
        [
            {
                "name": tablet.COOKIE,
                "value": response.cookies[tablet.COOKIE].value,
                "url": live_server.url,
            }
        ]
    )


def start_attempt_to_site_card(page):
    page.get_by_role("button", name="Start IO attempt").click()
    page.get_by_label("Patient reference").fill(PATIENT_REFERENCE)
    page.get_by_role("button", name="Adult: start").click()
    page.get_by_role("button", name="Indication met — continue").click()
    expect(page.get_by_role("button", name="Proximal humerus, left")).to_be_visible()
    expect(page.get_by_text(PATIENT_REFERENCE).first).to_be_visible()


@pytest.fixture
def bay_team(live_server):
    reference_version()
    bay = LocationFactory()
    first, second = ClinicianFactory(), ClinicianFactory()
    bay.staff.add(first, second)
    # The second clinician signed in with their password earlier in the shift and set a PIN.
    with_pin(second)
    return bay, first, second


def test_switch_user_hands_over_on_the_same_card_and_records_the_next_tap_under_the_new_user(
    page, live_server, log_in, assert_accessible, bay_team
):
    bay, first, second = bay_team
    stand_tablet_at(page, live_server, bay)
    log_in(page, first.username, PASSWORD)
    start_attempt_to_site_card(page)
    card_url = page.url
    expect(page.locator(".who-name")).to_have_text(first.get_full_name())

    page.get_by_role("button", name="Switch user").click()

    expect(page.get_by_role("heading", name="Sign in with your PIN")).to_be_visible()
    assert PATIENT_REFERENCE not in page.content()
    assert_accessible(page)
    page.get_by_label("Username").fill(second.username)
    page.get_by_label("PIN").fill(PIN)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("button", name="Proximal humerus, left")).to_be_visible()
    assert page.url == card_url
    expect(page.locator(".who-name")).to_have_text(second.get_full_name())
    page.get_by_role("button", name="Proximal humerus, left").click()
    expect(
        page.get_by_role(
            "heading", name="Contraindication screen: Proximal humerus, left"
        )
    ).to_be_visible()

    attempt = Attempt.objects.get()
    events = list(attempt.events.order_by("recorded_at", "pk"))
    assert events[-1].recorded_by == second
    assert {event.recorded_by for event in events[:-1]} == {first}


def test_idle_tablet_locks_itself_and_the_pin_brings_back_the_same_card(
    page, live_server, log_in, assert_accessible, bay_team
):
    bay, _, clinician = bay_team
    stand_tablet_at(page, live_server, bay)
    # A fake clock in the page: the lock screen comes after 10 minutes without a tap.
    page.clock.install()
    log_in(page, clinician.username, PASSWORD)
    start_attempt_to_site_card(page)
    card_url = page.url

    page.clock.fast_forward("09:00")
    expect(page.get_by_role("button", name="Proximal humerus, left")).to_be_visible()
    page.clock.fast_forward("01:05")

    expect(page.get_by_role("heading", name="Locked")).to_be_visible()
    assert PATIENT_REFERENCE not in page.content()
    assert_accessible(page)
    # Locked for the server too: the card's URL shows the lock screen.
    page.goto(card_url)
    expect(page.get_by_role("heading", name="Locked")).to_be_visible()

    page.get_by_label("PIN").fill(PIN)
    page.get_by_role("button", name="Unlock").click()

    expect(page.get_by_role("button", name="Proximal humerus, left")).to_be_visible()
    assert page.url == card_url


def test_a_tap_on_a_locked_session_is_kept_on_the_tablet_and_sent_after_unlock(
    page, live_server, log_in, bay_team
):
    bay, _, clinician = bay_team
    stand_tablet_at(page, live_server, bay)
    log_in(page, clinician.username, PASSWORD)
    start_attempt_to_site_card(page)
    card_url = page.url
    attempt = Attempt.objects.get()
    events = attempt.events.count()
    # Another tab of the same session goes to the lock screen (as its timer would).
    other = page.context.new_page()
    other.goto(f"{live_server.url}/accounts/locked/")
    other.close()

    page.get_by_role("button", name="Proximal humerus, left").click()

    expect(page.get_by_role("heading", name="Locked")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Your last tap is not saved yet")
    assert attempt.events.count() == events

    page.get_by_label("PIN").fill(PIN)
    page.get_by_role("button", name="Unlock").click()

    # Back on the same card, and the kept tap is sent: recorded once.
    assert re.sub(r"\?.*", "", page.url) == card_url
    expect(
        page.get_by_role(
            "heading", name="Contraindication screen: Proximal humerus, left"
        )
    ).to_be_visible()
    assert attempt.events.count() == events + 1
