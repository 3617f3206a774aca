"""Bad input: a message at the field that caused it, 422 for htmx, and nothing recorded changes."""

import uuid
from datetime import datetime, timedelta
from html import escape

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone

from attempts import flow
from attempts.forms import CorrectionForm
from attempts.models import Attempt, AttemptEvent, Episode
from tests.attempts.conftest import needle, site
from tests.factories import (
    ClinicianFactory,
    ContentEditorFactory,
    LocationFactory,
    started_attempt,
)
from tests.forms import field_errors, read_field


def snapshot(attempt):
    attempt = Attempt.objects.get(pk=attempt.pk)
    return (
        AttemptEvent.objects.count(),
        model_to_dict(attempt),
        attempt.episode.weight_kg,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("weight", "message"),
    [
        ("-1", "Enter a weight of at least 0.1 kg."),
        ("0", "Enter a weight of at least 0.1 kg."),
        # Each would be stored as 0.0 kg once rounded to the column's one decimal.
        ("0.01", "Enter a weight of at least 0.1 kg."),
        ("0,04", "Enter a weight of at least 0.1 kg."),
        ("0.00001", "Enter a weight of at least 0.1 kg."),
        ("1000", "That is more than any patient weighs: check the number (in kg)."),
        # Rounded to the stored tenth each would cross a needle band's edge (3 kg, 40 kg).
        (
            "2.96",
            "Enter the weight to one decimal place, e.g. 39.9: it is kept to 0.1 kg.",
        ),
        (
            "39.95",
            "Enter the weight to one decimal place, e.g. 39.9: it is kept to 0.1 kg.",
        ),
        (
            "39,95 kg",
            "Enter the weight to one decimal place, e.g. 39.9: it is kept to 0.1 kg.",
        ),
        ("abc", "Enter the weight in kg as a number, e.g. 72 or 72.5."),
        # What Python reads as a number but nobody types as a weight: 10, 10, 700 kg.
        ("1_0", "Enter the weight in kg as a number, e.g. 72 or 72.5."),
        ("1e1", "Enter the weight in kg as a number, e.g. 72 or 72.5."),
        ("7_0_0", "Enter the weight in kg as a number, e.g. 72 or 72.5."),
        ("7 0", "Enter the weight in kg as a number, e.g. 72 or 72.5."),
        ("70.5.1", "Enter the weight in kg as a number, e.g. 72 or 72.5."),
        ("Infinity", "Enter the weight in kg as a number, e.g. 72 or 72.5."),
    ],
)
def test_impossible_weight_is_refused_at_the_field_and_keeps_what_was_typed(
    start, weight, message
):
    response = start(
        weight_kg=weight, patient_reference="T-123", context="cardiac_arrest"
    )
    assert response.status_code == 422
    assert field_errors(response.text, "start-weight_kg") == [message]
    assert read_field(response.text, "start-weight_kg")[1]["value"] == weight
    assert read_field(response.text, "start-patient_reference")[1]["value"] == "T-123"
    assert not Episode.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("70,5", "70.5"),
        ("70.5", "70.5"),
        ("72", "72.0"),
        ("72 kg", "72.0"),
        ("72 KG", "72.0"),
        ("72Kg", "72.0"),
        (" 3.5 ", "3.5"),
        (".5", "0.5"),
        ("72.", "72.0"),
        ("72.50", "72.5"),
    ],
)
def test_a_weight_as_clinicians_type_it_is_accepted(start, typed, kept):
    response = start(age_group="child", weight_kg=typed)
    assert response.status_code == 302
    assert str(Episode.objects.get().weight_kg) == kept


