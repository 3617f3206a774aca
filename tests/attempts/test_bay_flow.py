"""A clinician taps through an attempt: each tap one event, the card moves on, errors stay put."""

import re
import uuid
from decimal import Decimal
from html import escape

import pytest
from django.urls import reverse

from attempts.models import REMOVAL_DEADLINE, Attempt, AttemptEvent
from tests.attempts.conftest import needle, site
from tests.factories import EpisodeFactory
from tests.forms import field_errors, read_field

Kind = AttemptEvent.Kind


def run_to_preparation(tap, attempt, version):
    tap(attempt, "indication")
    tap(attempt, "site", site=site(version, "proximal-humerus-adult").pk, side="left")
    tap(attempt, "screen")
    tap(attempt, "needle", needle=needle(version, "blue").pk, tissue="normal")


@pytest.mark.django_db
def test_a_whole_adult_attempt_one_event_per_tap(tap, attempt, version):
    run_to_preparation(tap, attempt, version)
    tap(attempt, "checks-done", all_confirmed="on")
    response = tap(attempt, "needle-in-bone")
    assert "Confirm placement" in response.text
    tap(attempt, "confirm", all_confirmed="on")
    response = tap(attempt, "outcome", outcome="success")
    assert response.status_code == 200
    assert "IO needle in place" in response.text

    attempt.refresh_from_db()
    assert attempt.outcome == Attempt.Outcome.SUCCESS
    assert attempt.site.slug == "proximal-humerus-adult"
    assert attempt.needle.hub_colour == "blue"
    assert attempt.removal_due_at == attempt.inserted_at + REMOVAL_DEADLINE
    kinds = list(attempt.events.values_list("kind", flat=True))
    assert kinds == [
        Kind.STARTED,
        Kind.INDICATION_CONFIRMED,
        Kind.SITE_CHOSEN,
        Kind.CONTRAINDICATIONS_SCREENED,
        Kind.NEEDLE_CHOSEN,
        Kind.STAGE_COMPLETED,
        Kind.NEEDLE_IN_BONE,
        Kind.PLACEMENT_CONFIRMED,
        Kind.OUTCOME_RECORDED,
    ]


@pytest.mark.django_db
def test_each_card_is_an_htmx_partial_and_a_plain_post_redirects(tap, attempt, client):
    response = tap(attempt, "indication")
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="stage" ')
    assert "HX-Request" in response["Vary"]
    plain = tap(attempt, "site", htmx=False, site=0, side="left")
    assert plain.status_code == 422
    assert "<html" in plain.text


def asks_for_recount(response):
    """Whether the answer tells the page to reload its removal banner (and a board)."""
    assert response.status_code == 200
    return "attempt-updated" in response.get("HX-Trigger", "")


@pytest.mark.django_db
def test_only_a_tap_on_a_needle_in_place_reloads_the_removal_banner(
    tap, attempt, version
):
    taps = [
        ("indication", {}),
        ("site", {"site": site(version, "proximal-humerus-adult").pk, "side": "left"}),
        ("screen", {}),
        ("needle", {"needle": needle(version, "blue").pk, "tissue": "normal"}),
        ("checks-done", {"all_confirmed": "on"}),
        ("needle-in-bone", {}),
        ("confirm", {"all_confirmed": "on"}),
    ]
    for action, data in taps:
        assert not asks_for_recount(tap(attempt, action, **data)), action

    success = {"outcome": "success", "client_token": str(uuid.uuid4())}
    success["revision"] = Attempt.objects.get(pk=attempt.pk).revision
    assert asks_for_recount(tap(attempt, "outcome", **success))
    # The retry of a success whose answer was lost: the page still has to recount.
    assert asks_for_recount(tap(attempt, "outcome", **success))
    corrected = tap(
        attempt, "correction", field="weight_kg", weight_kg="80", reason="Weighed"
    )
    assert asks_for_recount(corrected)


@pytest.mark.django_db
def test_a_failed_attempt_does_not_reload_the_removal_banner(tap, attempt, version):
    run_to_preparation(tap, attempt, version)
    failed = tap(attempt, "outcome", outcome="failed", reason="No bone found")
    assert not asks_for_recount(failed)
    corrected = tap(
        attempt, "correction", field="weight_kg", weight_kg="80", reason="Weighed"
    )
    assert not asks_for_recount(corrected)


