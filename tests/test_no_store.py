"""Patient pages never outlive a logout in the browser (#13): `Cache-Control: no-store`.

The rule is the simplest one that cannot miss a page: every response the app itself answers
carries no-store unless its view chose its own caching. Checked over every GET in the
access-control table (the bay's attempt pages, summary, label, removal, transfer, the board,
review's list, timeline, numbers and exports, the admin), with the partials htmx swaps in,
the refused and error pages, and a tap's answer. Static files keep their own caching.
"""

import uuid

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django.views.decorators.cache import cache_control

from ioaccess.middleware import NoStoreMiddleware
from tests.accounts.test_access_control import (
    ANY_SIGNED_IN,
    NAMES,
    ROWS,
    allowed_keys,
    attempt_kwargs,
    build_url,
)

# Responses whose view chose its own caching and that show no patient (the middleware leaves
# them alone), each with why. A name that is not (yet) a URL costs nothing here.
OWN_CACHING = {
    # The service worker's script: revalidated on each load so a new version is picked up.
    "attempts:service-worker",
}

GET_PAGES = [name for name in NAMES if name in ROWS and ROWS[name].method == "get"]


def no_store(response):
    return "no-store" in response.get("Cache-Control", "")


def signed_in_as(client, row, role_users, user_without_role):
    if row.allowed == ANY_SIGNED_IN:
        user = user_without_role
    elif row.allowed is None:
        return
    else:
        user = role_users[allowed_keys(row)[0]]
    client.force_login(user)


@pytest.mark.django_db
@pytest.mark.parametrize("name", GET_PAGES)
def test_every_page_is_never_stored(client, role_users, user_without_role, name):
    row = ROWS[name]
    signed_in_as(client, row, role_users, user_without_role)
    response = client.get(build_url(name))
    assert response.status_code == row.ok_status, name
    if name in OWN_CACHING:
        assert response.has_header("Cache-Control"), name
    else:
        assert no_store(response), (name, response.get("Cache-Control"))


@pytest.mark.django_db
def test_the_patient_pages_are_in_the_table_checked_above():
    """The pages that show a patient or an attempt: if one is renamed, this says so."""
    shown = {
        "attempts:attempt-detail",
        "attempts:attempt-offline-cards",
        "attempts:attempt-summary",
        "attempts:attempt-label",
        "attempts:attempt-removal",
        "attempts:attempt-transfer",
        "attempts:home",
        "attempts:board",
        "review:home",
        "review:timeline",
        "review:numbers",
        "review:list-csv",
        "review:events-csv",
        "review:list-fhir",
        "review:attempt-fhir",
        "review:operator-log",
        "review:operator-log-csv",
    }
    assert shown <= set(GET_PAGES)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("attempts:attempt-detail", "clinician"),
        ("attempts:board", "clinician"),
        ("review:home", "supervisor"),
        ("review:timeline", "supervisor"),
    ],
)
def test_htmx_partials_are_never_stored(client, role_users, name, role):
    client.force_login(role_users[role])
    response = client.get(build_url(name), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert no_store(response), response.get("Cache-Control")


@pytest.mark.django_db
def test_a_taps_answer_a_refusal_and_a_missing_page_are_never_stored(client, clinician):
    client.force_login(clinician)
    kwargs, _ = attempt_kwargs()
    tap = reverse(
        "attempts:attempt-record",
        kwargs={**kwargs, "action": "indication"},
    )
    data = {"client_token": str(uuid.uuid4()), "revision": 0}
    bad = client.post(tap, {"revision": 0}, headers={"HX-Request": "true"})
    assert bad.status_code == 422
    assert no_store(bad)
    answered = client.post(tap, data, headers={"HX-Request": "true"})
    assert answered.status_code == 200
    assert no_store(answered)
    stale = client.post(tap, data | {"client_token": str(uuid.uuid4())})
    assert stale.status_code == 409
    assert no_store(stale)
    assert no_store(client.get(reverse("review:home")))  # 403
    missing = client.get(
        reverse("attempts:attempt-detail", kwargs={"public_id": uuid.uuid4()})
    )
    assert missing.status_code == 404
    assert no_store(missing)


def test_a_view_that_chose_its_own_caching_keeps_it():
    @cache_control(max_age=3600, public=True)
    def view(request):
        return HttpResponse("cacheable")

    response = NoStoreMiddleware(view)(RequestFactory().get("/"))
    assert response["Cache-Control"] in {
        "max-age=3600, public",
        "public, max-age=3600",
    }


@pytest.mark.django_db
def test_static_files_keep_whitenoise_caching(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert not no_store(response)
    assert "max-age=" in response["Cache-Control"]
