"""The supervisor's downloads: the attempts CSV, the events CSV and the FHIR bundles (#11).

Attempts are tapped through `record_event` the way the bay records them (the site, side and
needle as the bay's forms store them), at known times: a summer date, so the hospital's zone
(Europe/London, UTC+1) shows in the offsets.
"""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from attempts.flow import Stage
from attempts.models import AttemptEvent, RecordAccess
from review import exports
from review.csvstream import BOM
from review.timeline import timeline
from tests.factories import (
    EpisodeFactory,
    LocationFactory,
    reference_version,
    started_attempt,
    walk,
)

Kind = AttemptEvent.Kind
SUMMER = datetime(2026, 7, 14, 7, 0, tzinfo=UTC)
TO_BONE = timedelta(seconds=75)
LIST_EXPORTS = ("review:list-csv", "review:events-csv", "review:list-fhir")
CSV_EXPORTS = ("review:list-csv", "review:events-csv")
ACTIONS = {
    "review:list-csv": RecordAccess.Action.LIST_CSV,
    "review:events-csv": RecordAccess.Action.EVENTS_CSV,
    "review:list-fhir": RecordAccess.Action.FHIR,
}


# ---------------------------------------------------------------------------------------------
# Attempts as the bay makes them (test_fhir.py uses these too).


def tap(attempt, kind, data=None):
    return attempt.record_event(
        kind=kind, by=attempt.operator, client_token=uuid.uuid4(), data=data or {}
    )


def bay_attempt(
    version,
    *,
    start=SUMMER,
    to=Stage.AFTERCARE,
    location=None,
    patient_reference="",
    age_group="adult",
    weight_kg=70,
    site="proximal-tibia-adult",
    side="left",
    needle="blue-25mm",
):
    """An attempt tapped up to `to` (INDICATION, INSERTION, CONFIRMATION or AFTERCARE): the
    site, side and (suggested) needle given, needle in bone 75 s after the start and confirmed
    30 s later."""
    episode = EpisodeFactory(
        location=location or LocationFactory(),
        patient_reference=patient_reference,
        age_group=age_group,
        weight_kg=weight_kg,
    )
    chosen = version.sites.get(slug=site)
    needle = version.needle_sizes.get(slug=needle)
    with time_machine.travel(start, tick=False):
        attempt = started_attempt(episode=episode, version=version)
        if to == Stage.INDICATION:
            return attempt
        walk(attempt, to=Stage.SITE)
        tap(
            attempt,
            Kind.SITE_CHOSEN,
            {
                "site": chosen.pk,
                "site_name": chosen.name,
                "bone": chosen.bone,
                "side": side,
            },
        )
        walk(attempt, to=Stage.NEEDLE)
        tap(
            attempt,
            Kind.NEEDLE_CHOSEN,
            {
                "needle": needle.pk,
                "needle_name": str(needle),
                "tissue": "normal",
                "suggested": needle.pk,
                "reason": "",
            },
        )
        walk(attempt, to=Stage.INSERTION)
    if to != Stage.INSERTION:
        with time_machine.travel(start + TO_BONE, tick=False):
            walk(attempt, to=Stage.CONFIRMATION)
    if to == Stage.AFTERCARE:
        with time_machine.travel(start + TO_BONE + timedelta(seconds=30), tick=False):
            walk(attempt, to=Stage.AFTERCARE)
    attempt.refresh_from_db()
    return attempt


def remove(attempt, *, at, complications=(), other="", condition="Clean, no swelling"):
    with time_machine.travel(at, tick=False):
        tap(
            attempt,
            Kind.REMOVED,
            {
                "condition": condition,
                "complications": list(complications),
                "other_complication": other,
            },
        )
    attempt.refresh_from_db()
    return attempt


def stop(attempt, outcome, reason=""):
    tap(attempt, Kind.OUTCOME_RECORDED, {"outcome": outcome, "reason": reason})
    attempt.refresh_from_db()
    return attempt