@pytest.mark.django_db
def test_a_location_the_clinician_does_not_work_at_is_refused(start):
    elsewhere = LocationFactory(name="ICU")
    response = start(location=elsewhere.pk)
    assert response.status_code == 422
    assert "Choose one of your locations." in response.text
    assert not Episode.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        (
            "site",
            {"site": "999999", "side": "left"},
            "Choose one of the sites shown for this patient.",
        ),
        ("site", {"site": "abc", "side": "left"}, "Choose one of the sites shown."),
        ("site", {"side": "up"}, "Choose left or right."),
    ],
)
def test_unknown_site_or_side_is_refused(tap, attempt, action, data, message):
    tap(attempt, "indication")
    before = snapshot(attempt)
    data.setdefault("site", str(attempt.checklist_version.sites.first().pk))
    response = tap(attempt, action, **data)
    assert response.status_code == 422
    assert message in response.text
    assert snapshot(attempt) == before


@pytest.mark.django_db
def test_a_site_of_another_checklist_version_is_refused(tap, attempt, version):
    newer = version.new_draft(author=ContentEditorFactory())
    newer.submit_for_review(by=newer.author)
    newer.publish(by=ContentEditorFactory())
    tap(attempt, "indication")
    before = snapshot(attempt)
    foreign = newer.sites.get(slug="proximal-humerus-adult")
    response = tap(attempt, "site", site=foreign.pk, side="left")
    assert response.status_code == 422
    assert "Choose one of the sites shown for this patient." in response.text
    assert snapshot(attempt) == before


@pytest.mark.django_db
def test_an_unknown_needle_is_refused(tap, attempt, version):
    tap(attempt, "indication")
    tap(attempt, "site", site=site(version, "proximal-humerus-adult").pk, side="left")
    tap(attempt, "screen")
    before = snapshot(attempt)
    response = tap(attempt, "needle", needle="424242", tissue="normal")
    assert response.status_code == 422
    assert "Choose one of the needles shown." in response.text
    assert snapshot(attempt) == before


@pytest.mark.django_db
def test_unknown_step_or_a_step_of_another_card_is_refused(tap, attempt, version):
    tap(attempt, "indication")
    tap(attempt, "site", site=site(version, "proximal-humerus-adult").pk, side="left")
    tap(attempt, "screen")
    tap(attempt, "needle", needle=needle(version, "blue").pk, tissue="normal")
    before = snapshot(attempt)
    removal_step = version.steps.get(slug="rem-syringe").pk
    newer = version.new_draft(author=ContentEditorFactory())
    foreign_step = newer.steps.get(
        slug="prep-support-limb"
    ).pk  # same check, other version
    for step in ("999999", removal_step, foreign_step):
        response = tap(attempt, "check", step=step, checked="on")
        assert response.status_code == 422
        assert "Tap one of the checks shown on this card." in response.text
    assert snapshot(attempt) == before


@pytest.mark.django_db
def test_another_locations_attempt_is_not_found(client, attempt):
    stranger = ClinicianFactory()
    LocationFactory(name="ICU").staff.add(stranger)
    client.force_login(stranger)
    before = snapshot(attempt)
    for url in (
        reverse("attempts:attempt-detail", args=[attempt.public_id]),
        reverse("attempts:attempt-summary", args=[attempt.public_id]),
    ):
        assert client.get(url).status_code == 404
    record = reverse("attempts:attempt-record", args=[attempt.public_id, "indication"])
    assert client.post(record, {"client_token": str(uuid.uuid4())}).status_code == 404
    assert snapshot(attempt) == before


@pytest.mark.django_db
def test_a_tap_on_a_finished_attempt_is_refused(tap, attempt):
    tap(attempt, "outcome", outcome="abandoned")
    before = snapshot(attempt)
    response = tap(attempt, "indication")
    assert response.status_code == 409
    assert flow.FINISHED in response.text
    assert snapshot(attempt) == before


@pytest.mark.django_db
def test_a_replayed_token_with_different_data_is_refused(tap, attempt, version):
    token = str(uuid.uuid4())
    tap(attempt, "indication")
    humerus = site(version, "proximal-humerus-adult").pk
    tap(attempt, "site", client_token=token, site=humerus, side="left")
    before = snapshot(attempt)
    response = tap(attempt, "site", client_token=token, site=humerus, side="right")
    assert response.status_code == 422
    assert "This form was already used to record something else" in response.text
    assert snapshot(attempt) == before


