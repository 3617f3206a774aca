"""The tablet locks itself after the idle time: nothing about the patient on the lock screen,
the board and its polls stay up, a tap on a locked session is not recorded (and says so), and
the PIN unlocks back to the same card."""

import re
from uuid import uuid4

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from accounts import lock
from accounts.models import Pin
from attempts.models import Attempt, AttemptEvent, Episode
from tests.accounts.test_pin import FUZZ, PIN, place_tablet, with_pin
from tests.factories import (
    PASSWORD,
    ClinicianFactory,
    ContentEditorFactory,
    EpisodeFactory,
    LocationFactory,
    needle_in_place,
    started_attempt,
)

LOCKED = reverse("accounts:locked")
START = "2026-11-24 10:00:00+00:00"
PATIENT_REFERENCE = "MRN-LOCKTEST-4417"


@pytest.fixture
def now(time_machine):
    """A clock the test moves: `now(minutes)` is that many minutes after the start."""
    time_machine.move_to(START, tick=False)

    def at(minutes):
        time_machine.move_to(f"2026-11-24 10:{minutes:02d}:00+00:00", tick=False)

    return at


@pytest.fixture
def attempt(clinician):
    bay = LocationFactory()
    bay.staff.add(clinician)
    episode = EpisodeFactory(
        location=bay, patient_reference=PATIENT_REFERENCE, weight_kg=63
    )
    return started_attempt(episode=episode, by=clinician)


@pytest.fixture
def signed_in(client, clinician, now, settings):
    settings.IOACCESS_IDLE_LOCK_MINUTES = 10
    with_pin(clinician)
    place_tablet(client)
    client.force_login(clinician)
    return client


def detail(attempt):
    return reverse("attempts:attempt-detail", kwargs={"public_id": attempt.public_id})


def tap_indication(client, attempt, **headers):
    url = reverse(
        "attempts:attempt-record",
        kwargs={"public_id": attempt.public_id, "action": "indication"},
    )
    data = {"client_token": str(uuid4()), "revision": 0}
    return client.post(url, data, headers=headers)


def htmx_headers(attempt):
    return {
        "HX-Request": "true",
        "HX-Current-URL": f"http://testserver{detail(attempt)}",
    }


def lock_screen_for(page):
    return f"{LOCKED}?next={page}"


@pytest.mark.django_db
def test_the_card_is_shown_while_the_tablet_is_in_use(signed_in, attempt, now):
    now(9)
    page = signed_in.get(detail(attempt))
    assert page.status_code == 200
    assert PATIENT_REFERENCE in page.text
    # The page's own timer (static/js/lock.js) is told the idle time.
    assert 'data-idle-lock-minutes="10"' in page.text

    now(18)  # 9 minutes after the last look: still in use.
    assert signed_in.get(detail(attempt)).status_code == 200


@pytest.mark.django_db
def test_idle_tablet_locks_to_a_screen_with_nothing_about_the_patient(
    signed_in, attempt, clinician, now
):
    signed_in.get(detail(attempt))
    now(11)

    response = signed_in.get(detail(attempt))

    assert response.status_code == 302
    assert response["Location"] == lock_screen_for(detail(attempt))
    screen = signed_in.get(response["Location"])
    assert screen.status_code == 200
    assert re.search(r"<h1>\s*Locked\s*</h1>", screen.text)
    assert clinician.get_full_name() in screen.text
    assert 'name="pin"' in screen.text
    assert "Switch user" in screen.text
    # The attempt's id may stay in the way back (next=); nothing of the patient may.
    for patient_data in (PATIENT_REFERENCE, "63 kg", "Weight 63", "Adult"):
        assert patient_data not in screen.text
    # Locked is locked: every other page goes to the lock screen too.
    assert signed_in.get(reverse("attempts:home"))["Location"].startswith(LOCKED)


@pytest.mark.django_db
def test_the_lock_screen_keeps_nothing_of_the_patient_even_in_its_links(
    signed_in, attempt, now
):
    signed_in.get(detail(attempt))
    now(11)
    screen = signed_in.get(signed_in.get(detail(attempt))["Location"])
    assert PATIENT_REFERENCE not in screen.text
    assert "63" not in re.sub(
        r'value="[^"]*"|href="[^"]*"|nonce="[^"]*"', "", screen.text
    )


@pytest.mark.django_db
def test_idle_time_is_a_setting(signed_in, attempt, now, settings):
    settings.IOACCESS_IDLE_LOCK_MINUTES = 3
    signed_in.get(detail(attempt))
    now(2)
    assert signed_in.get(detail(attempt)).status_code == 200
    now(6)
    assert signed_in.get(detail(attempt)).status_code == 302


