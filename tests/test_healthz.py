from unittest import mock

import pytest
from django.db import DatabaseError
from django.urls import reverse


@pytest.mark.django_db
def test_healthz_answers_200_without_login_when_the_database_answers(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.text == "ok\n"


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_does_not(client):
    # The outside world failing (the database server gone), not our database mocked away.
    with mock.patch(
        "django.db.backends.utils.CursorWrapper.execute",
        side_effect=DatabaseError("gone"),
    ):
        response = client.get(reverse("healthz"))
    assert response.status_code == 503