@pytest.fixture
def inserted(tap, attempt, version):
    tap(attempt, "indication")
    tap(attempt, "site", site=site(version, "proximal-humerus-adult").pk, side="left")
    tap(attempt, "screen")
    tap(attempt, "needle", needle=needle(version, "blue").pk, tissue="normal")
    tap(attempt, "checks-done", all_confirmed="on")
    tap(attempt, "needle-in-bone")
    attempt.refresh_from_db()
    return attempt


def local(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        (
            {"field": "weight_kg", "weight_kg": "75"},
            "Give the reason for the correction.",
        ),
        (
            {"field": "side", "side": "", "reason": "Wrong side tapped"},
            "Choose the correct side.",
        ),
        (
            {"field": "weight_kg", "weight_kg": "1000", "reason": "typo"},
            "That is more than any patient weighs",
        ),
    ],
)
def test_a_bad_correction_is_refused_at_the_field(tap, inserted, data, field_message):
    before = snapshot(inserted)
    response = tap(inserted, "correction", **data)
    assert response.status_code == 422
    assert field_message in response.text
    assert snapshot(inserted) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("shift", "message"),
    [
        (timedelta(hours=2), "The insertion time cannot be in the future."),
        (
            -timedelta(hours=2),
            "The insertion time cannot be before the attempt started.",
        ),
    ],
)
def test_an_impossible_insertion_time_is_refused(tap, inserted, shift, message):
    before = snapshot(inserted)
    moment = (inserted.started_at if shift < timedelta(0) else timezone.now()) + shift
    response = tap(
        inserted,
        "correction",
        field="inserted_at",
        inserted_at=local(moment),
        reason="Clock",
    )
    assert response.status_code == 422
    assert message in response.text
    assert snapshot(inserted) == before


@pytest.mark.django_db
def test_the_minute_the_attempt_started_is_an_insertion_time_never_before_the_start(
    tap, inserted
):
    """The field takes minutes, the record seconds: the start's own minute, typed as the
    insertion time, is the start, not its minute's first second before it."""
    response = tap(
        inserted,
        "correction",
        field="inserted_at",
        inserted_at=local(inserted.started_at),
        reason="Clock",
    )
    assert response.status_code == 200
    inserted.refresh_from_db()
    assert inserted.inserted_at == inserted.started_at
    assert inserted.to_bone == timedelta(0)
    before = snapshot(inserted)
    response = tap(
        inserted,
        "correction",
        field="inserted_at",
        inserted_at=local(inserted.started_at - timedelta(minutes=1)),
        reason="Clock",
    )
    assert response.status_code == 422
    assert "The insertion time cannot be before the attempt started." in response.text
    assert snapshot(inserted) == before


@pytest.mark.django_db
def test_corrections_append_and_a_later_insertion_time_is_flagged(
    tap, inserted, time_machine, client, settings
):
    # Half an hour later at the same tablet, not locked meanwhile (the idle lock is #13's test).
    settings.IOACCESS_IDLE_LOCK_MINUTES = 60
    original = inserted.inserted_at
    tap(
        inserted,
        "correction",
        field="weight_kg",
        weight_kg="80",
        reason="Weighed on the bed scale",
    )
    inserted.refresh_from_db()
    assert str(inserted.episode.weight_kg) == "80.0"
    assert not inserted.is_flagged

    time_machine.move_to(timezone.now() + timedelta(minutes=30), tick=False)
    later = original + timedelta(minutes=20)
    tap(
        inserted,
        "correction",
        field="inserted_at",
        inserted_at=local(later),
        reason="Remembered later",
    )
    inserted.refresh_from_db()
    assert inserted.is_flagged
    # The clock keeps running from the earliest credible time.
    assert inserted.inserted_at == original
    summary = client.get(reverse("attempts:attempt-summary", args=[inserted.public_id]))
    assert "Weight (kg): 72.0 → 80.0" in summary.text
    assert "Later insertion time: flagged for review" in summary.text
    # Times on the hospital's clock, not as stored.
    moved = f"{timezone.localtime(original):%d %b %Y %H:%M:%S} → "
    assert escape(moved) in summary.text or moved in summary.text
    assert later.isoformat() not in summary.text
    assert inserted.events.filter(kind="correction").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("charset", ["utf-16", "latin-1"])
