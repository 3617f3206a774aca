"""Each role logs in, lands on its own home and logs out, at both tablet orientations."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TABLET_LANDSCAPE, TABLET_PORTRAIT
from tests.factories import (
    PASSWORD,
    ClinicianFactory,
    ContentEditorFactory,
    SupervisorFactory,
)

pytestmark = pytest.mark.usefixtures("migrated_data")

ROLES = [
    (ClinicianFactory, "Clinician", "IO access at the bay"),
    (SupervisorFactory, "Supervisor", "Review"),
    (ContentEditorFactory, "Content editor", "Checklist content"),
]


@pytest.mark.parametrize(
    "viewport", [TABLET_PORTRAIT, TABLET_LANDSCAPE], ids=["portrait", "landscape"]
)
def test_each_role_logs_in_lands_home_and_logs_out(
    page, live_server, log_in, assert_accessible, viewport
):
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert_accessible(page)

    for factory, role_label, heading in ROLES:
        user = factory()
        log_in(page, user.username, PASSWORD)
        expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
        expect(page.locator(".role-badge")).to_have_text(role_label)
        expect(page.get_by_text(user.get_full_name())).to_be_visible()
        assert_accessible(page)

        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_wrong_password_shows_a_message_at_the_form(page, live_server, log_in):
    user = ClinicianFactory()
    log_in(page, user.username, "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.get_by_label("Username")).to_have_value(user.username)
