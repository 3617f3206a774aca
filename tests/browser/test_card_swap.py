"""A card's swap carries no inline style onto the next card: the CSP forbids them."""

import pytest
from playwright.sync_api import expect

from attempts import flow
from tests.factories import (
    PASSWORD,
    ClinicianFactory,
    EpisodeFactory,
    LocationFactory,
    reference_version,
    started_attempt,
    walk,
)

pytestmark = pytest.mark.usefixtures("migrated_data")


def test_a_style_left_on_a_field_does_not_follow_it_to_the_next_card(
    page, live_server, log_in, page_problems
):
    bay = LocationFactory()
    clinician = ClinicianFactory()
    bay.staff.add(clinician)
    episode = EpisodeFactory(location=bay, created_by=clinician)
    attempt = walk(
        started_attempt(episode=episode, version=reference_version()),
        to=flow.Stage.CONFIRMATION,
    )
    log_in(page, clinician.username, PASSWORD)
    page.goto(f"{live_server.url}/bay/attempts/{attempt.public_id}/")
    expect(page.get_by_role("heading", name="Confirmation")).to_be_visible()
    page.get_by_text("Correct a recorded value").click()
    weight = page.get_by_label("Correct weight (kg)")
    # What a password manager, a spelling extension or a screenshot tool does to a field: an
    # inline style set through the DOM, which the CSP allows; copying it as an attribute onto
    # the next card's field of the same id is what the CSP blocks.
    weight.evaluate(
        "field => { field.style.caretColor = 'transparent';"
        " field.style.removeProperty('caret-color'); }"
    )
    expect(weight).to_have_attribute("style", "")

    page.get_by_role("button", name="Confirm placement").click()
    expect(page.get_by_role("heading", name="Outcome")).to_be_visible()
    # The swap has settled (htmx copies attributes then) and any violation has been reported.
    expect(page.locator(".htmx-settling")).to_have_count(0)
    page.evaluate("() => new Promise(resolve => setTimeout(resolve, 50))")
    assert page_problems.unexpected() == []
