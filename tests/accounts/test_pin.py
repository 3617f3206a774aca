"""The personal PIN: set with the password, signs in on a tablet at a bay within the shift only,
and is throttled by django-axes exactly like the password."""

import re

import pytest
from axes.models import AccessAttempt
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import tablet
from accounts.backends import BACKEND_PATH
from accounts.models import Pin
from tests.factories import PASSWORD, LocationFactory

SET_PIN = reverse("accounts:pin")
PIN_LOGIN = reverse("accounts:pin-login")
PIN = "482913"

FUZZ = settings(
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
    database=None,
)


def place_tablet(client, location=None):
    """Mark the test client's browser as a tablet standing at a location, as the bay does."""
    location = location or LocationFactory()
    response = tablet.place(HttpResponse(), location.pk)
    client.cookies[tablet.COOKIE] = response.cookies[tablet.COOKIE].value
    return location


def with_pin(user, pin=PIN, at=None):
    """`user` has set `pin` (which counts as proving their password at `at`)."""
    Pin.set_for(user=user, raw_pin=pin, at=at or timezone.now())
    return user


def pin_sign_in(client, username, pin, next_url=""):
    data = {"username": username, "pin": pin}
    if next_url:
        data["next"] = next_url
    return client.post(PIN_LOGIN, data)


def log_out(client):
    """Log out as the page does (the test client's own logout() also drops the tablet cookie)."""
    client.post(reverse("accounts:logout"))


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


@pytest.fixture
def limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return 3


# --- Setting the PIN --------------------------------------------------------------------------


@pytest.mark.django_db
def test_clinician_sets_a_pin_with_their_password(client, clinician):
    client.force_login(clinician)
    page = client.get(SET_PIN)
    assert page.status_code == 200
    assert "Set your PIN" in page.text

    response = client.post(
        SET_PIN,
        {"current_password": PASSWORD, "new_pin": PIN, "new_pin_again": PIN},
        follow=True,
    )

    assert response.redirect_chain[0][0] == reverse("accounts:home")
    assert "Your PIN is set." in response.text
    pin = Pin.objects.get(user=clinician)
    assert PIN not in pin.hashed
    assert pin.matches(PIN)
    assert not pin.matches("000000")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"new_pin": "123", "new_pin_again": "123"}, "new_pin", "4 to 8 digits"),
        (
            {"new_pin": "123456789", "new_pin_again": "123456789"},
            "new_pin",
            "4 to 8 digits",
        ),
        ({"new_pin": "12a4", "new_pin_again": "12a4"}, "new_pin", "4 to 8 digits"),
        # Digits of another script are not on the tablet's keypad.
        ({"new_pin": "١٢٣٤", "new_pin_again": "١٢٣٤"}, "new_pin", "4 to 8 digits"),
        ({"new_pin": "", "new_pin_again": ""}, "new_pin", "Type your PIN."),
        (
            {"new_pin": PIN, "new_pin_again": PIN[::-1]},
            "new_pin_again",
            "The two PINs are not the same",
        ),
        (
            {
                "current_password": "not-my-password",
                "new_pin": PIN,
                "new_pin_again": PIN,
            },
            "current_password",
            "That is not your password",
        ),
        (
            {"current_password": "", "new_pin": PIN, "new_pin_again": PIN},
            "current_password",
            "Type your password.",
        ),
    ],
)
def test_bad_pin_or_password_is_refused_at_the_field_and_sets_nothing(
    client, clinician, data, field, message
):
    client.force_login(clinician)
    response = client.post(SET_PIN, {"current_password": PASSWORD, **data})

    assert response.status_code == 422
    # The message is tied to its field (Django's as_field_group describes the input by it).
    error = re.search(
        rf'<ul[^>]*id="id_{field}_error"[^>]*>(.*?)</ul>', response.text, re.S
    )
    assert error is not None, response.text
    assert message in error.group(1)
    assert not Pin.objects.filter(user=clinician).exclude(hashed="").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "pin", ["0000", "7777777", "1212", "123123", "1234", "98765", "7890", "21098765"]
)
def test_a_pin_anyone_would_guess_first_is_refused_at_its_field(client, clinician, pin):
    client.force_login(clinician)
    response = client.post(
        SET_PIN, {"current_password": PASSWORD, "new_pin": pin, "new_pin_again": pin}
    )

    assert response.status_code == 422
    error = re.search(
        r'<ul[^>]*id="id_new_pin_error"[^>]*>(.*?)</ul>', response.text, re.S
    )
    assert error is not None, response.text
    assert "too easy to guess" in error.group(1)
    assert not Pin.objects.filter(user=clinician).exclude(hashed="").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("pin", ["1243", "1357", "2580", "11112", "90210", "12341235"])
