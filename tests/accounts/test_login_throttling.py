"""Repeated wrong passwords lock the account, for real and unknown usernames alike."""

import re

import pytest
from django.urls import reverse

from tests.factories import PASSWORD

LOGIN = reverse("accounts:login")


def try_login(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


@pytest.fixture
def limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return 3


@pytest.mark.django_db
def test_clinician_logs_in_with_the_right_password(client, clinician):
    response = try_login(client, clinician.username, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:home")


@pytest.mark.django_db
def test_wrong_passwords_lock_the_account_with_a_clear_message(
    client, clinician, limit
):
    for _ in range(limit - 1):
        response = try_login(client, clinician.username, "wrong-password")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.text
    response = try_login(client, clinician.username, "wrong-password")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.text
    assert "locked for 15 minutes" in response.text


@pytest.mark.django_db
def test_right_password_is_refused_until_the_cooldown_ends(
    client, clinician, limit, time_machine
):
    time_machine.move_to("2026-11-24 10:00:00+00:00", tick=False)
    for _ in range(limit):
        try_login(client, clinician.username, "wrong-password")

    response = try_login(client, clinician.username, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session

    time_machine.move_to("2026-11-24 10:14:00+00:00", tick=False)
    assert try_login(client, clinician.username, PASSWORD).status_code == 429

    time_machine.move_to("2026-11-24 10:16:00+00:00", tick=False)
    response = try_login(client, clinician.username, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(clinician.pk)


@pytest.mark.django_db
def test_unknown_username_gets_the_same_responses_as_a_real_one(
    client, clinician, limit
):
    def responses(username):
        return [
            (r.status_code, r.text.replace(username, "NAME"))
            for r in (
                try_login(client, username, "wrong-password") for _ in range(limit + 1)
            )
        ]

    real = responses(clinician.username)
    unknown = responses("nobody-by-this-name")

    def normalise(pairs):
        # The CSRF token and the CSP nonce differ from request to request; nothing else may.
        return [
            (status, re.sub(r'(value|nonce)="[^"]+"', "", text))
            for status, text in pairs
        ]

    assert normalise(real) == normalise(unknown)
    assert [status for status, _ in real] == [200, 200, 429, 429]


@pytest.mark.django_db
def test_lockout_of_one_user_does_not_lock_a_colleague(
    client, clinician, supervisor, limit
):
    for _ in range(limit):
        try_login(client, clinician.username, "wrong-password")
    assert try_login(client, supervisor.username, PASSWORD).status_code == 302
