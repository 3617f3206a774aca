"""The defects an adversarial sweep found in the bay's record (#9), each as the user meets it:
a stop from any card, no 500, no unchecked data stored, messages at the field."""

import threading
import uuid

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.urls import reverse

from attempts import flow
from attempts.models import Attempt, AttemptEvent, Episode
from tests.attempts.conftest import site
from tests.factories import (
    ClinicianFactory,
    ContentEditorFactory,
    EpisodeFactory,
    LocationFactory,
    needle_in_place,
    reference_version,
    started_attempt,
    walk,
)
from tests.forms import field_errors, read_field

Kind = AttemptEvent.Kind
START = reverse("attempts:attempt-start")


def snapshot():
    """Every row of the record, to compare before and after a refused request."""
    return (
        [model_to_dict(a) for a in Attempt.objects.order_by("pk")],
        [model_to_dict(e) for e in Episode.objects.order_by("pk")],
        list(AttemptEvent.objects.order_by("pk").values_list("pk", flat=True)),
    )


@pytest.fixture
def needle(client, db):
    """An IO needle in place, and the client logged in as a clinician of its location."""
    needle = needle_in_place(version=reference_version())
    clinician = ClinicianFactory()
    needle.location.staff.add(clinician)
    client.force_login(clinician)
    return needle


def page(client, attempt, show=None):
    url = reverse("attempts:attempt-detail", args=[attempt.public_id])
    return client.get(url, {"show": show} if show else {})


# 2. Stop attempt: from every card, before and after insertion, without a false event.


@pytest.mark.django_db
@pytest.mark.parametrize("stage", flow.IN_PROGRESS[:-1])
def test_stop_attempt_is_one_tap_from_every_card_in_progress(
    client, tap, attempt, stage
):
    walk(attempt, to=stage)
    assert "Stop attempt</button>" in page(client, attempt).text
    stop_card = page(client, attempt, show="stop").text
    assert "Stop attempt 1</h2>" in stop_card
    assert read_field(stop_card, "outcome-reason")[1]  # "Why it failed …" at hand

    response = tap(attempt, "outcome", outcome="abandoned", reason="ROSC")
    assert response.status_code == 200
    attempt.refresh_from_db()
    assert (attempt.outcome, attempt.stage) == ("abandoned", flow.Stage.CLOSED)
    assert not attempt.events.filter(kind=Kind.PLACEMENT_CONFIRMED).exists()
    assert "Stop attempt</button>" not in page(client, attempt).text


@pytest.mark.django_db
def test_failed_after_needle_in_bone_needs_no_placement_confirmed(tap, attempt):
    walk(attempt, to=flow.Stage.CONFIRMATION)
    refused = tap(attempt, "outcome", outcome="failed")
    assert refused.status_code == 422
    assert field_errors(refused.text, "outcome-reason") == [
        "Say briefly why it failed (e.g. no flow, extravasation)."
    ]
    assert "Stop attempt 1</h2>" in refused.text  # still on the stop card
    tap(attempt, "outcome", outcome="failed", reason="Extravasation on flush")
    attempt.refresh_from_db()
    assert attempt.outcome == "failed"
    assert attempt.inserted_at is not None
    kinds = list(attempt.events.values_list("kind", flat=True))
    assert Kind.PLACEMENT_CONFIRMED not in kinds
    assert kinds[-2:] == [Kind.NEEDLE_IN_BONE, Kind.OUTCOME_RECORDED]


@pytest.mark.django_db
def test_success_only_from_the_outcome_card(tap, attempt):
    walk(attempt, to=flow.Stage.CONFIRMATION)
    refused = tap(attempt, "outcome", outcome="success")
    assert refused.status_code == 409
    attempt.refresh_from_db()
    assert attempt.outcome == "in_progress"


# 3. No 500s.