@pytest.mark.django_db
def test_every_form_of_a_card_carries_the_csrf_token_its_own_token_and_the_revision(
    tap, attempt
):
    tap(attempt, "indication")
    tap(
        attempt,
        "site",
        site=site(attempt.checklist_version, "proximal-humerus-adult").pk,
        side="left",
    )
    tap(attempt, "screen")
    html = tap(
        attempt,
        "needle",
        needle=needle(attempt.checklist_version, "blue").pk,
        tissue="normal",
    ).text
    attempt.refresh_from_db()

    forms = re.findall(r'<form method="post".*?</form>', html, flags=re.S)
    assert len(forms) > 5  # a check card: one form per check, and the way on
    csrf = {
        re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', f)[1] for f in forms
    }
    tokens = [re.search(r'name="client_token" value="([^"]+)"', f)[1] for f in forms]
    revisions = {re.search(r'name="revision" value="(\d+)"', f)[1] for f in forms}
    (csrf_token,) = csrf
    assert len(csrf_token) == 64
    assert len(set(tokens)) == len(forms)
    assert revisions == {str(attempt.revision)}


@pytest.mark.django_db
def test_reload_resumes_at_the_same_stage(tap, attempt, version, client):
    run_to_preparation(tap, attempt, version)
    page = client.get(reverse("attempts:attempt-detail", args=[attempt.public_id]))
    assert "All confirmed — continue" in page.text
    assert 'aria-current="step"' in page.text


@pytest.mark.django_db
def test_a_double_tap_records_once(tap, attempt):
    token = str(uuid.uuid4())
    tap(attempt, "indication", client_token=token)
    second = tap(attempt, "indication", client_token=token)
    assert second.status_code == 200
    assert attempt.events.filter(kind=Kind.INDICATION_CONFIRMED).count() == 1


@pytest.mark.django_db
def test_child_attempt_shows_child_items_and_a_child_needle(
    tap, clinician, bay, version, client
):
    episode = EpisodeFactory(
        location=bay, created_by=clinician, age_group="child", weight_kg=18
    )
    attempt = episode.start_attempt(
        by=clinician, version=version, client_token=uuid.uuid4()
    )
    tap(attempt, "indication")
    page = client.get(reverse("attempts:attempt-detail", args=[attempt.public_id]))
    assert "Distal femur" in page.text
    tap(attempt, "site", site=site(version, "proximal-tibia-child").pk, side="right")
    response = tap(attempt, "screen")
    assert "Use 15 mm pink (suggested)" in response.text
    tap(attempt, "needle", needle=needle(version, "pink").pk, tissue="normal")
    tap(attempt, "checks-done", all_confirmed="on")
    page = client.get(reverse("attempts:attempt-detail", args=[attempt.public_id]))
    assert "Children: drill gently" in page.text


@pytest.mark.django_db
def test_adult_attempt_shows_no_child_items(tap, attempt, version, client):
    page = client.get(reverse("attempts:attempt-detail", args=[attempt.public_id]))
    tap(attempt, "indication")
    page = client.get(reverse("attempts:attempt-detail", args=[attempt.public_id]))
    assert "Distal femur" not in page.text


def child_at_needle_card(tap, clinician, bay, version, weight):
    episode = EpisodeFactory(
        location=bay, created_by=clinician, age_group="child", weight_kg=weight
    )
    attempt = episode.start_attempt(
        by=clinician, version=version, client_token=uuid.uuid4()
    )
    tap(attempt, "indication")
    tap(attempt, "site", site=site(version, "proximal-tibia-child").pk, side="left")
    return attempt, tap(attempt, "screen")


def one_tap_needles(html):
    """The needles the card offers in one tap (each its own form with a hidden needle)."""
    return re.findall(
        r"<button[^>]*>(Use [^<]*|Significant overlying tissue: use [^<]*)</button>",
        html,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("weight", "message", "deep_one_tap"),
    [
        # Unknown: no needle by weight, but the seed's deep-tissue needle goes by the tissue.
        (
            None,
            "Weight unknown: the checklist suggests no needle by weight "
            "— follow local protocol.",
            True,
        ),
        # Not even the 45 mm "significant overlying tissue" needle for a 2 kg neonate.
        (
            2,
            "The checklist gives no needle for this weight — follow local protocol.",
            False,
        ),
    ],
)
def test_no_needle_is_offered_in_one_tap_by_weight_outside_the_table(
    tap, clinician, bay, version, weight, message, deep_one_tap
):
    attempt, card = child_at_needle_card(tap, clinician, bay, version, weight)
    assert message in card.text
    yellow = needle(version, "yellow")
    deep_button = f"Significant overlying tissue: use {yellow}"
    assert one_tap_needles(card.text) == [
        *([deep_button] if deep_one_tap else []),
        "Use this needle",
    ]
    assert re.search(r'<details class="other-choice" open>', card.text)
    # A needle by weight: the reason is asked for and kept.
    pink = needle(version, "pink").pk
    refused = tap(attempt, "needle", needle=pink, tissue="normal")
    assert refused.status_code == 422
    assert field_errors(refused.text, "needle-reason") == [
        "The checklist suggests no needle here: give the reason for 15 mm pink."
    ]
    deep = tap(attempt, "needle", needle=yellow.pk, tissue="deep")
    if deep_one_tap:
        assert deep.status_code == 200
        chosen = attempt.events.get(kind=Kind.NEEDLE_CHOSEN)
        assert chosen.data["needle"] == yellow.pk
        assert not chosen.data.get("reason")
        return
    assert deep.status_code == 422
    tap(
        attempt, "needle", needle=pink, tissue="normal", reason="Neonatal team's choice"
    )
    chosen = attempt.events.get(kind=Kind.NEEDLE_CHOSEN)
    assert chosen.data["suggested"] is None
    assert chosen.data["reason"] == "Neonatal team's choice"


