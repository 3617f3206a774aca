"""The operator log: who operated, how it went, and each clinician's procedure list as CSV."""

import csv
import io
import statistics
import uuid
from datetime import UTC, datetime, timedelta
from html import escape

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from attempts.flow import Stage
from attempts.models import RecordAccess
from review.csvstream import BOM
from review.models import SignOff
from review.numbers import CSV_HEADER
from tests.factories import (
    ClinicianFactory,
    EpisodeFactory,
    LocationFactory,
    reference_version,
    started_attempt,
    walk,
)

START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def operated(operator, *, bay, version, started, to_bone=None, outcome="success"):
    """An attempt by `operator`: needle in bone `to_bone` seconds after Start, then `outcome`."""
    episode = EpisodeFactory(
        location=bay,
        created_by=operator,
        patient_reference=f"MRN-{uuid.uuid4().hex[:8]}",
    )
    with time_machine.travel(started, tick=False):
        attempt = walk(
            started_attempt(episode=episode, version=version), to=Stage.INSERTION
        )
    if to_bone is None:
        with time_machine.travel(started + timedelta(seconds=30), tick=False):
            attempt.record_event(
                kind="outcome_recorded",
                by=operator,
                client_token=uuid.uuid4(),
                data={"outcome": outcome, "reason": "No landmarks"},
            )
        return attempt
    with time_machine.travel(started + timedelta(seconds=to_bone), tick=False):
        walk(attempt, to=Stage.AFTERCARE)
    return attempt


@pytest.fixture
def version(db):
    return reference_version()


@pytest.fixture
def bay(db):
    return LocationFactory()


@pytest.fixture
def trainee(bay, version, supervisor):
    """Four attempts: three needles in bone after 100, 140 and 200 s, one that failed."""
    operator = ClinicianFactory()
    attempts = [
        operated(
            operator,
            bay=bay,
            version=version,
            started=START + timedelta(days=day),
            to_bone=seconds,
        )
        for day, seconds in ((0, 140), (1, 100), (2, 200))
    ]
    attempts.append(
        operated(
            operator,
            bay=bay,
            version=version,
            started=START + timedelta(days=3),
            outcome="failed",
        )
    )
    SignOff.objects.create(
        attempt=attempts[0], by=supervisor, feedback="Landmarks found quickly."
    )
    SignOff.objects.create(
        attempt=attempts[1], by=supervisor, feedback="Ready.", competent=True
    )
    operator.log = attempts
    return operator


@pytest.mark.django_db
def test_supervisor_sees_each_operator_with_their_figures(
    client, supervisor, trainee, bay, version
):
    other = ClinicianFactory()
    operated(other, bay=bay, version=version, started=START, to_bone=90)
    operated(other, bay=bay, version=version, started=START, to_bone=135)
    client.force_login(supervisor)

    response = client.get(reverse("review:operators"))

    lines = {line.id: line for line in response.context["lines"]}
    assert set(lines) == {trainee.pk, other.pk}
    line = lines[trainee.pk]
    assert (line.attempts, line.finished, line.successes) == (4, 4, 3)
    assert line.success_pct == 75.0
    assert line.to_bone.median == statistics.median([140, 100, 200]) == 140
    assert (line.sign_offs, line.competent) == (2, True)
    assert (lines[other.pk].sign_offs, lines[other.pk].competent) == (0, False)
    # An even count: the median lies between the two values (interpolated, both databases).
    assert lines[other.pk].to_bone.median == statistics.median([90, 135]) == 112.5
    assert reverse("review:operator-log", args=[trainee.pk]) in response.text
    assert "2 min 20 s" in response.text


@pytest.mark.django_db
def test_operator_list_query_count_does_not_grow_with_operators(
    client, supervisor, bay, version, django_assert_num_queries
):
    client.force_login(supervisor)
    url = reverse("review:operators")
    operated(ClinicianFactory(), bay=bay, version=version, started=START, to_bone=90)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for day in range(1, 5):
        operated(
            ClinicianFactory(),
            bay=bay,
            version=version,
            started=START + timedelta(days=day),
            to_bone=60 + day,
        )
    with django_assert_num_queries(len(few)):
        response = client.get(url)
    assert len(response.context["lines"]) == 5


