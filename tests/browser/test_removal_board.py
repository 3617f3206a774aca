"""The board shows an overdue needle in words; Record removal takes it off board and banner."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import (
    PASSWORD,
    ClinicianFactory,
    LocationFactory,
    needle_in_place,
    reference_version,
)

pytestmark = pytest.mark.usefixtures("migrated_data")


def test_overdue_needle_removed_from_the_board_and_the_label_printed(
    page, live_server, log_in, assert_accessible
):
    version = reference_version()
    bay = LocationFactory(name="Resus 1")
    clinician = ClinicianFactory()
    bay.staff.add(clinician)
    overdue = needle_in_place(
        location=bay,
        version=version,
        operator=clinician,
        inserted=timezone.now() - timedelta(hours=26),
    )
    needle_in_place(location=bay, version=version, operator=clinician)

    log_in(page, clinician.username, PASSWORD)
    banner = page.locator("#removal-banner")
    expect(banner).to_contain_text("1 IO needle overdue for removal")
    banner.get_by_role("link").click()

    expect(page.get_by_role("heading", name="IO needles in place")).to_be_visible()
    expect(page.get_by_role("cell", name="Overdue", exact=True)).to_be_visible()
    expect(page.get_by_text("overdue by 2 h 00 min")).to_be_visible()
    assert_accessible(page)

    site = f"{overdue.site.name}, {overdue.get_side_display().lower()}"
    page.get_by_role("link", name=f"Label: Resus 1, {site}").first.click()
    expect(page.get_by_text("Remove by")).to_be_visible()
    expect(page.locator(".label-qr svg")).to_be_visible()
    assert_accessible(page)
    page.go_back()

    page.get_by_role("button", name=f"Record removal: Resus 1, {site}").first.click()
    expect(page.get_by_role("heading", name="Remove the IO needle")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Site condition after removal").fill("Clean, no swelling")
    page.get_by_role("button", name="Record removal").click()

    expect(page.get_by_text("Removal recorded")).to_be_visible()
    expect(page.get_by_role("cell", name="Overdue", exact=True)).to_have_count(0)
    expect(page.get_by_role("cell", name="In place", exact=True)).to_have_count(1)
    expect(page.locator("#removal-banner")).not_to_contain_text("overdue")
