"""Editor A drafts a change part by part at a desk screen, cannot publish it; editor B confirms
what changes and publishes; clinicians see it."""

import os
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.factories import PASSWORD, ClinicianFactory, ContentEditorFactory

pytestmark = pytest.mark.usefixtures("migrated_data")

DESK = {"width": 1280, "height": 800}
NEW_STEP_TEXT = "Do not rock the needle; pull straight out"
NEW_TISSUE_NOTE = "Deep tissue over the site: obesity or oedema"
# A save runs a whole formset: on a loaded CI box it can outlast the default 5 s.
SAVE = 30_000
# Set IOACCESS_SCREENSHOTS to a folder to keep the screenshots a person looks at.
SCREENSHOTS = os.environ.get("IOACCESS_SCREENSHOTS")


@pytest.fixture
def desk_page(page, assert_accessible):
    """A 1280 x 800 page, and a check of each admin page: no sideways scroll, axe clean."""
    page.set_viewport_size(DESK)

    def check(name):
        page.wait_for_load_state("load")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= DESK["width"], f"{name}: {width} px wide"
        assert_accessible(page)
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)

    return page, check


def test_two_editors_publish_a_changed_step_and_needle_that_clinicians_then_see(
    desk_page, live_server, log_in
):
    page, check = desk_page
    call_command("load_io_checklist")
    author = ContentEditorFactory(first_name="Ada", last_name="Author")
    reviewer = ContentEditorFactory(first_name="Rita", last_name="Reviewer")
    clinician = ClinicianFactory()

    log_in(page, author.username, PASSWORD)
    expect(page.get_by_role("heading", name="Checklist content")).to_be_visible()
    page.get_by_role("link", name="Intraosseous access v1").click()
    # The admin's header names the editor and their role.
    expect(page.locator("#user-tools")).to_contain_text("Ada Author")
    expect(page.locator("#user-tools")).to_contain_text("Content editor")
    check("01-published-version")
    page.get_by_role("button", name="New draft from this version").click()
    expect(page.get_by_text("Intraosseous access v2 (Draft) created")).to_be_visible()
    expect(page.get_by_text("Drafted by Ada Author")).to_be_visible()
    check("02-draft-parts")

    # The Removal section, with its steps in their order, on a page of its own.
    page.get_by_role("link", name="Section: Removal", exact=True).click()
    expect(
        page.get_by_role("heading", name="Section “Removal”", exact=False)
    ).to_be_visible()
    step_text = page.locator("input[value='Do not rock the needle']")
    step_text.fill(NEW_STEP_TEXT)
    # Leaving with the change unsaved asks first, and staying keeps it.
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.get_by_role("link", name="Back to Intraosseous access v2 (Draft)").click()
    assert dialogs == ["beforeunload"]
    expect(
        page.get_by_role("heading", name="Section “Removal”", exact=False)
    ).to_be_visible()
    check("03-removal-section")
    page.get_by_role("button", name="Save and continue editing").first.click()
    expect(page.get_by_text("was changed successfully")).to_be_visible(timeout=SAVE)
    expect(page.locator(f"input[value='{NEW_STEP_TEXT}']")).to_be_visible()
    page.get_by_role("link", name="Back to Intraosseous access v2 (Draft)").click()

    # Needle sizes: the deep-tissue needle's note.
    page.get_by_role("link", name="Needle sizes", exact=True).click()
    page.locator("input[value='Significant overlying tissue']").fill(NEW_TISSUE_NOTE)
    check("04-needle-sizes")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Needle sizes of Intraosseous access v2")).to_be_visible(
        timeout=SAVE
    )
    expect(page.get_by_role("row", name="Needle sizes")).to_contain_text("1 changed")
    expect(page.get_by_role("row", name="Section: Removal")).to_contain_text(
        "1 changed"
    )

    # The summary is typed and not saved: "Submit for review" saves it, then submits.
    page.get_by_role("textbox", name="Change summary").fill(
        "Clarify removal wording and the deep-tissue note"
    )
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Your changes were saved and")).to_be_visible(timeout=SAVE)
    expect(page.get_by_role("link", name="Approve and publish")).to_have_count(0)
    expect(
        page.get_by_text("You wrote this draft: another editor must approve")
    ).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    log_in(page, reviewer.username, PASSWORD)
    page.get_by_role("link", name="Intraosseous access v2").click()
    expect(page.locator("#user-tools")).to_contain_text("Rita Reviewer")
    page.get_by_role("link", name="Approve and publish").click()
    expect(page.get_by_role("heading", name="Publish version 2?")).to_be_visible()
    facts = page.locator(".publish-facts")
    expect(facts).to_contain_text("Ada Author")
    expect(facts).to_contain_text("Clarify removal wording and the deep-tissue note")
    expect(facts).to_contain_text("None: new attempts follow version 2")
    changes = page.locator(".publish-diff")
    expect(changes).to_contain_text("Step in Removal: " + NEW_STEP_TEXT)
    expect(changes.get_by_role("rowheader", name="Step text")).to_be_visible()
    expect(changes.get_by_role("rowheader", name="Tissue note")).to_be_visible()
    expect(changes).to_contain_text(NEW_TISSUE_NOTE)
    expect(changes).not_to_contain_text("tissue_note")
    check("05-publish-confirmation")
    page.get_by_role("button", name="Publish version 2").click()
    expect(page.get_by_text("Published Intraosseous access v2")).to_be_visible(
        timeout=SAVE
    )
    check("06-published")
    page.get_by_role("button", name="Log out").click()

    log_in(page, clinician.username, PASSWORD)
    page.goto(f"{live_server.url}/reference/")
    expect(page.get_by_text("Version 2")).to_be_visible()
    expect(page.get_by_text(NEW_STEP_TEXT)).to_be_visible()
    expect(page.get_by_text("Reference content — not yet approved")).to_have_count(0)
