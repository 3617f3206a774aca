"""The tablet knows its place (#13): "This tablet is at …", and Start, the board and the
header follow it; a tablet without one asks once."""

import re
import uuid
from datetime import timedelta

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts import tablet
from tests.factories import (
    ClinicianFactory,
    LocationFactory,
    SupervisorFactory,
    needle_in_place,
    published_version,
)

TABLET = reverse("attempts:tablet")
HOME = reverse("attempts:home")
START = reverse("attempts:attempt-start")
BOARD = reverse("attempts:board")
ASK = "Where is this tablet?"


def put_at(client, location):
    """Mark the tablet through its page, as a clinician does."""
    place = "nowhere" if location is None else location.pk
    response = client.post(TABLET, {"place": place})
    assert response.status_code == 302, response.text
    return response


def sign(client, value):
    """A cookie as accounts.tablet writes it: the way to name a place the page would refuse."""
    signer = signing.get_cookie_signer(salt=tablet.COOKIE + tablet.SALT)
    client.cookies[tablet.COOKIE] = signer.sign(str(value))


def selected_location(html):
    """The Start card's preselected location id."""
    select = re.search(r'<select name="location".*?</select>', html, re.S).group(0)
    match = re.search(r'<option value="(\d+)" selected>', select)
    return int(match.group(1)) if match else None


@pytest.fixture
def other_bay(clinician):
    """A second location of the same clinician, first alphabetically (as the issue found)."""
    location = LocationFactory(name="Emergency department")
    location.staff.add(clinician)
    return location


@pytest.mark.django_db
def test_clinician_puts_the_tablet_at_one_of_their_locations(client, clinician, bay):
    LocationFactory(name="Closed bay", is_active=False).staff.add(clinician)
    LocationFactory(name="Someone else's ward")
    client.force_login(clinician)

    page = client.get(TABLET)
    assert page.status_code == 200
    assert "Resus 1" in page.text
    assert "Not at a fixed place" in page.text
    assert "Closed bay" not in page.text
    assert "Someone else&#x27;s ward" not in page.text

    response = put_at(client, bay)
    assert response["Location"] == HOME
    home = client.get(HOME)
    assert "This tablet is at Resus 1." in home.text
    assert "Tablet at Resus 1" in home.text
    assert ASK not in home.text
    # The page shows the place it was given, to be changed.
    assert re.search(rf'value="{bay.pk}"[^>]*checked', client.get(TABLET).text)


@pytest.mark.django_db
def test_the_place_outlives_logout_and_follows_the_next_clinician(
    client, clinician, bay
):
    client.force_login(clinician)
    put_at(client, bay)
    client.post(reverse("accounts:logout"))
    colleague = ClinicianFactory()
    bay.staff.add(colleague)
    client.force_login(colleague)
    assert "Tablet at Resus 1" in client.get(HOME).text


@pytest.mark.django_db
def test_not_at_a_fixed_place_clears_the_place_and_is_not_asked_again(
    client, clinician, bay
):
    client.force_login(clinician)
    put_at(client, bay)

    put_at(client, None)

    home = client.get(HOME)
    assert "This tablet is not at a fixed place." in home.text
    assert "Tablet at" not in home.text
    assert ASK not in home.text
    assert re.search(r'value="nowhere"[^>]*checked', client.get(TABLET).text)
    assert tablet.placed_at(home.wsgi_request) is None


@pytest.mark.django_db
def test_a_tablet_without_a_place_asks_once_on_the_clinicians_home(
    client, clinician, bay
):
    client.force_login(clinician)
    home = client.get(HOME)
    assert ASK in home.text
    assert f'href="{TABLET}"' in home.text
    assert "Tablet at" not in home.text

    put_at(client, bay)
    assert ASK not in client.get(HOME).text


@pytest.mark.django_db
def test_a_forged_cookie_is_ignored(client, clinician, bay, other_bay):
    client.force_login(clinician)
    client.cookies[tablet.COOKIE] = str(bay.pk)

    home = client.get(HOME)
    assert "Tablet at" not in home.text
    assert ASK in home.text
    assert selected_location(client.get(START).text) == other_bay.pk

    signer = signing.get_cookie_signer(salt=tablet.COOKIE + "another-salt")
    client.cookies[tablet.COOKIE] = signer.sign(str(bay.pk))
    assert "Tablet at" not in client.get(HOME).text
    assert selected_location(client.get(START).text) == other_bay.pk