@pytest.mark.django_db
def test_board_and_polls_stay_up_and_do_not_count_as_activity(signed_in, attempt, now):
    signed_in.get(detail(attempt))
    board = reverse("attempts:board")
    banner = reverse("attempts:removal-banner")
    for minute in (3, 6, 9, 12, 15):
        now(minute)
        assert signed_in.get(board).status_code == 200
        assert signed_in.get(board, headers={"HX-Request": "true"}).status_code == 200
        assert signed_in.get(banner, headers={"HX-Request": "true"}).status_code == 200
    # The board has no timer of its own: it is meant to stay open.
    assert "data-idle-lock-minutes" not in signed_in.get(board).text
    # The polls kept nothing alive: the card is locked.
    assert signed_in.get(detail(attempt))["Location"].startswith(LOCKED)


@pytest.mark.django_db
def test_a_locked_tablets_board_shows_the_needles_but_no_patient_and_no_actions(
    signed_in, attempt, now
):
    needle = needle_in_place(location=attempt.location)
    Episode.objects.filter(pk=needle.episode_id).update(
        patient_reference=PATIENT_REFERENCE
    )
    board = reverse("attempts:board")
    assert PATIENT_REFERENCE in signed_in.get(board).text
    now(11)
    assert signed_in.get(detail(attempt))["Location"].startswith(LOCKED)
    for url, headers in (
        (board, {}),
        (board, {"HX-Request": "true"}),
        (f"{board}?scope=all", {}),
    ):
        page = signed_in.get(url, headers=headers)
        assert page.status_code == 200
        assert needle.site_label in page.text
        assert PATIENT_REFERENCE not in page.text
        assert "Record removal" not in page.text


@pytest.mark.django_db
def test_htmx_tap_on_a_locked_session_records_nothing_and_says_it_is_kept(
    signed_in, attempt, now
):
    signed_in.get(detail(attempt))
    events = AttemptEvent.objects.filter(attempt=attempt).count()
    now(11)

    response = tap_indication(signed_in, attempt, **htmx_headers(attempt))

    assert AttemptEvent.objects.filter(attempt=attempt).count() == events
    # The whole page goes to the lock screen (not a lock screen painted inside the card);
    # the tablet keeps the tap and sends it again once unlocked (static/js/taps.js).
    assert response["HX-Redirect"] == lock_screen_for(detail(attempt))
    screen = signed_in.get(response["HX-Redirect"])
    assert "Your last tap is not saved yet" in screen.text
    assert "kept on this tablet and sent when you unlock" in screen.text

    unlocked = signed_in.post(
        LOCKED, {"pin": PIN, "next": detail(attempt)}, follow=True
    )
    assert unlocked.redirect_chain == [(detail(attempt), 302)]
    assert "NOT saved" not in unlocked.text


@pytest.mark.django_db
def test_a_tap_kept_through_the_lock_is_not_recorded_under_the_next_clinician(
    signed_in, attempt, clinician, now
):
    """The tablet sends a kept tap once someone is signed in; after Switch user that is
    another clinician. The card says whom it was drawn for: refused (409), nothing recorded,
    and the tablet lists it with the reason."""
    page = signed_in.get(detail(attempt)).text
    drawn_for = re.search(r'name="drawn_for" value="(\d+)"', page).group(1)
    assert drawn_for == str(clinician.pk)
    revision = re.search(r'name="revision" value="(\d+)"', page).group(1)
    kept = {"client_token": str(uuid4()), "revision": revision, "drawn_for": drawn_for}
    url = reverse(
        "attempts:attempt-record",
        kwargs={"public_id": attempt.public_id, "action": "indication"},
    )
    now(11)
    assert "HX-Redirect" in signed_in.post(url, kept, headers=htmx_headers(attempt))
    events = AttemptEvent.objects.filter(attempt=attempt).count()

    colleague = ClinicianFactory()
    attempt.location.staff.add(colleague)
    signed_in.force_login(colleague)  # the hand-over: Switch user, then sign in
    response = signed_in.post(url, kept, headers=htmx_headers(attempt))
    assert response.status_code == 409
    assert "not recorded under your name" in response.text
    assert AttemptEvent.objects.filter(attempt=attempt).count() == events
    # The colleague's own tap from the card drawn for them is recorded as theirs.
    page = signed_in.get(detail(attempt)).text
    own = {
        "client_token": str(uuid4()),
        "revision": revision,
        "drawn_for": re.search(r'name="drawn_for" value="(\d+)"', page).group(1),
    }
    assert signed_in.post(url, own, headers=htmx_headers(attempt)).status_code == 200
    tapped = AttemptEvent.objects.filter(attempt=attempt).order_by("-pk").first()
    assert tapped.recorded_by == colleague