def transfer(attempt, to, *, at):
    """The patient moved to `to` with the needle in place, as the bay's Transfer records it."""
    with time_machine.travel(at, tick=False):
        attempt.episode.transfer_needles(
            by=attempt.operator,
            to=to,
            client_token=uuid.uuid4(),
            shown_at=attempt.location_id,
        )
    attempt.refresh_from_db()
    return attempt


def csv_rows(response):
    """The downloaded CSV read back by Python's csv reader, after its BOM."""
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM) :], newline="")))


def records(rows, header):
    """The data rows as dicts, checked for the header and the trailer that counts them."""
    assert tuple(rows[0]) == header
    *data, trailer = rows[1:]
    count = len(data)
    assert trailer == [f"# {count} record{'' if count == 1 else 's'}"]
    return [dict(zip(header, row, strict=True)) for row in data]


def url(name, query=""):
    return reverse(name) + (f"?{query}" if query else "")


@pytest.fixture
def version(db):
    return reference_version()


@pytest.fixture
def signed_in(client, supervisor):
    client.force_login(supervisor)
    return client


# ---------------------------------------------------------------------------------------------
# The attempts CSV


@pytest.mark.django_db
def test_supervisor_gets_every_attempt_as_a_csv_row(signed_in, version):
    bay = LocationFactory(name="Resus 1")
    removed = remove(
        bay_attempt(version, location=bay, patient_reference="MRN 1234"),
        at=SUMMER + timedelta(hours=20),
    )
    failed = stop(
        bay_attempt(version, start=SUMMER + timedelta(hours=1), to=Stage.CONFIRMATION),
        "failed",
        "No flow",
    )
    response = signed_in.get(url("review:list-csv"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = records(csv_rows(response), exports.ATTEMPT_HEADER)
    assert [row["Attempt id"] for row in rows] == [
        str(failed.public_id),
        str(removed.public_id),
    ]
    row = rows[1]
    assert row["Location"] == "Resus 1"
    assert row["Operator"] == removed.operator.get_full_name()
    assert row["Patient reference"] == "MRN 1234"
    assert row["Age group"] == "Adult"
    assert row["Weight (kg)"] == "70.0"
    assert row["Attempt number"] == "1"
    assert (row["Site"], row["Side"], row["Needle"]) == (
        "Proximal tibia",
        "Left",
        "25 mm blue",
    )
    assert row["Outcome"] == "Success"
    assert row["Minutes from start to needle in bone"] == "1.2"
    assert row["Dwell (minutes)"] == str(round(20 * 60 - 75 / 60, 1))
    assert (row["Deviations"], row["Reviewed"]) == ("0", "no")
    assert row["Checklist version"] == str(version.number)
    assert rows[0]["Outcome"] == "Failed"
    assert rows[0]["Removed"] == rows[0]["Placement confirmed"] == ""
    assert rows[0]["Dwell (minutes)"] == ""


@pytest.mark.django_db
def test_csv_times_are_iso_with_the_hospital_offset(signed_in, version):
    attempt = remove(bay_attempt(version), at=SUMMER + timedelta(hours=3))
    (row,) = records(
        csv_rows(signed_in.get(url("review:list-csv"))), exports.ATTEMPT_HEADER
    )
    expected = {
        "Started": SUMMER,
        "Needle in bone": SUMMER + TO_BONE,
        "Placement confirmed": SUMMER + TO_BONE + timedelta(seconds=30),
        "Removed": attempt.removed_at,
    }
    for column, moment in expected.items():
        parsed = datetime.fromisoformat(row[column])
        assert parsed.utcoffset() == timedelta(hours=1), column
        assert parsed == moment, column


@pytest.mark.django_db
@pytest.mark.parametrize(
    "reference",
    [
        '=HYPERLINK("http://evil.example","x")',
        "+1-2",
        "-2+3",
        "-A1",
        "@SUM(A1)",
        "\t-3",
    ],
)
def test_a_patient_reference_that_looks_like_a_formula_is_neutralised(
    signed_in, version, reference
):
    bay_attempt(version, patient_reference=reference, to=Stage.INDICATION)
    (row,) = records(
        csv_rows(signed_in.get(url("review:list-csv"))), exports.ATTEMPT_HEADER
    )
    assert row["Patient reference"] == "'" + reference


@pytest.mark.django_db
def test_a_plain_negative_number_is_written_as_a_number_not_as_text(signed_in, version):
    # Durations are never negative (the bay keeps every time after the start), but a
    # patient reference can be a plain negative number: no formula, so no apostrophe.
    bay_attempt(version, patient_reference="-1234", to=Stage.INDICATION)
    rows = records(
        csv_rows(signed_in.get(url("review:list-csv"))), exports.ATTEMPT_HEADER
    )
    assert "-1234" in [row["Patient reference"] for row in rows]


@pytest.mark.django_db
def test_csv_keeps_only_the_filtered_location(signed_in, version):
    resus, icu = LocationFactory(name="Resus 1"), LocationFactory(name="ICU")
    bay_attempt(version, location=resus, to=Stage.INDICATION)
    kept = bay_attempt(version, location=icu, to=Stage.INDICATION)
    response = signed_in.get(url("review:list-csv", f"location={icu.pk}"))
    (row,) = records(csv_rows(response), exports.ATTEMPT_HEADER)
    assert (row["Location"], row["Attempt id"]) == ("ICU", str(kept.public_id))


@pytest.mark.django_db
def test_csv_filename_carries_the_date_and_the_count(signed_in, supervisor, version):
    for hour in range(3):
        bay_attempt(version, start=SUMMER + timedelta(hours=hour), to=Stage.INDICATION)
    with time_machine.travel(datetime(2026, 11, 27, 12, 0, tzinfo=UTC), tick=False):
        # Signed in that day: a session from another day would be locked or over (#13).
        signed_in.logout()
        signed_in.force_login(supervisor)
        response = signed_in.get(url("review:list-csv"))
    assert response["Content-Disposition"] == (
        'attachment; filename="ioaccess-attempts-2026-11-27-3-records.csv"'
    )


@pytest.mark.django_db
def test_an_empty_list_is_a_header_and_a_zero_count(signed_in):
    rows = csv_rows(signed_in.get(url("review:list-csv")))
    assert rows == [list(exports.ATTEMPT_HEADER), ["# 0 records"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("review:list-csv", exports.ATTEMPT_HEADER),
        ("review:events-csv", exports.EVENT_HEADER),
    ],
)
def test_rows_read_in_chunks_keep_their_order_and_count(
    signed_in, version, monkeypatch, name, header
):
    attempts = [
        bay_attempt(version, start=SUMMER + timedelta(hours=hour), to=Stage.INDICATION)
        for hour in range(5)
    ]
    whole = records(csv_rows(signed_in.get(url(name))), header)
    monkeypatch.setattr(exports, "CHUNK", 2)
    chunked = records(csv_rows(signed_in.get(url(name))), header)
    assert chunked == whole
    # Newest first; each of these attempts has one event (its start).
    assert [row["Attempt id"] for row in chunked] == [
        str(attempt.public_id) for attempt in reversed(attempts)
    ]


@pytest.mark.django_db
def test_a_transferred_needle_is_listed_where_the_attempt_was_made(signed_in, version):
    resus, icu = LocationFactory(name="Resus 1"), LocationFactory(name="ICU")
    moved = transfer(
        bay_attempt(version, location=resus), icu, at=SUMMER + timedelta(hours=2)
    )
    stayed = bay_attempt(version, location=icu, start=SUMMER + timedelta(hours=1))

    rows = records(
        csv_rows(signed_in.get(url("review:list-csv", f"location={resus.pk}"))),
        exports.ATTEMPT_HEADER,
    )
    assert [(r["Attempt id"], r["Location"], r["Transferred to"]) for r in rows] == [
        (str(moved.public_id), "Resus 1", "ICU")
    ]
    rows = records(
        csv_rows(signed_in.get(url("review:list-csv", f"location={icu.pk}"))),
        exports.ATTEMPT_HEADER,
    )
    assert [(r["Attempt id"], r["Location"], r["Transferred to"]) for r in rows] == [
        (str(stayed.public_id), "ICU", "")
    ]


# ---------------------------------------------------------------------------------------------
# The events CSV


@pytest.mark.django_db
def test_events_csv_says_what_each_event_recorded_as_the_timeline_does(
    signed_in, version
):
    older = remove(
        bay_attempt(version, patient_reference="Trauma Alpha"),
        at=SUMMER + timedelta(hours=2),
        complications=["Extravasation"],
    )
    newer = bay_attempt(version, start=SUMMER + timedelta(hours=1))
    with time_machine.travel(SUMMER + timedelta(hours=1, minutes=5), tick=False):
        tap(
            newer,
            Kind.CORRECTION,
            {"field": "side", "new": "right", "reason": "Tapped the wrong side"},
        )
    with time_machine.travel(SUMMER + timedelta(hours=21), tick=False):
        # As the sweeper records it: by nobody.
        newer.record_event(
            kind=Kind.REMINDER_SENT,
            by=None,
            client_token=uuid.uuid4(),
            data={"reminder": "due_soon", "to": ["resus@hospital.example"]},
        )

    rows = records(
        csv_rows(signed_in.get(url("review:events-csv"))), exports.EVENT_HEADER
    )

    expected = [
        (attempt, line) for attempt in (newer, older) for line in timeline(attempt)
    ]
    assert len(rows) == len(expected)
    for row, (attempt, line) in zip(rows, expected, strict=True):
        assert row["Attempt id"] == str(attempt.public_id)
        assert row["Attempt number"] == str(attempt.number)
        assert row["Kind"] == line.event.kind
        assert row["What"] == line.what
        assert row["Details"] == "; ".join(line.details)
        assert row["Deviation"] == line.deviation_label
        assert datetime.fromisoformat(row["Recorded at"]) == line.event.recorded_at
        assert datetime.fromisoformat(row["Occurred at"]) == line.event.occurred_at
        assert row["Seconds since start"] == str(int(line.since_start.total_seconds()))
    by_kind = {(row["Attempt id"], row["Kind"]): row for row in rows}
    correction = by_kind[(str(newer.public_id), Kind.CORRECTION)]
    assert correction["Deviation"] == "Recorded value corrected"
    assert correction["Details"] == "Side: left → right; Reason: Tapped the wrong side"
    assert correction["Seconds since start"] == "300"
    reminder = by_kind[(str(newer.public_id), Kind.REMINDER_SENT)]
    assert reminder["Recorded by"] == "System"
    assert reminder["Deviation"] == "Removal reminder sent"
    removal = by_kind[(str(older.public_id), Kind.REMOVED)]
    assert removal["Details"] == (
        "Site: Clean, no swelling; Complications: Extravasation"
    )
    assert removal["Recorded by"] == older.operator.get_full_name()


@pytest.mark.django_db
def test_events_csv_keeps_only_the_filtered_attempts(signed_in, version):
    resus, icu = LocationFactory(name="Resus 1"), LocationFactory(name="ICU")
    bay_attempt(version, location=resus)
    kept = bay_attempt(version, location=icu, start=SUMMER + timedelta(hours=1))
    response = signed_in.get(url("review:events-csv", f"location={icu.pk}"))
    rows = records(csv_rows(response), exports.EVENT_HEADER)
    assert {row["Attempt id"] for row in rows} == {str(kept.public_id)}
    assert {row["Location"] for row in rows} == {"ICU"}
    assert len(rows) == kept.events.count()
    assert response["Content-Disposition"].endswith(f'-{len(rows)}-records.csv"')


@pytest.mark.django_db
def test_each_event_is_where_the_patient_was_when_it_happened(signed_in, version):
    resus, icu = LocationFactory(name="Resus 1"), LocationFactory(name="ICU")
    attempt = transfer(
        bay_attempt(version, location=resus), icu, at=SUMMER + timedelta(hours=2)
    )
    remove(attempt, at=SUMMER + timedelta(hours=5))
    rows = records(
        csv_rows(signed_in.get(url("review:events-csv"))), exports.EVENT_HEADER
    )
    places = [(row["Kind"], row["Location"]) for row in rows]
    moved = places.index((Kind.TRANSFERRED, "Resus 1"))
    assert (Kind.STARTED, "Resus 1") in places[:moved]
    assert (Kind.NEEDLE_IN_BONE, "Resus 1") in places[:moved]
    assert {where for _, where in places[:moved]} == {"Resus 1"}
    assert places[moved + 1 :] == [(Kind.REMOVED, "ICU")]


# ---------------------------------------------------------------------------------------------
# Audit: one row per download


@pytest.mark.django_db
@pytest.mark.parametrize("name", LIST_EXPORTS)
def test_each_download_writes_one_audit_row_with_its_filter_and_count(
    signed_in, supervisor, version, name
):
    resus, icu = LocationFactory(name="Resus 1"), LocationFactory(name="ICU")
    bay_attempt(version, location=resus, to=Stage.INDICATION)
    kept = [
        bay_attempt(
            version,
            location=icu,
            start=SUMMER + timedelta(hours=hour),
            to=Stage.INDICATION,
        )
        for hour in (1, 2)
    ]
    query = f"location={icu.pk}&outcome=in_progress"
    response = signed_in.get(url(name, query))
    if response.streaming:
        b"".join(response.streaming_content)

    access = RecordAccess.objects.get()
    assert (access.user, access.action, access.attempt) == (
        supervisor,
        ACTIONS[name],
        None,
    )
    assert access.query == query
    held = (
        sum(attempt.events.count() for attempt in kept)
        if name == "review:events-csv"
        else len(kept)
    )
    assert access.record_count == held


@pytest.mark.django_db
def test_an_attempts_fhir_download_is_logged_against_the_attempt(
    signed_in, supervisor, version
):
    attempt = bay_attempt(version, to=Stage.INDICATION)
    signed_in.get(reverse("review:attempt-fhir", args=[attempt.public_id]))
    access = RecordAccess.objects.get()
    assert (access.user, access.action, access.attempt, access.record_count) == (
        supervisor,
        RecordAccess.Action.FHIR,
        attempt,
        1,
    )


# ---------------------------------------------------------------------------------------------
# Who may download, and with what input


def export_urls():
    attempt = bay_attempt(reference_version(), to=Stage.INDICATION)
    return [url(name) for name in LIST_EXPORTS] + [
        reverse("review:attempt-fhir", args=[attempt.public_id])
    ]


@pytest.mark.django_db
def test_clinician_cannot_download_anything(client, clinician):
    client.force_login(clinician)
    for address in export_urls():
        response = client.get(address)
        assert response.status_code == 403, address
    assert not RecordAccess.objects.exists()


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    for address in export_urls():
        response = client.get(address)
        assert response.status_code == 302, address
        assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_downloads_refuse_post(signed_in):
    for address in export_urls():
        assert signed_in.post(address).status_code == 405, address


@pytest.mark.django_db
def test_unknown_attempt_is_404(signed_in):
    response = signed_in.get(reverse("review:attempt-fhir", args=[uuid.uuid4()]))
    assert response.status_code == 404
    assert not RecordAccess.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", LIST_EXPORTS)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("location=abc", "location"),
        ("started_from=notadate", "started_from"),
        ("started_to=2026-02-30", "started_to"),
        ("outcome=exploded", "outcome"),
        ("operator=99999999999999999999", "operator"),
    ],
)
def test_bad_filter_is_a_400_naming_the_field(signed_in, name, query, field):
    response = signed_in.get(url(name, query))
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert f"\n{field} (" in response.text
    assert not RecordAccess.objects.exists()