ROUNDS_TO_ZERO = "Enter a weight of at least 0.1 kg."
NOT_A_WEIGHT = "Enter the weight in kg as a number, e.g. 72 or 72.5."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("weight", "message"),
    [
        *[(w, ROUNDS_TO_ZERO) for w in ("0.01", "0,04", "0.00001", "0.049")],
        # What Python would read as 10 kg, and a slip of the thumb.
        *[(w, NOT_A_WEIGHT) for w in ("1_0", "1e1", "6 0")],
    ],
)
def test_a_weight_correction_that_is_no_weight_is_refused_at_the_field(
    tap, attempt, weight, message
):
    walk(attempt, to=flow.Stage.CONFIRMATION)
    before = snapshot()
    response = tap(
        attempt, "correction", field="weight_kg", weight_kg=weight, reason="Typo"
    )
    assert response.status_code == 422
    assert field_errors(response.text, "correction-weight_kg") == [message]
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "location", ["²", "99999999999999999999999", "-1", "1e3", "\x00", "12abc"]
)
def test_the_board_ignores_a_location_that_is_no_id(client, clinician, location):
    client.force_login(clinician)
    response = client.get(reverse("attempts:board"), {"location": location})
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_start_token_used_for_another_event_is_refused_with_a_message(
    start, tap, attempt
):
    used = str(attempt.events.get(kind=Kind.STARTED).client_token)
    tap(attempt, "indication", client_token=(indication := str(uuid.uuid4())))
    before = snapshot()
    response = start(client_token=indication)
    assert response.status_code == 422
    assert "This form was already used to record something else" in response.text
    assert snapshot() == before
    assert used != indication


@pytest.mark.django_db
def test_a_replayed_start_with_other_facts_is_refused_and_the_same_one_resumes(
    client, clinician, bay, version
):
    client.force_login(clinician)
    token = str(uuid.uuid4())
    adult = {
        "client_token": token,
        "location": bay.pk,
        "age_group": "adult",
        "weight_kg": "70",
        "context": "cardiac_arrest",
    }
    first = client.post(START, adult)
    assert first.status_code == 302
    before = snapshot()
    child = {**adult, "age_group": "child", "weight_kg": "5"}
    response = client.post(START, child)
    assert response.status_code == 422
    assert "This form was already used to record something else" in response.text
    assert snapshot() == before
    again = client.post(START, adult)
    assert again["Location"] == first["Location"]
    assert snapshot() == before