@pytest.mark.django_db
def test_plain_form_tap_on_a_locked_session_is_not_saved_and_says_tap_again(
    signed_in, attempt, now
):
    signed_in.get(detail(attempt))
    events = AttemptEvent.objects.filter(attempt=attempt).count()
    now(11)

    response = tap_indication(
        signed_in, attempt, Referer=f"http://testserver{detail(attempt)}"
    )

    assert AttemptEvent.objects.filter(attempt=attempt).count() == events
    assert response["Location"] == lock_screen_for(detail(attempt))
    screen = signed_in.get(response["Location"])
    assert "Your last tap was NOT saved" in screen.text
    unlocked = signed_in.post(
        LOCKED, {"pin": PIN, "next": detail(attempt)}, follow=True
    )
    assert unlocked.redirect_chain == [(detail(attempt), 302)]
    assert "Your last tap was NOT saved" in unlocked.text
    # Said once: the next page does not repeat it.
    assert "NOT saved" not in signed_in.get(detail(attempt)).text


@pytest.mark.django_db
def test_pin_unlocks_back_to_the_same_card(signed_in, attempt, now):
    signed_in.get(detail(attempt))
    now(11)
    screen = signed_in.get(signed_in.get(detail(attempt))["Location"])
    assert f'name="next" value="{detail(attempt)}"' in screen.text

    response = signed_in.post(LOCKED, {"pin": PIN, "next": detail(attempt)})

    assert response.status_code == 302
    assert response["Location"] == detail(attempt)
    page = signed_in.get(detail(attempt))
    assert page.status_code == 200
    assert PATIENT_REFERENCE in page.text


@pytest.mark.django_db
def test_wrong_pin_on_the_lock_screen_stays_locked_and_is_throttled(
    signed_in, attempt, now, settings
):
    settings.AXES_FAILURE_LIMIT = 3
    signed_in.get(detail(attempt))
    now(11)
    signed_in.get(detail(attempt))
    for _ in range(2):
        wrong = signed_in.post(LOCKED, {"pin": "000000", "next": detail(attempt)})
        assert wrong.status_code == 422
        assert "Wrong PIN" in wrong.text
        assert signed_in.get(detail(attempt))["Location"].startswith(LOCKED)
    locked_out = signed_in.post(LOCKED, {"pin": "000000", "next": detail(attempt)})
    assert locked_out.status_code == 429
    assert "Too many failed sign-ins" in locked_out.text
    assert PATIENT_REFERENCE not in locked_out.text
    # Even the right PIN now waits for the cooldown.
    assert signed_in.post(LOCKED, {"pin": PIN}).status_code == 429
    assert signed_in.get(detail(attempt))["Location"].startswith(LOCKED)


@pytest.mark.django_db
def test_lock_screen_asks_for_the_password_off_a_placed_tablet(
    client, clinician, attempt, now
):
    with_pin(clinician)
    client.force_login(clinician)  # no tablet cookie: an office desktop
    client.get(detail(attempt))
    now(11)
    screen = client.get(client.get(detail(attempt))["Location"])
    assert 'name="password"' in screen.text
    assert 'name="pin"' not in screen.text
    assert client.post(LOCKED, {"pin": PIN}).status_code == 422
    response = client.post(LOCKED, {"password": PASSWORD, "next": detail(attempt)})
    assert response["Location"] == detail(attempt)


@pytest.mark.django_db
def test_lock_screen_asks_for_the_password_after_the_shift(
    signed_in, clinician, attempt, now
):
    Pin.objects.filter(user=clinician).update(
        password_verified_at="2026-11-23 20:00:00+00:00"
    )
    signed_in.get(detail(attempt))
    now(11)
    screen = signed_in.get(signed_in.get(detail(attempt))["Location"])
    assert 'name="password"' in screen.text


@pytest.mark.django_db
def test_session_ends_after_its_absolute_lifetime_however_busy(
    client, clinician, attempt, time_machine, settings
):
    settings.IOACCESS_SESSION_HOURS = 12
    time_machine.move_to("2026-11-24 07:00:00+00:00", tick=False)
    client.force_login(clinician)
    for hour in range(7, 19):
        time_machine.move_to(f"2026-11-24 {hour:02d}:00:00+00:00", tick=False)
        for minute in range(0, 60, 9):
            time_machine.move_to(
                f"2026-11-24 {hour:02d}:{minute:02d}:00+00:00", tick=False
            )
            client.get(reverse("accounts:home"))
    time_machine.move_to("2026-11-24 18:59:00+00:00", tick=False)
    assert client.get(detail(attempt)).status_code == 200
    time_machine.move_to("2026-11-24 19:01:00+00:00", tick=False)
    response = client.get(detail(attempt))
    assert response["Location"].startswith(reverse("accounts:login"))
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_switch_user_signs_out_keeps_the_tablet_and_asks_the_next_person(
    signed_in, clinician, attempt
):
    response = signed_in.post(
        reverse("accounts:switch-user"), {"next": detail(attempt)}
    )
    assert response.status_code == 302
    assert response["Location"] == (
        f"{reverse('accounts:pin-login')}?next={detail(attempt).replace('/', '%2F')}"
    )
    assert "_auth_user_id" not in signed_in.session
    # The tablet's place is the device's, not the user's.
    assert "ioaccess_tablet" not in response.cookies
    page = signed_in.get(response["Location"])
    assert "Sign in with your PIN" in page.text
    assert f'name="next" value="{detail(attempt)}"' in page.text


