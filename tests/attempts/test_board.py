"""The board of IO needles in place, the banner, removal, transfer and the label."""

import re
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from attempts.models import AttemptEvent, RecordAccess
from attempts.reminders import send_due_reminders
from tests.factories import (
    EpisodeFactory,
    LocationFactory,
    needle_in_place,
    published_version,
    started_attempt,
)

BOARD = reverse("attempts:board")


@pytest.fixture
def ward(clinician, bay):
    """Three needles at the clinician's bay: in place, due soon and overdue."""
    version = published_version()
    now = timezone.now()
    return {
        "overdue": needle_in_place(
            location=bay, version=version, inserted=now - timedelta(hours=25)
        ),
        "due_soon": needle_in_place(
            location=bay, version=version, inserted=now - timedelta(hours=21)
        ),
        "in_place": needle_in_place(
            location=bay, version=version, inserted=now - timedelta(hours=2)
        ),
    }


@pytest.mark.django_db
def test_board_shows_each_state_in_words_due_first(client, clinician, ward):
    client.force_login(clinician)
    text = client.get(BOARD).text
    positions = [text.index(word) for word in ("Overdue", "Due soon", "In place")]
    assert positions == sorted(positions)
    assert "overdue by 1 h 00 min" in text
    assert "2 h 59 min left" in text or "3 h 00 min left" in text
    assert text.count(">Record removal<") == 3


@pytest.mark.django_db
def test_banner_on_clinician_pages_counts_overdue_and_due_soon(client, clinician, ward):
    client.force_login(clinician)
    for url in (reverse("attempts:home"), BOARD, reverse("checklists:reference")):
        assert "1 IO needle overdue for removal · 1 due soon" in client.get(url).text
    assert "overdue for removal" in client.get(reverse("attempts:removal-banner")).text


@pytest.mark.django_db
def test_banner_counts_only_the_users_locations(client, clinician, bay):
    needle_in_place(
        location=LocationFactory(name="ICU"),
        inserted=timezone.now() - timedelta(hours=30),
    )
    client.force_login(clinician)
    assert "overdue for removal" not in client.get(reverse("attempts:home")).text


@pytest.mark.django_db
def test_record_removal_stops_the_clock_and_the_needle_leaves_board_and_banner(
    client, clinician, ward, time_machine
):
    client.force_login(clinician)
    overdue = ward["overdue"]
    time_machine.move_to(timezone.now(), tick=False)
    page = client.get(reverse("attempts:attempt-removal", args=[overdue.public_id]))
    assert "Do not rock the needle" in page.text or "Removal steps" in page.text
    response = client.post(
        reverse("attempts:attempt-removal", args=[overdue.public_id]),
        {"client_token": str(uuid.uuid4()), "condition": "Clean, no swelling"},
    )
    assert response["Location"] == BOARD
    overdue.refresh_from_db()
    assert overdue.removed_at == timezone.now()
    assert overdue.events.filter(kind=AttemptEvent.Kind.REMOVED).get().data[
        "condition"
    ] == ("Clean, no swelling")
    board = client.get(BOARD).text
    assert board.count(">Record removal<") == 2
    assert "overdue for removal" not in board
    assert "1 IO needle due soon for removal" in board


@pytest.mark.django_db
def test_removal_without_the_site_condition_is_refused_at_the_field(
    client, clinician, ward
):
    client.force_login(clinician)
    attempt = ward["in_place"]
    response = client.post(
        reverse("attempts:attempt-removal", args=[attempt.public_id]),
        {"client_token": str(uuid.uuid4()), "condition": ""},
    )
    assert response.status_code == 422
    assert "Describe the site after removal" in response.text
    attempt.refresh_from_db()
    assert attempt.removed_at is None


@pytest.mark.django_db
def test_a_removed_needle_never_appears_as_in_place(client, clinician, ward):
    client.force_login(clinician)
    removed = ward["overdue"]
    removed.record_event(
        kind=AttemptEvent.Kind.REMOVED, by=clinician, client_token=uuid.uuid4()
    )
    label = f"{removed.site.name}, left"
    home = client.get(reverse("attempts:home")).text
    board = client.get(BOARD).text
    assert home.count("inserted") == 2
    assert board.count(label) == 2 * 4  # site cell and three action labels per row
    assert "overdue for removal" not in board
    send_due_reminders(now=timezone.now())
    assert removed.events.filter(kind=AttemptEvent.Kind.REMINDER_SENT).count() == 0
    assert all(str(removed.public_id) not in message.body for message in mail.outbox)