@pytest.mark.django_db
def test_next_attempt_while_this_one_is_in_progress_says_so(client, tap, attempt):
    tap(attempt, "indication")
    before = snapshot()
    response = client.post(
        reverse("attempts:attempt-next", args=[attempt.public_id]),
        {"client_token": str(uuid.uuid4())},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 409
    assert "This attempt is still in progress" in response.text
    assert snapshot() == before


@pytest.mark.django_db
def test_next_attempt_with_a_token_used_for_something_else_is_refused(
    client, tap, attempt
):
    tap(attempt, "outcome", outcome="failed", reason="No flow")
    used = str(attempt.events.get(kind=Kind.OUTCOME_RECORDED).client_token)
    before = snapshot()
    response = client.post(
        reverse("attempts:attempt-next", args=[attempt.public_id]),
        {"client_token": used},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert "This form was already used to record something else" in response.text
    assert snapshot() == before


@pytest.mark.django_db
def test_a_transfer_replayed_to_another_location_is_refused_and_moves_nothing(
    client, needle
):
    icu, ward = LocationFactory(), LocationFactory()
    # The clinicians follow the patient, so they still see the attempt at the ICU.
    icu.staff.add(*needle.location.staff.all())
    url = reverse("attempts:attempt-transfer", args=[needle.public_id])
    token = str(uuid.uuid4())
    page = {"client_token": token, "shown_at": needle.location_id}
    assert client.post(url, {**page, "location": icu.pk}).status_code == 302
    needle.refresh_from_db()
    assert needle.location == icu
    before = snapshot()
    response = client.post(url, {**page, "location": ward.pk})
    assert response.status_code == 422
    assert "This form was already used to record something else" in response.text
    assert snapshot() == before
    # The same request again (a retry) answers what it did.
    retry = client.post(url, {**page, "location": icu.pk})
    assert retry.status_code == 422  # the patient is already there: said at the field
    assert snapshot() == before


@pytest.mark.django_db
def test_a_transfer_with_no_needle_in_place_is_refused_with_the_reason(client, needle):
    in_place = needle_in_place(location=needle.location, version=reference_version())
    never_in = started_attempt(episode=EpisodeFactory(location=needle.location))
    removal = reverse("attempts:attempt-removal", args=[needle.public_id])
    client.post(removal, {"client_token": str(uuid.uuid4()), "condition": "Clean"})
    ward = LocationFactory()
    before = snapshot()
    # The needle removed (a board out of date), and an attempt whose needle never went in.
    for gone in (needle, never_in):
        url = reverse("attempts:attempt-transfer", args=[gone.public_id])
        response = client.post(
            url,
            {
                "client_token": str(uuid.uuid4()),
                "location": ward.pk,
                "shown_at": gone.location_id,
            },
        )
        assert response.status_code == 409
        assert "This patient has no IO needle in place to move there" in response.text
        assert ">Transfer</button>" not in response.text
        assert snapshot() == before
        assert "moved to" not in client.get(reverse("attempts:board")).text
        # The page opened afresh says so too, and offers no Transfer button.
        page = client.get(url)
        assert page.status_code == 200
        assert "This patient has no IO needle in place to move there" in page.text
        assert ">Transfer</button>" not in page.text
        assert ">Back to the board</a>" in page.text
    # With a needle in place the page offers the move, and no such message.
    page = client.get(reverse("attempts:attempt-transfer", args=[in_place.public_id]))
    assert ">Transfer</button>" in page.text
    assert "no IO needle in place" not in page.text


@pytest.mark.django_db
def test_a_transfer_from_a_page_another_tablets_move_overtook_is_refused(
    client, needle
):
    """Tablet A moves the patient to the ICU; tablet B's page still shows them where they
    were, and its move to a ward is refused with where the needle is now, not recorded."""
    icu, ward = LocationFactory(name="ICU"), LocationFactory(name="Ward 9")
    icu.staff.add(*needle.location.staff.all())
    url = reverse("attempts:attempt-transfer", args=[needle.public_id])
    page_b = client.get(url)
    shown_at = read_field(page_b.text, "transfer-shown_at")[1]["value"]
    assert shown_at == str(needle.location_id)
    moved = {"client_token": str(uuid.uuid4()), "location": icu.pk}
    assert client.post(url, {**moved, "shown_at": shown_at}).status_code == 302
    before = snapshot()
    late = {
        "client_token": str(uuid.uuid4()),
        "location": ward.pk,
        "shown_at": shown_at,
    }
    response = client.post(url, late)
    assert response.status_code == 409
    assert "moved to ICU after this page was drawn" in response.text
    assert snapshot() == before
    # Drawn again, the page shows the needle at the ICU, and the move goes through.
    again = client.get(url)
    assert read_field(again.text, "transfer-shown_at")[1]["value"] == str(icu.pk)
    late = {**late, "client_token": str(uuid.uuid4()), "shown_at": icu.pk}
    assert client.post(url, late).status_code == 302
    needle.refresh_from_db()
    assert needle.location == ward


@pytest.mark.django_db
def test_a_transfer_with_a_token_a_tap_used_is_refused_and_moves_nothing(
    client, needle
):
    used = str(needle.events.get(kind=AttemptEvent.Kind.NEEDLE_IN_BONE).client_token)
    url = reverse("attempts:attempt-transfer", args=[needle.public_id])
    before = snapshot()
    response = client.post(
        url,
        {
            "client_token": used,
            "location": LocationFactory().pk,
            "shown_at": needle.location_id,
        },
    )
    assert response.status_code == 422
    assert "This form was already used to record something else" in response.text
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_two_starts_with_the_same_token_at_once_make_one_attempt(migrated_data):
    version = reference_version()
    bay = LocationFactory()
    clinician = ClinicianFactory()
    token = uuid.uuid4()
    barrier = threading.Barrier(2)
    results = []

    def start():
        try:
            barrier.wait(timeout=10)
            attempt = Episode.open(
                by=clinician,
                version=version,
                client_token=token,
                location=bay,
                age_group="adult",
                weight_kg=None,
                patient_reference="",
                context="shock",
            )
            results.append(attempt.pk)
        except Exception as error:  # any failure shows in the assertion below
            results.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 2
    assert results[0] == results[1], results
    assert Attempt.objects.count() == Episode.objects.count() == 1


@pytest.mark.django_db
def test_next_attempt_from_two_tablets_starts_one_attempt(client, tap, attempt):
    tap(attempt, "outcome", outcome="failed", reason="No flow")
    url = reverse("attempts:attempt-next", args=[attempt.public_id])
    first = client.post(url, {"client_token": str(uuid.uuid4())})
    second = client.post(url, {"client_token": str(uuid.uuid4())})
    assert attempt.episode.attempts.count() == 2
    assert first["Location"] == second["Location"]


# 4. Unchecked data is never stored.


@pytest.mark.django_db
@pytest.mark.parametrize("posted", ["made-up-stage", "x" * 10_000, "in\x00dication"])
def test_troubleshooting_records_the_stage_the_server_holds(tap, attempt, posted):
    walk(attempt, to=flow.Stage.NEEDLE)
    response = tap(attempt, "troubleshoot", stage=posted)
    assert response.status_code == 200
    opened = attempt.events.get(kind=Kind.TROUBLESHOOTING_OPENED)
    assert opened.data == {"stage": "needle"}


# 5. A correction keeps what the clinician chose.


@pytest.mark.django_db
def test_after_a_refused_correction_the_form_keeps_the_choice(tap, attempt):
    walk(attempt, to=flow.Stage.CONFIRMATION)
    response = tap(attempt, "correction", field="side", side="right", reason="")
    assert response.status_code == 422
    assert field_errors(response.text, "correction-reason") == [
        "Give the reason for the correction."
    ]
    assert 'value="side" selected' in response.text
    assert 'value="right" selected' in response.text
    assert 'value="weight_kg" selected' not in response.text
    attempt.refresh_from_db()
    assert attempt.episode.weight_kg is not None
    assert not attempt.events.filter(kind=Kind.CORRECTION).exists()


@pytest.mark.django_db
def test_removal_time_is_offered_for_correction_only_once_the_needle_is_out(
    client, needle
):
    """The unbound correction form is drawn once per process for each kind of card: an
    attempt's card never shows another's choices."""
    second = needle_in_place(location=needle.location, version=reference_version())
    removal = reverse("attempts:attempt-removal", args=[second.public_id])
    client.post(removal, {"client_token": str(uuid.uuid4()), "condition": "Clean"})

    removal_choice = '<option value="removed_at">'
    for _ in range(2):
        assert removal_choice not in page(client, needle).text
        removed = page(client, second).text
        assert removal_choice in removed
        _, attributes, _ = read_field(removed, "correction-removed_at")
        assert attributes.get("type") == "datetime-local"
        assert "value" not in attributes


@pytest.mark.django_db
def test_a_correction_points_at_the_event_it_amends(tap, attempt):
    walk(attempt, to=flow.Stage.CONFIRMATION)
    tap(attempt, "correction", field="side", side="right", reason="Wrong side")
    tap(attempt, "correction", field="side", side="left", reason="It was left")
    first, second = attempt.events.filter(kind=Kind.CORRECTION).order_by("pk")
    assert first.corrects == attempt.events.get(kind=Kind.SITE_CHOSEN)
    assert second.corrects == first
    assert (first.data["old"], first.data["new"]) == ("left", "right")
    assert (second.data["old"], second.data["new"]) == ("right", "left")


# 6. Removal shows the attempt's own checklist.


@pytest.mark.django_db
def test_removal_shows_the_steps_of_the_version_the_attempt_followed(client):
    version = reference_version()
    needle = needle_in_place(version=version)
    clinician = ClinicianFactory()
    needle.location.staff.add(clinician)
    newer = version.new_draft(author=ContentEditorFactory())
    step = newer.steps.get(slug="rem-syringe")
    step.text = "A step only the newer version has"
    step.save()
    newer.submit_for_review(by=newer.author)
    newer.publish(by=ContentEditorFactory())
    client.force_login(clinician)
    response = client.get(reverse("attempts:attempt-removal", args=[needle.public_id]))
    assert "A step only the newer version has" not in response.text
    assert version.steps.get(slug="rem-syringe").text in response.text


# 10. Every 422 shows its message.


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("R" * 65, "Keep the reference to 64 characters (an MRN or a trauma alias)."),
        ("T-\x00-1", "Null characters are not allowed."),
    ],
)
def test_a_bad_patient_reference_is_refused_at_the_field(start, reference, message):
    response = start(patient_reference=reference)
    assert response.status_code == 422
    assert field_errors(response.text, "start-patient_reference") == [message]
    assert not Episode.objects.exists()