@pytest.mark.django_db
def test_switch_user_from_the_lock_screen_goes_back_to_the_page_behind_it(
    signed_in, attempt
):
    response = signed_in.post(
        reverse("accounts:switch-user"), {"next": lock_screen_for(detail(attempt))}
    )
    assert response["Location"].endswith(f"?next={detail(attempt).replace('/', '%2F')}")


@pytest.mark.django_db
def test_the_lock_stays_across_a_new_request_from_another_tab(signed_in, attempt):
    signed_in.get(LOCKED)
    assert lock.LOCKED in signed_in.session
    assert signed_in.get(detail(attempt))["Location"].startswith(LOCKED)


text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", PIN, "0000", "//evil.example/", "\x00", "1" * 300]),
)


@pytest.mark.django_db
@FUZZ
@given(data=st.dictionaries(st.sampled_from(["pin", "password", "next", "x"]), text))
def test_fuzzed_unlock_never_errors(signed_in, settings, data):
    settings.AXES_FAILURE_LIMIT = 1000
    response = signed_in.post(LOCKED, data)
    assert response.status_code < 500
    if response.status_code == 302:
        assert data.get("pin") == PIN
        assert not response["Location"].startswith("//")


@pytest.mark.django_db
@FUZZ
@given(data=st.dictionaries(st.sampled_from(["next", "x"]), text))
def test_fuzzed_switch_user_never_errors(signed_in, clinician, data):
    signed_in.force_login(clinician)
    response = signed_in.post(reverse("accounts:switch-user"), data)
    assert response.status_code == 302
    assert "evil" not in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["transfer", "next"])
def test_a_transfer_or_next_attempt_drawn_for_someone_else_is_refused(
    client, clinician, where
):
    """The same rule as a tap's: a form drawn for the clinician signed in before moves
    nothing and starts nothing under the next one's name."""
    if where == "transfer":
        attempt = needle_in_place()
        url = reverse("attempts:attempt-transfer", args=[attempt.public_id])
        data = {"location": LocationFactory().pk}
    else:
        attempt = started_attempt()
        attempt.record_event(
            kind="outcome_recorded",
            by=attempt.operator,
            client_token=uuid4(),
            data={"outcome": "failed", "reason": "No flow"},
            revision=attempt.revision,
        )
        url = reverse("attempts:attempt-next", args=[attempt.public_id])
        data = {}
    attempt.location.staff.add(clinician)
    client.force_login(clinician)
    before = (AttemptEvent.objects.count(), Attempt.objects.count())
    response = client.post(
        url,
        {"client_token": str(uuid4()), "drawn_for": clinician.pk + 1, **data},
    )
    assert response.status_code == 409
    assert "not recorded under your name" in response.text
    assert (AttemptEvent.objects.count(), Attempt.objects.count()) == before


@pytest.mark.django_db
def test_typing_told_to_the_server_keeps_a_long_note_from_the_lock(
    signed_in, attempt, now
):
    """A note typed for longer than the idle time: the page says 'still here' while keys are
    pressed (static/js/lock.js), so Save is not sent to the lock screen; without it, it is."""
    url = detail(attempt)
    signed_in.get(url)
    still_here = reverse("accounts:still-here")
    for minute in (4, 8, 12):
        now(minute)
        assert signed_in.post(still_here).status_code == 204
    now(16)
    assert tap_indication(signed_in, attempt).status_code == 302
    assert not lock.is_locked(signed_in.session)
    assert attempt.events.count() == 2
    # Quiet for longer than the idle time: the next word does not unlock a locked session.
    now(27)
    assert signed_in.post(still_here)["Location"].startswith(LOCKED)
    assert signed_in.get(url)["Location"].startswith(LOCKED)


@pytest.mark.django_db
def test_the_admin_has_the_idle_timer_and_says_still_here_too(client, now, settings):
    settings.IOACCESS_IDLE_LOCK_MINUTES = 10
    client.force_login(ContentEditorFactory())
    page = client.get(reverse("admin:index")).text
    assert 'data-idle-lock-minutes="10"' in page
    assert 'name="ioaccess-idle-lock"' in page
    assert reverse("accounts:still-here") in page
    assert "js/lock.js" in page