@pytest.mark.django_db
def test_a_weight_between_the_bands_shows_both_neighbours_and_no_recommendation(
    tap, clinician, bay, version
):
    attempt, card = child_at_needle_card(tap, clinician, bay, version, Decimal("39.5"))
    assert "no single recommendation in the checklist" in card.text
    assert "(suggested)" not in card.text
    offered = one_tap_needles(card.text)
    assert "Use 15 mm pink (3–39 kg)" in offered  # noqa: RUF001
    assert "Use 25 mm blue (≥ 40 kg)" in offered
    assert "5 mm mark" in card.text
    # Where sources differ on a needle offered, the card says so beside it.
    for colour in ("pink", "blue", "yellow"):
        assert escape(needle(version, colour).caveat) in card.text
    # Either neighbour goes on in one tap; the record says nothing was suggested.
    tap(attempt, "needle", needle=needle(version, "blue").pk, tissue="normal")
    attempt.refresh_from_db()
    assert attempt.stage == Attempt.Stage.PREPARATION
    chosen = attempt.events.get(kind=Kind.NEEDLE_CHOSEN)
    assert (chosen.data["suggested"], chosen.data["reason"]) == (None, "")


@pytest.mark.django_db
def test_another_needle_needs_a_reason_and_is_flagged(tap, attempt, version):
    tap(attempt, "indication")
    tap(attempt, "site", site=site(version, "proximal-humerus-adult").pk, side="left")
    tap(attempt, "screen")
    pink = needle(version, "pink").pk
    refused = tap(attempt, "needle", needle=pink, tissue="normal")
    assert refused.status_code == 422
    assert "25 mm blue is suggested: give the reason for 15 mm pink" in refused.text
    tap(
        attempt,
        "needle",
        needle=pink,
        tissue="normal",
        reason="Thin arm, local protocol",
    )
    attempt.refresh_from_db()
    assert attempt.needle.hub_colour == "pink"
    assert attempt.is_flagged


@pytest.mark.django_db
def test_going_ahead_despite_a_contraindication_needs_a_reason_and_is_flagged(
    tap, attempt, version
):
    tap(attempt, "indication")
    tap(attempt, "site", site=site(version, "proximal-humerus-adult").pk, side="left")
    burn = version.contraindications.get(slug="infection-or-burn")
    assert burn.severity == burn.Severity.AVOID
    refused = tap(attempt, "screen", present=[burn.pk])
    assert refused.status_code == 422
    assert field_errors(refused.text, "screen-override_reason") == [
        "A contraindication is ticked: choose another site, or give the reason "
        "to go ahead here."
    ]
    tap(attempt, "screen", present=[burn.pk], override_reason="No other limb available")
    attempt.refresh_from_db()
    assert attempt.is_flagged
    screened = attempt.events.get(kind=Kind.CONTRAINDICATIONS_SCREENED)
    assert screened.data["present"] == [burn.pk]


@pytest.mark.django_db
def test_do_not_use_cannot_be_overridden_the_only_way_on_is_another_site(
    tap, attempt, version
):
    tap(attempt, "indication")
    humerus = site(version, "proximal-humerus-adult").pk
    tap(attempt, "site", site=humerus, side="left")
    prosthesis = version.contraindications.get(slug="prosthesis-or-surgery")
    assert prosthesis.severity == prosthesis.Severity.DO_NOT_USE
    refused = tap(
        attempt, "screen", present=[prosthesis.pk], override_reason="No other limb"
    )
    assert refused.status_code == 422
    (message,) = field_errors(refused.text, "screen-present")
    assert message.startswith(f"Do not use this site ({prosthesis.text}")
    assert message.endswith("Choose another site.")
    assert not attempt.events.filter(kind=Kind.CONTRAINDICATIONS_SCREENED).exists()
    # Another site, and the flow goes on.
    tap(attempt, "site", site=humerus, side="right")
    assert tap(attempt, "screen").status_code == 200
    attempt.refresh_from_db()
    assert (attempt.side, attempt.stage) == ("right", Attempt.Stage.NEEDLE)
    assert not attempt.is_flagged