@pytest.mark.django_db
def test_transfer_moves_the_patients_needles_and_the_reminders_follow(
    client, clinician, ward
):
    client.force_login(clinician)
    icu = LocationFactory(name="ICU", notify_email="icu@hospital.example")
    overdue = ward["overdue"]
    response = client.post(
        reverse("attempts:attempt-transfer", args=[overdue.public_id]),
        {
            "client_token": str(uuid.uuid4()),
            "location": icu.pk,
            "shown_at": overdue.location_id,
        },
    )
    assert response["Location"] == BOARD
    overdue.refresh_from_db()
    assert overdue.location == icu
    assert (
        overdue.events.filter(kind=AttemptEvent.Kind.TRANSFERRED).get().data["to"]
        == icu.pk
    )
    send_due_reminders(now=timezone.now())
    assert any("icu@hospital.example" in message.to for message in mail.outbox)
    assert client.get(BOARD).text.count(">Record removal<") == 2


@pytest.mark.django_db
def test_label_shows_the_times_and_a_qr_code_to_the_record(client, clinician, ward):
    client.force_login(clinician)
    attempt = ward["in_place"]
    response = client.get(reverse("attempts:attempt-label", args=[attempt.public_id]))
    local = timezone.localtime
    assert local(attempt.inserted_at).strftime("%-d %b %Y %H:%M") in response.text
    assert local(attempt.removal_due_at).strftime("%-d %b %Y %H:%M") in response.text
    assert "Remove by" in response.text
    assert "<svg" in response.text
    assert "Link to the attempt record" in response.text


@pytest.mark.django_db
def test_board_poll_is_a_read_only_partial_whose_queries_do_not_grow(
    client, clinician, bay
):
    client.force_login(clinician)
    version = published_version()
    for _ in range(3):
        needle_in_place(location=bay, version=version)
    with CaptureQueriesContext(connection) as few:
        response = client.get(BOARD, headers={"HX-Request": "true"})
    assert response.text.lstrip().startswith('<div id="board-table"')
    for _ in range(12):
        needle_in_place(location=bay, version=version)
    with CaptureQueriesContext(connection) as many:
        response = client.get(BOARD, headers={"HX-Request": "true"})
    assert response.text.count(">Record removal<") == 15
    assert len(many.captured_queries) == len(few.captured_queries)
    assert not any(
        q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        for q in many.captured_queries
    )


@pytest.mark.django_db
def test_removal_time_is_correctable_with_a_reason_and_the_original_stays(
    client, clinician, ward, tap
):
    attempt = ward["in_place"]
    removal = reverse("attempts:attempt-removal", args=[attempt.public_id])
    client.post(removal, {"client_token": str(uuid.uuid4()), "condition": "Clean"})
    attempt.refresh_from_db()
    recorded = attempt.removed_at
    earlier = timezone.localtime(recorded - timedelta(minutes=30)).strftime(
        "%Y-%m-%dT%H:%M"
    )

    refused = tap(attempt, "correction", field="removed_at", removed_at=earlier)
    assert refused.status_code == 422
    assert "Give the reason for the correction." in refused.text
    future = timezone.localtime(recorded + timedelta(hours=3)).strftime(
        "%Y-%m-%dT%H:%M"
    )
    refused = tap(
        attempt, "correction", field="removed_at", removed_at=future, reason="x"
    )
    assert "The removal time cannot be in the future." in refused.text

    tap(
        attempt,
        "correction",
        field="removed_at",
        removed_at=earlier,
        reason="Entered late",
    )
    attempt.refresh_from_db()
    assert attempt.removed_at.strftime("%H:%M") == (
        recorded - timedelta(minutes=30)
    ).strftime("%H:%M")
    assert attempt.events.get(kind=AttemptEvent.Kind.REMOVED).occurred_at == recorded
    correction = attempt.events.get(kind=AttemptEvent.Kind.CORRECTION)
    assert correction.data["reason"] == "Entered late"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("elapsed", "words"),
    [
        (timedelta(hours=19, minutes=59, seconds=59), "In place"),
        (timedelta(hours=20), "Due soon"),
        (timedelta(hours=23, minutes=59, seconds=59), "Due soon"),
        (timedelta(hours=24), "Overdue"),
    ],
)
@pytest.mark.parametrize("zone", ["Europe/London", "Europe/Berlin"])
def test_board_state_at_the_boundaries_as_the_clock_moves(
    client, clinician, bay, settings, time_machine, elapsed, words, zone
):
    from datetime import UTC, datetime

    settings.TIME_ZONE = zone
    settings.IOACCESS_REMOVAL_WARNING_HOURS = 4
    # 28 March 2026 13:00 in Berlin; that night the clocks go forward an hour.
    inserted = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    needle_in_place(location=bay, inserted=inserted)
    time_machine.move_to(inserted + elapsed, tick=False)
    client.force_login(clinician)
    text = client.get(BOARD).text
    states = {"In place", "Due soon", "Overdue"}
    assert f"</span> {words}</span>" in text
    for other in states - {words}:
        assert f"</span> {other}</span>" not in text