@pytest.mark.django_db
def test_an_unknown_outcome_shows_its_message(tap, attempt):
    response = tap(attempt, "outcome", outcome="cured", reason="?")
    assert response.status_code == 422
    assert "Choose success, failed or abandoned." in response.text


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["", "not-a-token"])
def test_a_bad_token_on_troubleshoot_shows_its_message(tap, attempt, token):
    response = tap(attempt, "troubleshoot", client_token=token)
    assert response.status_code == 422
    assert "This screen is out of date. Reload the page and tap again." in (
        response.text
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"client_token": "nope"}, "This screen is out of date."),
        ({"other_complication": "x" * 201}, "Keep it to 200 characters."),
        ({"condition": "y" * 201}, "Keep the description to 200 characters."),
    ],
)
def test_removal_and_transfer_refusals_show_their_message(
    client, needle, data, message
):
    before = snapshot()
    removal = reverse("attempts:attempt-removal", args=[needle.public_id])
    payload = {"client_token": str(uuid.uuid4()), "condition": "Clean", **data}
    response = client.post(removal, payload)
    assert response.status_code == 422
    assert message in response.text
    transfer = reverse("attempts:attempt-transfer", args=[needle.public_id])
    if data.get("client_token"):
        response = client.post(
            transfer, {"location": LocationFactory().pk, "client_token": "nope"}
        )
        assert response.status_code == 422
        assert message in response.text
    assert snapshot() == before


