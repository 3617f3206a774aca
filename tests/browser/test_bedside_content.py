"""The content at the bedside, in real Chromium on a portrait tablet: sites as drawings, every
caveat and citation one tap away, and a needle card that never suggests a wrong needle."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TABLET_PORTRAIT
from tests.factories import (
    PASSWORD,
    ClinicianFactory,
    LocationFactory,
    reference_version,
)

pytestmark = pytest.mark.usefixtures("migrated_data")

# Set IOACCESS_SCREENSHOTS to a folder to keep the screenshots a person looks at.
SCREENSHOTS = os.environ.get("IOACCESS_SCREENSHOTS")


def keep(page, name):
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def at_the_bay(page, live_server, log_in):
    """A clinician on the Start card of their bay; `start(age, weight)` begins an attempt."""
    version = reference_version()
    bay = LocationFactory()
    clinician = ClinicianFactory()
    bay.staff.add(clinician)
    log_in(page, clinician.username, PASSWORD)

    def start(age_group, weight=""):
        page.get_by_role("button", name="Start IO attempt").click()
        page.get_by_label("Weight (kg)").fill(weight)
        page.get_by_role("button", name=f"{age_group}: start").click()
        page.get_by_role("button", name="Indication met — continue").click()
        expect(page.get_by_role("heading", name="Site and side")).to_be_visible()
        return version

    return start


def in_first_screen(locator):
    """Whether the element lies wholly inside the first screenful of the page: seen on
    arriving at the card, whether or not the page scrolled itself to the card's heading."""
    bottom = locator.evaluate(
        "el => el.getBoundingClientRect().bottom + window.scrollY"
    )
    return bottom <= TABLET_PORTRAIT["height"]


@pytest.mark.parametrize(
    ("age_group", "population"), [("Adult", "adult"), ("Child", "child")]
)
def test_every_site_shows_its_drawing_and_buttons_without_scrolling(
    page, at_the_bay, assert_accessible, age_group, population
):
    version = at_the_bay(age_group, "72" if population == "adult" else "20")
    sites = [s for s in version.sites.order_by("position") if s.serves(population)]
    assert len(sites) >= 3
    for site in sites:
        drawing = page.get_by_role("img", name=site.drawing_alt)
        expect(drawing).to_be_visible()
        assert drawing.evaluate("img => img.complete && img.naturalWidth > 0")
        for side in ("left", "right"):
            button = page.get_by_role("button", name=f"{site.name}, {side}")
            expect(button).to_be_visible()
            assert in_first_screen(button), f"{site.name}, {side} is below the fold"
    keep(page, f"site-card-{population}")

    # The landmarks are one tap away, behind "How to find it", with the sources and caveat.
    first = sites[0]
    landmarks = page.get_by_text(first.landmarks)
    expect(landmarks).to_be_hidden()
    page.locator(".site").filter(has_text=first.name).first.get_by_text(
        "How to find it"
    ).click()
    expect(landmarks).to_be_visible()
    keep(page, f"site-card-{population}-how-to-find")
    assert_accessible(page)


def test_a_steps_caveat_shows_on_the_card_and_why_opens_its_citation(
    page, at_the_bay, assert_accessible
):
    version = at_the_bay("Adult", "72")
    page.get_by_role("button", name="Proximal tibia, left").click()
    page.get_by_role("button", name="Use this site").click()
    page.get_by_role("button", name="Use 25 mm blue (suggested)").click()
    expect(page.get_by_role("heading", name="Preparation")).to_be_visible()

    step = version.steps.get(slug="prep-ppe-skin")
    item = page.locator(".check-item").filter(has_text=step.text)
    # A disagreeing source is read where the step is, without a tap.
    expect(item.get_by_text(step.caveat)).to_be_visible()
    source = item.get_by_role("link", name="Source seed")
    expect(source).to_be_hidden()
    expect(item.locator("summary")).to_contain_text(
        "seed"
    )  # the keys show while closed
    item.get_by_text("Why / source").click()
    expect(source).to_be_visible()
    keep(page, "preparation-why-open")
    assert_accessible(page)


def test_a_yes_on_the_screen_makes_another_site_the_first_choice(page, at_the_bay):
    version = at_the_bay("Adult", "72")
    page.get_by_role("button", name="Proximal tibia, left").click()
    another = page.get_by_role("link", name="Choose another site")
    go_on = page.get_by_role("button", name="Use this site")
    expect(go_on).to_have_class("button button-primary button-huge")
    abdominal = version.contraindications.get(slug="abdominal-or-ivc-injury")
    page.get_by_label(abdominal.text).check()
    expect(another).to_have_class("button button-primary")
    expect(go_on).to_have_class("button button-secondary")
    keep(page, "screen-with-a-yes")


@pytest.mark.parametrize(
    ("weight", "says", "one_tap"),
    [
        (
            "39.5",
            "no single recommendation in the checklist",
            ["Use 15 mm pink (3–39 kg)", "Use 25 mm blue (≥ 40 kg)"],  # noqa: RUF001
        ),
        (
            "2",
            "The checklist gives no needle for this weight — follow local protocol.",
            [],
        ),
    ],
)
def test_the_needle_card_outside_the_bands(
    page, at_the_bay, assert_accessible, weight, says, one_tap
):
    at_the_bay("Child", weight)
    page.get_by_role("button", name="Proximal tibia, left").click()
    page.get_by_role("button", name="Use this site").click()
    expect(page.get_by_role("heading", name="Needle")).to_be_visible()
    expect(page.get_by_text(says)).to_be_visible()
    for name in one_tap:
        expect(page.get_by_role("button", name=name)).to_be_visible()
    expect(page.get_by_role("button", name="(suggested)")).to_have_count(0)
    if not one_tap:
        expect(
            page.get_by_role("button", name="Significant overlying tissue")
        ).to_have_count(0)
        # The only way on is another needle, with its reason, already open.
        expect(page.get_by_label("Reason for another needle")).to_be_visible()
    keep(page, f"needle-card-{weight.replace('.', '_')}kg")
    assert_accessible(page)
