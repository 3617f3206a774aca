"""A database that stops answering mid-request is a 503 to retry, never a 500 or a lost tap."""

import logging
import uuid
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import RequestFactory
from django.urls import reverse

from attempts.models import AttemptEvent
from ioaccess.middleware import DatabaseUnavailableMiddleware

Kind = AttemptEvent.Kind
KEPT = "this tap is kept and will be sent again"


def database_fails_on(table, error):
    """Every statement that names `table` fails with `error`, as from a server that went away;
    the rest (the test's own savepoints among them) reach the database."""
    real_execute = CursorWrapper.execute

    def execute(self, sql, params=None):
        if table in sql:
            raise error("server closed the connection unexpectedly")
        return real_execute(self, sql, params)

    return mock.patch.object(CursorWrapper, "execute", execute)


@pytest.mark.django_db
@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_tap_whose_write_fails_answers_503_and_its_retry_records_it_once(
    tap, attempt, error, caplog
):
    token = str(uuid.uuid4())
    with (
        database_fails_on("attempts_attemptevent", error),
        caplog.at_level(logging.ERROR, logger="ioaccess.middleware"),
    ):
        response = tap(attempt, "indication", client_token=token)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "no-store" in response["Cache-Control"]
    assert f"Not saved: The record store is not answering; {KEPT}." in response.text
    assert not attempt.events.filter(kind=Kind.INDICATION_CONFIRMED).exists()
    # Logged with the error, not swallowed.
    assert any(record.exc_info for record in caplog.records)

    # The tablet sends the same tap again once the database answers.
    retry = tap(attempt, "indication", client_token=token)
    assert retry.status_code == 200
    assert attempt.events.filter(kind=Kind.INDICATION_CONFIRMED).count() == 1


@pytest.mark.django_db
def test_a_page_asked_for_while_the_sessions_cannot_be_read_answers_503(
    client, clinician, attempt
):
    client.force_login(clinician)
    url = reverse("attempts:attempt-detail", args=[attempt.public_id])
    with database_fails_on("django_session", OperationalError):
        response = client.get(url)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "<h1>The record store is not answering</h1>" in response.text
    assert "Nothing was changed. Try again in a few seconds." in response.text

    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_a_plain_form_post_that_fails_does_not_promise_a_retry(tap, attempt):
    with database_fails_on("attempts_attemptevent", OperationalError):
        response = tap(attempt, "indication", htmx=False)
    assert response.status_code == 503
    assert "Go back and send it again in a few seconds." in response.text
    assert KEPT not in response.text


def test_other_errors_are_left_to_the_usual_error_handling():
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    request = RequestFactory().post("/")
    assert middleware.process_exception(request, ValueError("a bug")) is None


@pytest.mark.django_db
def test_a_tap_recorded_before_the_database_went_away_is_not_recorded_again(
    tap, attempt
):
    # Recorded, then the database stops answering while the next card is drawn: 503.
    token, revision = str(uuid.uuid4()), attempt.revision
    with mock.patch(
        "attempts.views._page_context", side_effect=OperationalError("connection lost")
    ):
        response = tap(attempt, "indication", client_token=token, revision=revision)
    assert response.status_code == 503
    assert attempt.events.filter(client_token=token).count() == 1

    # The tablet sends it again from the same card: answered, and still one event.
    retry = tap(attempt, "indication", client_token=token, revision=revision)
    assert retry.status_code == 200
    assert attempt.events.filter(client_token=token).count() == 1
