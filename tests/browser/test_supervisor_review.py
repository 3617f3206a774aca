"""The supervisor's review in real Chromium, on a desk screen and a portrait tablet: filter the
list, open a timeline, sign off, read the numbers (charts and tables), download the CSV."""

import csv
import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from review.models import SignOff
from tests.browser.conftest import TABLET_PORTRAIT
from tests.factories import (
    PASSWORD,
    ClinicianFactory,
    LocationFactory,
    SupervisorFactory,
    needle_in_place,
    reference_version,
)

pytestmark = pytest.mark.usefixtures("migrated_data")
DESK = {"width": 1280, "height": 800}
SCREENSHOTS = os.environ.get("IOACCESS_SCREENSHOTS")


def keep(page, name):
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("viewport", [DESK, TABLET_PORTRAIT], ids=["desk", "tablet"])
def test_filter_timeline_sign_off_numbers_and_csv(
    page, live_server, log_in, assert_accessible, viewport
):
    page.set_viewport_size(viewport)
    size = "desk" if viewport == DESK else "tablet"
    version = reference_version()
    here, elsewhere = LocationFactory(), LocationFactory()
    operator = ClinicianFactory()
    now = timezone.now()
    reviewed = needle_in_place(
        location=here,
        version=version,
        operator=operator,
        inserted=now - timedelta(days=3),
    )
    needle_in_place(
        location=elsewhere, version=version, inserted=now - timedelta(days=2)
    )
    supervisor = SupervisorFactory()

    log_in(page, supervisor.username, PASSWORD)
    expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()
    page.get_by_label("Location").select_option(label=here.name)
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("heading", name="1 attempt")).to_be_visible()
    assert f"location={here.pk}" in page.url
    keep(page, f"review-list-{size}")
    assert_accessible(page)

    page.get_by_role("link", name="Timeline").click()
    expect(page.get_by_role("heading", name="Attempt 1 — timeline")).to_be_visible()
    expect(page.get_by_role("row", name="Needle in bone")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Feedback for the clinician").fill(
        "Clean insertion; good landmarks."
    )
    page.get_by_role("button", name="Sign off").click()
    expect(page.get_by_text("Signed off attempt 1.")).to_be_visible()
    expect(page.get_by_text("Clean insertion; good landmarks.")).to_be_visible()
    assert SignOff.objects.get().attempt == reviewed
    keep(page, f"review-timeline-{size}")

    page.goto(f"{live_server.url}/review/numbers/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Numbers")
    charts = page.locator("canvas")
    assert charts.count() >= 2
    # Chart.js has drawn: each canvas has a chart attached and a size.
    for index in range(charts.count()):
        canvas = charts.nth(index)
        expect(canvas).to_be_visible()
        assert canvas.evaluate("c => window.Chart && !!window.Chart.getChart(c)")
    assert page.locator("table").count() >= charts.count()
    keep(page, f"review-numbers-{size}")
    assert_accessible(page)

    page.goto(f"{live_server.url}/review/?location={here.pk}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV", exact=True).click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    data_rows = [row for row in table[1:] if row and not row[0].startswith("#")]
    assert len(data_rows) == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], (
        "the review list scrolls sideways"
    )


def test_a_long_sign_off_note_tells_the_server_the_supervisor_is_still_here(
    page, live_server, log_in
):
    """Typing makes no request; the page's timer says 'still here' now and then while keys
    are pressed, so the server does not lock the session under a note being written."""
    needle_in_place(version=reference_version())
    supervisor = SupervisorFactory()
    page.clock.install()
    log_in(page, supervisor.username, PASSWORD)
    page.get_by_role("link", name="Timeline").click()
    feedback = page.get_by_label("Feedback for the clinician")
    told = []
    page.on(
        "request",
        lambda request: (
            told.append(request.method)
            if request.url.endswith("/accounts/still-here/")
            else None
        ),
    )
    feedback.press_sequentially("Clean ")
    assert told == []  # the page was just loaded: the server knows
    for _ in range(3):
        page.clock.fast_forward("04:00")
        with page.expect_response(lambda r: r.url.endswith("/accounts/still-here/")):
            feedback.press_sequentially("insertion ")
    assert told == ["POST"] * 3
    page.get_by_role("button", name="Sign off").click()
    expect(page.get_by_text("Signed off attempt 1.")).to_be_visible()