@pytest.mark.django_db
def test_a_removal_of_a_needle_already_out_is_refused_with_the_reason(client, needle):
    url = reverse("attempts:attempt-removal", args=[needle.public_id])
    client.post(url, {"client_token": str(uuid.uuid4()), "condition": "Clean"})
    before = snapshot()
    again = client.post(url, {"client_token": str(uuid.uuid4()), "condition": "Clean"})
    assert again.status_code == 409
    assert flow.NOT_IN_PLACE in again.text
    assert snapshot() == before


@pytest.mark.django_db
def test_the_choose_another_site_link_reopens_the_site_card(client, tap, attempt):
    version = attempt.checklist_version
    tap(attempt, "indication")
    tap(attempt, "site", site=site(version, "proximal-humerus-adult").pk, side="left")
    screen = page(client, attempt).text
    assert "Choose another site</a>" in screen
    reopened = page(client, attempt, show="site").text
    assert 'aria-label="Proximal tibia, right"' in reopened
    # A card the flow does not reopen is not shown: the current one is.
    assert "Contraindication screen" in page(client, attempt, show="confirmation").text


@pytest.mark.django_db
def test_a_stopped_attempt_does_not_show_its_stages_as_done(client, tap, attempt):
    walk(attempt, to=flow.Stage.CONFIRMATION)
    assert 'aria-label="Progress"' in page(client, attempt).text
    tap(attempt, "outcome", outcome="failed", reason="No flow")
    closed = page(client, attempt).text
    assert "Attempt 1 failed" in closed
    assert 'aria-label="Progress"' not in closed
    assert "progress-done" not in closed