def start_at(client, location):
    response = client.post(
        START,
        {
            "client_token": str(uuid.uuid4()),
            "location": location.pk,
            "age_group": "adult",
            "weight_kg": "",
            "context": "cardiac_arrest",
        },
    )
    assert response.status_code == 302, response.text


@pytest.mark.django_db
def test_a_tablet_without_a_place_preselects_the_last_location_started_at(
    client, clinician, bay, other_bay
):
    client.force_login(clinician)
    assert selected_location(client.get(START).text) == other_bay.pk  # first by name

    start_at(client, bay)
    assert selected_location(client.get(START).text) == bay.pk
    start_at(client, bay)
    assert selected_location(client.get(START).text) == bay.pk
    start_at(client, other_bay)
    assert selected_location(client.get(START).text) == other_bay.pk


@pytest.mark.django_db
def test_start_preselects_the_tablets_location_over_the_last_one(
    client, clinician, bay, other_bay
):
    client.force_login(clinician)
    session = client.session
    session["bay_location"] = other_bay.pk
    session.save()
    assert selected_location(client.get(START).text) == other_bay.pk

    put_at(client, bay)

    assert selected_location(client.get(START).text) == bay.pk


@pytest.mark.django_db
def test_start_does_not_preselect_a_location_that_is_not_the_users(
    client, clinician, bay
):
    icu = LocationFactory(name="ICU")
    colleague = ClinicianFactory()
    icu.staff.add(colleague)
    client.force_login(colleague)
    put_at(client, icu)

    client.force_login(clinician)

    assert selected_location(client.get(START).text) == bay.pk
    # Still the tablet's place: the header says where it stands.
    assert "Tablet at ICU" in client.get(HOME).text


@pytest.mark.django_db
def test_an_inactive_location_is_ignored_and_asked_again(
    client, clinician, bay, other_bay
):
    client.force_login(clinician)
    put_at(client, bay)
    bay.is_active = False
    bay.save()

    home = client.get(HOME)
    assert "Tablet at" not in home.text
    assert ASK in home.text
    assert selected_location(client.get(START).text) == other_bay.pk


@pytest.mark.django_db
def test_a_deleted_location_or_an_impossible_id_is_ignored(client, clinician, bay):
    gone = LocationFactory(name="Gone")
    gone.staff.add(clinician)
    gone_id = gone.pk
    gone.delete()
    client.force_login(clinician)
    for value in (gone_id, 0, 10**30):
        sign(client, value)
        assert "Tablet at" not in client.get(HOME).text
        assert selected_location(client.get(START).text) == bay.pk
        assert client.get(BOARD).status_code == 200
        assert client.get(TABLET).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose where this tablet is, or Not at a fixed place."),
        ({"place": ""}, "Choose where this tablet is, or Not at a fixed place."),
        ({"place": "abc"}, "Choose one of the places shown."),
        ({"place": "999999999"}, "Choose one of the places shown."),
    ],
)
def test_a_bad_choice_gets_422_with_the_message_at_the_field(
    client, clinician, bay, data, message
):
    client.force_login(clinician)
    response = client.post(TABLET, data)
    assert response.status_code == 422
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
    assert tablet.COOKIE not in response.cookies


@pytest.mark.django_db
def test_another_clinicians_location_cannot_be_chosen(client, clinician, bay):
    icu = LocationFactory(name="ICU")
    client.force_login(clinician)
    response = client.post(TABLET, {"place": icu.pk})
    assert response.status_code == 422
    assert "Choose one of the places shown." in response.text
    assert tablet.COOKIE not in response.cookies


@pytest.mark.django_db
def test_only_a_signed_in_clinician_can_place_the_tablet(client, bay):
    response = client.post(TABLET, {"place": bay.pk})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    client.force_login(SupervisorFactory())
    assert client.post(TABLET, {"place": bay.pk}).status_code == 403
    assert tablet.COOKIE not in client.cookies