@pytest.mark.django_db
def test_operator_log_lists_their_attempts_without_patient_details(
    client, supervisor, trainee, bay, version
):
    someone_else = operated(
        ClinicianFactory(), bay=bay, version=version, started=START, to_bone=90
    )
    client.force_login(supervisor)

    response = client.get(reverse("review:operator-log", args=[trainee.pk]))

    assert response.status_code == 200
    shown = [attempt.pk for attempt in response.context["page"]]
    assert shown == [attempt.pk for attempt in reversed(trainee.log)]
    assert someone_else.pk not in shown
    for attempt in trainee.log:
        assert attempt.episode.patient_reference not in response.text
    assert "2 min 20 s" in response.text
    assert "Yes, marked competent" in response.text
    csv_url = reverse("review:operator-log-csv", args=[trainee.pk])
    assert f'href="{csv_url}"' in response.text
    assert ">Download CSV</a>" in response.text
    assert not RecordAccess.objects.exists()


@pytest.mark.django_db
def test_operator_log_query_count_does_not_grow_with_attempts(
    client, supervisor, bay, version, django_assert_num_queries
):
    operator = ClinicianFactory()
    operated(operator, bay=bay, version=version, started=START, to_bone=90)
    client.force_login(supervisor)
    url = reverse("review:operator-log", args=[operator.pk])
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for day in range(1, 5):
        operated(
            operator,
            bay=bay,
            version=version,
            started=START + timedelta(days=day),
            to_bone=60 + day,
        )
    with django_assert_num_queries(len(few)):
        response = client.get(url)
    assert len(response.context["page"]) == 5


@pytest.mark.django_db
def test_operator_csv_has_one_row_per_attempt_and_one_audit_row(
    client, supervisor, trainee, settings
):
    settings.TIME_ZONE = "Europe/London"
    client.force_login(supervisor)

    response = client.get(reverse("review:operator-log-csv", args=[trainee.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment;" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith(BOM)
    header, *rows = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert header == list(CSV_HEADER)
    assert len(rows) == len(trainee.log) == 4
    by_column = [dict(zip(header, row, strict=True)) for row in rows]
    assert [row["Seconds start to needle in bone"] for row in by_column] == [
        "",
        "200",
        "100",
        "140",
    ]
    assert [row["Signed off"] for row in by_column] == ["no", "no", "yes", "yes"]
    assert [row["Marked competent"] for row in by_column] == ["no", "no", "yes", "no"]
    assert by_column[0]["Outcome"] == "Failed"
    assert by_column[-1]["Started"] == "2026-05-04T10:00:00+01:00"
    for attempt in trainee.log:
        assert attempt.episode.patient_reference not in text

    access = RecordAccess.objects.get()
    assert access.action == RecordAccess.Action.OPERATOR_CSV
    assert access.user == supervisor
    assert access.record_count == 4
    assert access.attempt is None


@pytest.mark.django_db
def test_the_access_log_says_whose_operator_log_was_downloaded(
    client, supervisor, trainee, bay, version
):
    other = ClinicianFactory()
    operated(other, bay=bay, version=version, started=START, to_bone=90)
    client.force_login(supervisor)
    for operator in (trainee, other):
        response = client.get(reverse("review:operator-log-csv", args=[operator.pk]))
        b"".join(response.streaming_content)

    queries = RecordAccess.objects.order_by("pk").values_list("query", flat=True)
    assert list(queries) == [f"operator={trainee.pk}", f"operator={other.pk}"]
    html = client.get(reverse("review:audit")).text
    for operator in (trainee, other):
        link = reverse("review:operator-log", args=[operator.pk])
        assert (
            f'<a href="{link}">operator log of {escape(operator.get_full_name())}</a>'
            in html
        )


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["review:operator-log", "review:operator-log-csv"])
def test_someone_who_never_operated_has_no_log(client, supervisor, name):
    client.force_login(supervisor)
    assert client.get(reverse(name, args=[supervisor.pk])).status_code == 404
    assert not RecordAccess.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "log.csv"])
@pytest.mark.parametrize("user_id", ["9" * 19, "9" * 20, "1" + "0" * 30])
def test_an_id_no_user_can_have_is_404(client, supervisor, suffix, user_id):
    client.force_login(supervisor)
    response = client.get(f"/review/operators/{user_id}/{suffix}")
    assert response.status_code == 404
    assert not RecordAccess.objects.exists()