def test_a_form_not_sent_as_utf8_is_refused_with_400_and_records_nothing(
    client, clinician, charset
):
    """Django will not read such a body: a 400 that says why, never a 500 (the test client
    raises on a server error), whether signed in or not."""
    attempt = started_attempt()
    attempt.location.staff.add(clinician)
    before = snapshot(attempt)
    # The test client encodes the text in the charset declared.
    body = f"client_token={uuid.uuid4()}&username=clinician"
    content_type = f"application/x-www-form-urlencoded; charset={charset}"
    tap_url = reverse("attempts:attempt-record", args=[attempt.public_id, "indication"])
    for signed_in, url in ((False, reverse("accounts:login")), (True, tap_url)):
        if signed_in:
            client.force_login(clinician)
        response = client.post(url, body, content_type=content_type)
        assert response.status_code == 400
        assert "This form was not sent as UTF-8" in response.text
    assert snapshot(attempt) == before


@pytest.mark.django_db
def test_bad_input_on_a_tap_the_stage_does_not_take_is_refused_with_the_reason(
    tap, inserted
):
    """Stop with a too-long reason once the needle is in place: no stop card is drawn to
    show a message at its field, so the answer is the refusal (409) and the current card."""
    tap(inserted, "confirm", all_confirmed="on")
    tap(inserted, "outcome", outcome="success")
    inserted.refresh_from_db()
    before = snapshot(inserted)
    response = tap(inserted, "outcome", outcome="failed", reason="x" * 501)
    assert response.status_code == 409
    assert flow.not_now(inserted, AttemptEvent.Kind.OUTCOME_RECORDED, {}) in (
        response.text
    )
    assert snapshot(inserted) == before


@pytest.mark.django_db
def test_the_side_is_not_corrected_before_the_needle_is_in_but_chosen_and_screened_again(
    client, tap, attempt, version
):
    """A correction would change the limb after its screen; the site card screens the new one."""
    tap(attempt, "indication")
    tap(attempt, "site", site=site(version, "proximal-humerus-adult").pk, side="left")
    tap(attempt, "screen")
    tap(attempt, "needle", needle=needle(version, "blue").pk, tissue="normal")
    page = client.get(reverse("attempts:attempt-detail", args=[attempt.public_id]))
    assert "Preparation" in page.text
    assert "Correct a recorded value" not in page.text
    before = snapshot(attempt)
    response = tap(
        attempt, "correction", field="side", side="right", reason="Wrong side tapped"
    )
    assert response.status_code == 409
    assert flow.NOTHING_TO_CORRECT in response.text
    assert snapshot(attempt) == before

    tap(attempt, "site", site=site(version, "proximal-humerus-adult").pk, side="right")
    attempt.refresh_from_db()
    assert (attempt.side, attempt.stage) == ("right", flow.Stage.SCREEN)


@pytest.mark.parametrize(
    ("typed", "meant", "error"),
    [
        # Europe/London, 25 Oct 2026: 01:00-01:59 showed twice; the first time is taken.
        ("2026-10-25T01:30", "2026-10-25T00:30:00+00:00", None),
        ("2026-10-25T02:30", "2026-10-25T02:30:00+00:00", None),
        # 29 Mar 2026: 01:00-01:59 never showed.
        ("2026-03-29T01:30", None, "The clocks went forward then"),
    ],
)
def test_a_corrected_time_on_a_night_the_clocks_change(settings, typed, meant, error):
    settings.TIME_ZONE = "Europe/London"
    form = CorrectionForm(
        {"field": "inserted_at", "inserted_at": typed, "reason": "Clock"},
        attempt=Attempt(),
    )
    form.is_valid()
    if error:
        assert error in form.errors["inserted_at"][0]
    else:
        assert "inserted_at" not in form.errors
        assert form.cleaned_data["inserted_at"] == datetime.fromisoformat(meant)