FILTER_NAMES = (
    "started_from",
    "started_to",
    "location",
    "operator",
    "site",
    "outcome",
    "overdue",
    "has_deviations",
    "not_reviewed",
    "page",
)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
VALUES = st.one_of(
    TEXT,
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.dates().map(str),
    st.sampled_from(
        ["", "0", "-1", "1e3", "true", "on", "in_progress", "proximal-tibia-adult"]
    ),
)
PARAMS = st.lists(
    st.tuples(st.one_of(st.sampled_from(FILTER_NAMES), TEXT), VALUES), max_size=6
)
# Never flaky in CI: the same examples on every run, and no example database.
FUZZ = settings(
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
    database=None,
)


@pytest.mark.django_db
@pytest.mark.parametrize("name", [*LIST_EXPORTS, "review:attempt-fhir"])
@FUZZ
@given(params=PARAMS)
@example(params=[("location", "abc")])
@example(params=[("started_from", "notadate")])
@example(params=[("location", str(2**70))])
@example(params=[("site", "\x00"), ("outcome", "\x00")])
@example(params=[("started_from", "9999-12-31"), ("started_to", "0001-01-01")])
@example(params=[("overdue", "yes"), ("has_deviations", "1"), ("not_reviewed", "x")])
def test_any_query_string_gets_a_download_or_a_400(
    client, supervisor, fuzz_attempt, name, params
):
    client.force_login(supervisor)
    kwargs = (
        {"public_id": fuzz_attempt.public_id} if name == "review:attempt-fhir" else {}
    )
    before = RecordAccess.objects.count()
    response = client.get(f"{reverse(name, kwargs=kwargs)}?{urlencode(params)}")
    if response.streaming:
        b"".join(response.streaming_content)
    assert response.status_code in (200, 400), params
    written = RecordAccess.objects.count() - before
    assert written == (1 if response.status_code == 200 else 0)