@pytest.mark.django_db
def test_after_a_failure_one_tap_starts_the_next_attempt_with_the_bone_pre_flagged(
    tap, attempt, version, client
):
    humerus = site(version, "proximal-humerus-adult").pk
    tap(attempt, "indication")
    tap(attempt, "site", site=humerus, side="left")
    tap(attempt, "screen")
    tap(attempt, "outcome", outcome="failed", reason="Could not reach bone")
    response = client.post(
        reverse("attempts:attempt-next", args=[attempt.public_id]),
        {"client_token": str(uuid.uuid4())},
    )
    following = Attempt.objects.get(episode=attempt.episode, number=2)
    assert response["Location"] == reverse(
        "attempts:attempt-detail", args=[following.public_id]
    )
    tap(following, "indication")
    tap(following, "site", site=humerus, side="left")
    page = client.get(reverse("attempts:attempt-detail", args=[following.public_id]))
    earlier = version.contraindications.get(slug="earlier-io-same-bone")
    assert "Earlier IO in this bone: attempt 1" in page.text
    assert str(earlier.pk) in read_field(page.text, "screen-present")[2]
    # The record's fact stands: unticked, the box still counts, and the screen refuses the bone.
    before = following.events.count()
    refused = tap(following, "screen")
    assert refused.status_code == 422
    (message,) = field_errors(refused.text, "screen-present")
    assert message == f"Do not use this site ({earlier.text}). Choose another site."
    assert following.events.count() == before
    following.refresh_from_db()
    assert following.stage == Attempt.Stage.SCREEN
    # The other arm is not that bone: screened clear, the attempt goes on.
    tap(following, "site", site=humerus, side="right")
    assert tap(following, "screen").status_code == 200


@pytest.mark.django_db
def test_a_finished_attempt_offers_no_troubleshooting_it_would_refuse(
    tap, attempt, client
):
    url = reverse("attempts:attempt-detail", args=[attempt.public_id])
    assert ">Troubleshoot</button>" in client.get(url).text
    assert (
        tap(attempt, "outcome", outcome="abandoned", reason="ROSC").status_code == 200
    )
    page = client.get(url).text
    assert f"Attempt {attempt.number} abandoned" in page
    assert ">Troubleshoot</button>" not in page
    assert tap(attempt, "troubleshoot").status_code == 409


@pytest.mark.django_db
def test_a_needle_stopped_after_it_went_in_keeps_its_clock_until_its_removal(
    tap, attempt, version, client
):
    """Failed after Needle in bone: the needle is still in the patient. It stays on the
    board and under the reminders with its 24-hour clock, and the closed card asks for its
    removal, which is recorded as for any needle."""
    run_to_preparation(tap, attempt, version)
    tap(attempt, "checks-done", all_confirmed="on")
    tap(attempt, "needle-in-bone")
    failed = tap(attempt, "outcome", outcome="failed", reason="Extravasation")
    assert asks_for_recount(failed)
    attempt.refresh_from_db()
    assert (attempt.stage, attempt.outcome) == (Attempt.Stage.CLOSED, "failed")
    assert attempt.is_in_place
    assert Attempt.objects.in_place().filter(pk=attempt.pk).exists()
    board = client.get(reverse("attempts:board"), {"scope": "mine"}).text
    assert f"Record removal: {attempt.location}, {attempt.site_label}" in board
    page = client.get(reverse("attempts:attempt-detail", args=[attempt.public_id]))
    assert "its removal is not recorded" in page.text
    assert ">Record removal</button>" in page.text
    removal = reverse("attempts:attempt-removal", args=[attempt.public_id])
    response = client.post(
        removal, {"client_token": str(uuid.uuid4()), "condition": "Swollen"}
    )
    assert response.status_code == 302
    attempt.refresh_from_db()
    assert attempt.removed_at is not None
    assert (attempt.stage, attempt.outcome) == (Attempt.Stage.CLOSED, "failed")
    assert not attempt.is_in_place
    # Out: nothing more to remove.
    again = client.post(
        removal, {"client_token": str(uuid.uuid4()), "condition": "Swollen"}
    )
    assert again.status_code == 409
    assert attempt.events.filter(kind=Kind.REMOVED).count() == 1