def test_a_pin_that_only_looks_like_a_pattern_is_accepted(client, clinician, pin):
    client.force_login(clinician)
    response = client.post(
        SET_PIN, {"current_password": PASSWORD, "new_pin": pin, "new_pin_again": pin}
    )

    assert response.status_code == 302
    assert Pin.objects.get(user=clinician).matches(pin)


@pytest.mark.django_db
def test_changing_the_pin_replaces_the_old_one(client, clinician):
    with_pin(clinician, "1111")
    client.force_login(clinician)
    client.post(
        SET_PIN, {"current_password": PASSWORD, "new_pin": PIN, "new_pin_again": PIN}
    )
    pin = Pin.objects.get(user=clinician)
    assert pin.matches(PIN)
    assert not pin.matches("1111")


# --- Signing in with the PIN ------------------------------------------------------------------


@pytest.mark.django_db
def test_pin_signs_in_on_a_placed_tablet_within_the_shift_and_goes_to_next(
    client, clinician
):
    with_pin(clinician)
    place_tablet(client)
    assert "Sign in with your PIN" in client.get(PIN_LOGIN).text

    response = pin_sign_in(client, clinician.username, PIN, next_url="/bay/needles/")

    assert response.status_code == 302
    assert response["Location"] == "/bay/needles/"
    assert signed_in_user_id(client) == str(clinician.pk)
    assert client.session["_auth_user_backend"] == BACKEND_PATH