@pytest.fixture
def fuzz_attempt(version):
    return remove(bay_attempt(version), at=SUMMER + timedelta(hours=25))


# ---------------------------------------------------------------------------------------------
# Queries: the same number for 3 attempts as for 12


def queries_for(client, address):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(address)
        assert response.status_code == 200
        if response.streaming:
            b"".join(response.streaming_content)
        else:
            response.content  # noqa: B018 - read it all inside the capture
    return len(queries)


# Session, user (with their permissions), the ids, the rows, the audit row.
LIST_CSV_QUERIES = 5
# The same, with the four queries of the words (steps, needles, locations, sites).
EVENTS_CSV_QUERIES = 9
# Session, user (with their permissions), the attempts, their outcome and removal events, the
# audit.
LIST_FHIR_QUERIES = 5


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("review:list-csv", LIST_CSV_QUERIES),
        ("review:events-csv", EVENTS_CSV_QUERIES),
        ("review:list-fhir", LIST_FHIR_QUERIES),
    ],
)
def test_downloads_run_the_same_queries_for_3_attempts_as_for_12(
    signed_in, version, name, expected
):
    def add(count, offset):
        for hour in range(offset, offset + count):
            attempt = bay_attempt(version, start=SUMMER + timedelta(hours=hour))
            if hour % 2:
                remove(attempt, at=SUMMER + timedelta(hours=hour, minutes=30))

    add(3, 0)
    few = queries_for(signed_in, url(name))
    add(9, 3)
    many = queries_for(signed_in, url(name))
    assert few == many == expected