def poll_url(page):
    """The URL the board's table polls, as the page gives it to htmx."""
    return re.search(r'id="board-table" data-hx-get="([^"]*)"', page).group(1)


@pytest.mark.django_db
@pytest.mark.parametrize("placed", [False, True], ids=["anywhere", "placed tablet"])
def test_board_poll_runs_three_queries(client, clinician, bay, ward, placed):
    """The session, the user (with their permissions) and the needles with whether the user
    works at each one's location."""
    client.force_login(clinician)
    if placed:
        client.post(reverse("attempts:tablet"), {"place": bay.pk})
    url = poll_url(client.get(BOARD).text).replace("&amp;", "&")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers={"HX-Request": "true"})
    assert response.text.count(">Record removal<") == len(ward)
    assert len(queries.captured_queries) == 3


@pytest.mark.django_db
def test_banner_poll_runs_three_queries(client, clinician, ward):
    """The session, the user (with their permissions) and both counts in one query."""
    client.force_login(clinician)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            reverse("attempts:removal-banner"), headers={"HX-Request": "true"}
        )
    assert "1 IO needle overdue for removal · 1 due soon" in response.text
    assert len(queries.captured_queries) == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("attempts:attempt-removal", RecordAccess.Action.REMOVAL_PAGE),
        ("attempts:attempt-transfer", RecordAccess.Action.TRANSFER_PAGE),
    ],
)
def test_the_removal_and_transfer_pages_are_logged_views_of_the_record(
    client, clinician, ward, name, action
):
    """Both show the patient's reference and needle: each drawing is in the access log,
    and an empty POST is refused at the form (422), not drawn as a fresh page."""
    client.force_login(clinician)
    attempt = ward["in_place"]
    url = reverse(name, args=[attempt.public_id])
    before = RecordAccess.objects.count()
    assert client.get(url).status_code == 200
    entry = RecordAccess.objects.order_by("-pk").first()
    assert RecordAccess.objects.count() == before + 1
    assert (entry.user, entry.action, entry.attempt) == (clinician, action, attempt)
    events = attempt.events.count()
    response = client.post(url, {})
    assert response.status_code == 422
    assert "Reload the page" in response.text
    assert attempt.events.count() == events
    assert RecordAccess.objects.count() == before + 2


@pytest.mark.django_db
def test_a_transfer_sent_again_after_the_patient_left_answers_what_it_did(
    client, clinician, ward
):
    """A double tap or a retry of a lost answer: the needle is now where this clinician does
    not work, yet the answer is the first one's (not 'Not found'), and nothing moves twice."""
    client.force_login(clinician)
    icu = LocationFactory(name="ICU")
    needle = ward["in_place"]
    url = reverse("attempts:attempt-transfer", args=[needle.public_id])
    sent = {
        "client_token": str(uuid.uuid4()),
        "location": icu.pk,
        "shown_at": needle.location_id,
    }
    assert client.post(url, sent)["Location"] == BOARD
    moves = AttemptEvent.objects.filter(kind=AttemptEvent.Kind.TRANSFERRED).count()
    again = client.post(url, sent, follow=True)
    assert again.redirect_chain == [(BOARD, 302)]
    assert "1 IO needle(s) moved to ICU." in again.text
    assert (
        AttemptEvent.objects.filter(kind=AttemptEvent.Kind.TRANSFERRED).count() == moves
    )
    # Anything else about that needle is now another location's: not found.
    other = {**sent, "client_token": str(uuid.uuid4())}
    assert client.post(url, other).status_code == 404
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_no_label_for_a_needle_not_in_place(client, clinician, ward, bay):
    """A label gives a removal deadline: none for a needle removed or never in."""
    client.force_login(clinician)
    removed = ward["overdue"]
    removed.record_event(
        kind=AttemptEvent.Kind.REMOVED, by=clinician, client_token=uuid.uuid4()
    )
    never_in = started_attempt(episode=EpisodeFactory(location=bay))
    for attempt in (removed, never_in):
        page = client.get(reverse("attempts:attempt-label", args=[attempt.public_id]))
        assert page.status_code == 200
        assert "This IO needle is not in place" in page.text
        assert "Remove by" not in page.text
        assert "<svg" not in page.text