@pytest.mark.django_db
def test_pin_sign_in_ignores_a_next_on_another_site(client, clinician):
    with_pin(clinician)
    place_tablet(client)
    response = pin_sign_in(
        client, clinician.username, PIN, next_url="https://evil.example/"
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:home")


@pytest.mark.django_db
def test_pin_is_refused_on_a_tablet_that_stands_nowhere(client, clinician):
    with_pin(clinician)

    page = client.get(PIN_LOGIN, {"next": "/bay/"})
    # Any other browser is asked for the password.
    assert page.status_code == 200
    assert 'name="password"' in page.text
    assert 'name="pin"' not in page.text

    response = pin_sign_in(client, clinician.username, PIN)
    assert response.status_code == 422
    assert "sign in with your password" in response.text
    assert signed_in_user_id(client) is None


@pytest.mark.django_db
def test_a_forged_tablet_cookie_does_not_allow_the_pin(client, clinician):
    with_pin(clinician)
    client.cookies[tablet.COOKIE] = "1"
    assert pin_sign_in(client, clinician.username, PIN).status_code == 422
    assert signed_in_user_id(client) is None


@pytest.mark.django_db
def test_pin_works_only_within_the_shift_after_the_password(
    client, clinician, settings, time_machine
):
    settings.IOACCESS_SHIFT_HOURS = 12
    time_machine.move_to("2026-11-24 07:00:00+00:00", tick=False)
    with_pin(clinician)
    place_tablet(client)

    time_machine.move_to("2026-11-24 18:59:00+00:00", tick=False)
    assert pin_sign_in(client, clinician.username, PIN).status_code == 302
    log_out(client)

    time_machine.move_to("2026-11-24 19:01:00+00:00", tick=False)
    response = pin_sign_in(client, clinician.username, PIN)
    assert response.status_code == 422
    assert "sign in with your password" in response.text
    assert signed_in_user_id(client) is None

    # The password opens a new shift for the PIN.
    client.post(
        reverse("accounts:login"),
        {"username": clinician.username, "password": PASSWORD},
    )
    log_out(client)
    assert pin_sign_in(client, clinician.username, PIN).status_code == 302


@pytest.mark.django_db
def test_pin_sign_in_does_not_extend_the_shift(client, clinician, time_machine):
    time_machine.move_to("2026-11-24 07:00:00+00:00", tick=False)
    with_pin(clinician)
    place_tablet(client)
    time_machine.move_to("2026-11-24 10:00:00+00:00", tick=False)
    pin_sign_in(client, clinician.username, PIN)
    verified = Pin.objects.get(user=clinician).password_verified_at
    assert verified.isoformat() == "2026-11-24T07:00:00+00:00"


@pytest.mark.django_db
def test_a_user_without_a_pin_cannot_sign_in_with_one(client, clinician):
    client.post(
        reverse("accounts:login"),
        {"username": clinician.username, "password": PASSWORD},
    )
    client.logout()
    place_tablet(client)
    assert pin_sign_in(client, clinician.username, "0000").status_code == 422
    assert signed_in_user_id(client) is None


@pytest.mark.django_db
def test_an_inactive_user_cannot_sign_in_with_a_pin(client, clinician):
    with_pin(clinician)
    clinician.is_active = False
    clinician.save()
    place_tablet(client)
    assert pin_sign_in(client, clinician.username, PIN).status_code == 422


@pytest.mark.django_db
def test_pin_sign_in_form_says_what_is_missing(client):
    place_tablet(client)
    response = client.post(PIN_LOGIN, {"username": "", "pin": "12"})
    assert response.status_code == 422
    assert "Type your username." in response.text
    assert "4 to 8 digits" in response.text


# --- Throttling -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_wrong_pins_are_counted_by_axes_and_lock_the_account(client, clinician, limit):
    with_pin(clinician)
    place_tablet(client)
    for _ in range(limit - 1):
        assert pin_sign_in(client, clinician.username, "000000").status_code == 422
    assert AccessAttempt.objects.get(
        username=clinician.username
    ).failures_since_start == (limit - 1)

    response = pin_sign_in(client, clinician.username, "000000")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.text

    # Locked: the right PIN, and the right password, are refused until the cooldown ends.
    assert pin_sign_in(client, clinician.username, PIN).status_code == 429
    assert signed_in_user_id(client) is None
    password = client.post(
        reverse("accounts:login"),
        {"username": clinician.username, "password": PASSWORD},
    )
    assert password.status_code == 429


@pytest.mark.django_db
def test_lockout_ends_after_the_cooldown(client, clinician, limit, time_machine):
    time_machine.move_to("2026-11-24 10:00:00+00:00", tick=False)
    with_pin(clinician)
    place_tablet(client)
    for _ in range(limit):
        pin_sign_in(client, clinician.username, "000000")
    time_machine.move_to("2026-11-24 10:16:00+00:00", tick=False)
    assert pin_sign_in(client, clinician.username, PIN).status_code == 302


@pytest.mark.django_db
def test_unknown_username_gets_the_same_pin_answers_as_a_real_one(
    client, clinician, limit
):
    with_pin(clinician)
    place_tablet(client)

    def answers(username):
        return [
            (r.status_code, r.text.replace(username, "NAME"))
            for r in (pin_sign_in(client, username, "000000") for _ in range(limit + 1))
        ]

    def normalise(pairs):
        return [
            (status, re.sub(r'(csrfmiddlewaretoken" value|nonce)="[^"]+"', "", text))
            for status, text in pairs
        ]

    assert normalise(answers(clinician.username)) == normalise(
        answers("nobody-by-this-name")
    )


@pytest.mark.django_db
def test_axes_never_logs_a_pin(client, clinician):
    with_pin(clinician)
    place_tablet(client)
    pin_sign_in(client, clinician.username, "135792")
    logged = AccessAttempt.objects.get(username=clinician.username)
    assert "135792" not in logged.post_data


# --- Fuzz -------------------------------------------------------------------------------------

text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "0000", PIN, "99999999", "1" * 500, "\x00", "12\x0034"]),
)


@pytest.mark.django_db
@FUZZ
@given(
    data=st.dictionaries(
        st.sampled_from(["username", "pin", "next", "password", "extra"]), text
    ),
    placed=st.booleans(),
)
def test_fuzzed_pin_sign_in_never_errors(client, clinician, settings, data, placed):
    settings.AXES_FAILURE_LIMIT = 1000
    with_pin(clinician)
    client.logout()
    client.cookies.pop(tablet.COOKIE, None)
    if placed:
        place_tablet(client)
    response = client.post(PIN_LOGIN, data)
    assert response.status_code < 500
    if response.status_code == 302:
        assert data.get("pin") == PIN


@pytest.mark.django_db
@FUZZ
@given(
    data=st.dictionaries(
        st.sampled_from(["current_password", "new_pin", "new_pin_again", "extra"]),
        text,
    )
)
def test_fuzzed_set_pin_never_errors(client, clinician, settings, data):
    settings.AXES_FAILURE_LIMIT = 1000
    client.force_login(clinician)
    response = client.post(SET_PIN, data)
    assert response.status_code < 500
    if response.status_code == 302:
        assert data.get("current_password") == PASSWORD
