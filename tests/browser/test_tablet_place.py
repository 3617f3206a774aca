"""The shared tablet at 820 by 1180 (#13): it is told its place once, Start, the header and the
board follow it; after logout, Back shows the login page, not the patient."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import (
    PASSWORD,
    ClinicianFactory,
    EpisodeFactory,
    LocationFactory,
    needle_in_place,
    reference_version,
    started_attempt,
)

pytestmark = pytest.mark.usefixtures("migrated_data")


def test_clinician_puts_the_tablet_at_a_bay_and_start_header_and_board_follow(
    page, live_server, log_in, assert_accessible
):
    version = reference_version()
    clinician = ClinicianFactory()
    # Alphabetically first: without a place, Start would offer it.
    first = LocationFactory(name="Emergency department")
    bay = LocationFactory(name="Resus 1")
    first.staff.add(clinician)
    bay.staff.add(clinician)
    inserted = timezone.now() - timedelta(hours=3)
    needle_in_place(location=bay, version=version, inserted=inserted)
    needle_in_place(location=first, version=version, inserted=inserted)

    log_in(page, clinician.username, PASSWORD)
    expect(page.get_by_role("heading", name="Where is this tablet?")).to_be_visible()
    page.get_by_role("link", name="Set this tablet's place").click()
    expect(
        page.get_by_role("heading", level=1, name="Where is this tablet?")
    ).to_be_visible()
    assert_accessible(page)
    page.get_by_role("radio", name="Resus 1").check()
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_text("This tablet is at Resus 1.")).to_be_visible()
    header_link = page.get_by_role("banner").get_by_role(
        "link", name="Tablet at Resus 1"
    )
    expect(header_link).to_be_visible()
    expect(page.get_by_role("heading", name="Where is this tablet?")).to_have_count(0)
    assert_accessible(page)

    page.get_by_role("button", name="Start IO attempt").click()
    expect(page.get_by_label("Location")).to_have_value(str(bay.pk))
    expect(header_link).to_be_visible()

    page.goto(f"{live_server.url}/bay/needles/")
    expect(page.get_by_text("Showing Resus 1, where this tablet is.")).to_be_visible()
    expect(page.get_by_role("button", name="Record removal")).to_have_count(1)
    expect(
        page.get_by_role("button", name="Record removal: Resus 1", exact=False)
    ).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="All my locations").click()
    expect(page.get_by_role("button", name="Record removal")).to_have_count(2)

    # The header leads back to the choice, which shows the place given.
    header_link.click()
    expect(page.get_by_role("radio", name="Resus 1")).to_be_checked()


@pytest.fixture
def bfcache_page(browser_type, browser_type_launch_args, browser_context_args, watched):
    """A page in a Chromium that keeps pages for Back, as a tablet's Chrome does.

    Playwright turns the back-forward cache off; with it off, Back always asks the server and
    a test of Back proves nothing.
    """
    browser = browser_type.launch(
        **browser_type_launch_args,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    yield watched(browser.new_context(**browser_context_args).new_page())
    browser.close()


def test_after_logout_back_shows_the_login_page_not_the_patient(
    bfcache_page, live_server, log_in
):
    page = bfcache_page
    clinician = ClinicianFactory()
    bay = LocationFactory(name="Resus 1")
    bay.staff.add(clinician)
    reference_version()
    episode = EpisodeFactory(location=bay, patient_reference="MRN-4471-TABLET")
    attempt = started_attempt(episode=episode, by=clinician)
    attempt_url = f"{live_server.url}/bay/attempts/{attempt.public_id}/"

    log_in(page, clinician.username, PASSWORD)
    page.goto(attempt_url)
    expect(page.get_by_text("MRN-4471-TABLET").first).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    # Back asks the server again (which sends a logged-out tablet to the login page) rather
    # than showing the page kept from before the logout.
    with page.expect_response(attempt_url, timeout=10_000) as answer:
        page.go_back()
    assert answer.value.status == 302
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert "MRN-4471-TABLET" not in page.content()