@pytest.mark.django_db
def test_board_opens_on_the_tablets_location_with_a_link_to_all_mine(
    client, clinician, bay, other_bay
):
    version = published_version()
    inserted = timezone.now() - timedelta(hours=2)
    needle_in_place(location=bay, version=version, inserted=inserted)
    needle_in_place(location=other_bay, version=version, inserted=inserted)
    client.force_login(clinician)
    assert client.get(BOARD).text.count(">Record removal<") == 2

    put_at(client, bay)

    board = client.get(BOARD).text
    assert "Showing <strong>Resus 1</strong>, where this tablet is." in board
    assert board.count(">Record removal<") == 1
    assert "Record removal: Resus 1" in board
    # The poll of the table asks the same URL: it stays on the tablet's location.
    partial = client.get(BOARD, headers={"HX-Request": "true"}).text
    assert partial.count(">Record removal<") == 1
    link = re.search(r'href="([^"]*)"[^>]*>All my locations<', board).group(1)
    assert link.replace("&amp;", "&") == f"{BOARD}?scope=mine"
    assert client.get(link).text.count(">Record removal<") == 2
    picked = client.get(BOARD, {"location": other_bay.pk}).text
    assert "Record removal: Emergency department" in picked
    assert "Record removal: Resus 1" not in picked


@pytest.mark.django_db
def test_board_of_a_supervisor_is_not_narrowed_to_a_location_not_theirs(client, bay):
    needle_in_place(location=bay, inserted=timezone.now() - timedelta(hours=2))
    client.force_login(SupervisorFactory())
    sign(client, bay.pk)
    board = client.get(BOARD, {"scope": "all"}).text
    assert "Resus 1" in board
    assert "where this tablet is" not in client.get(BOARD).text


@pytest.mark.django_db
def test_header_shows_the_place_only_to_clinicians(client, clinician, bay):
    client.force_login(clinician)
    put_at(client, bay)
    reference = reverse("checklists:reference")
    header = client.get(reference).text
    assert f'<a class="button button-quiet" href="{TABLET}">Tablet at Resus 1</a>' in (
        header
    )
    client.force_login(SupervisorFactory())
    assert "Tablet at" not in client.get(reference).text
    client.post(reverse("accounts:logout"))
    assert "Tablet at" not in client.get(reverse("accounts:login")).text


@pytest.mark.django_db
def test_the_header_costs_one_query_with_a_place_and_none_without(
    client, clinician, bay
):
    client.force_login(clinician)
    reference = reverse("checklists:reference")
    client.get(reference)
    with CaptureQueriesContext(connection) as without_place:
        client.get(reference)
    put_at(client, bay)
    client.get(reference)
    with CaptureQueriesContext(connection) as with_place:
        client.get(reference)
    assert len(with_place) == len(without_place) + 1


FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
    database=None,
    max_examples=60,
)
PLACES = st.one_of(
    st.sampled_from(["mine", "nowhere", "inactive", "others", "", "0", "-1"]),
    st.integers().map(str),
    st.text(st.characters(codec="utf-8"), max_size=20),
)
EXTRA = st.dictionaries(
    st.sampled_from(["place", "location", "next", "csrfmiddlewaretoken"]),
    st.text(st.characters(codec="utf-8"), max_size=10),
    max_size=2,
)


@pytest.mark.django_db
@FUZZ
@given(place=st.one_of(st.none(), PLACES), extra=EXTRA, repeat=st.booleans())
@example(place="99999999999999999999999", extra={}, repeat=False)
@example(place="\x00", extra={}, repeat=True)
def test_no_tablet_post_answers_500_and_a_refused_one_sets_no_place(
    client, clinician, bay, place, extra, repeat
):
    client.force_login(clinician)
    inactive = LocationFactory(name="Closed bay", is_active=False)
    inactive.staff.add(clinician)
    others = LocationFactory(name="ICU")
    named = {
        "mine": str(bay.pk),
        "inactive": str(inactive.pk),
        "others": str(others.pk),
    }
    data = dict(extra)
    if place is not None:
        data["place"] = [named.get(place, place)] * (2 if repeat else 1)
    response = client.post(TABLET, data)
    assert response.status_code in {302, 422}, response.status_code
    if response.status_code == 422:
        assert tablet.COOKIE not in response.cookies
    else:
        assert named.get(place, place) in {str(bay.pk), "nowhere"}
