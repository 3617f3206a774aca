"""The cards a tablet draws ahead for a network drop (issue #13): every card a tap or a link
can lead to from where the attempt stands, from the attempt's own version, with the server's
own choices (the suggested needle, the pre-flagged bone) already made."""

import json
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from attempts import flow
from attempts.models import AttemptEvent
from tests.attempts.conftest import site
from tests.attempts.test_queries import pad_with_events
from tests.factories import EpisodeFactory, walk

Stage = flow.Stage
CARD = re.compile(r'<template data-offline-card="([^"]+)">(.*?)</template>', re.S)


def cards_ahead(client, attempt):
    url = reverse("attempts:attempt-offline-cards", args=[attempt.public_id])
    response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response


def drawn(response):
    return dict(CARD.findall(response.text))


def moves(response):
    found = re.search(
        r'<script id="offline-moves" type="application/json">(.*?)</script>',
        response.text,
        re.S,
    )
    return json.loads(found[1])


def adult_screens(version):
    return [
        f"screen-{pk}-{side}"
        for pk in version.sites.filter(for_adults=True)
        .order_by("position")
        .values_list("pk", flat=True)
        for side in ("left", "right")
    ]


@pytest.mark.django_db
def test_from_the_indication_every_card_ahead_is_drawn(client, attempt, version):
    client.force_login(attempt.operator)
    cards = drawn(cards_ahead(client, attempt))
    assert list(cards) == [
        "site",
        *adult_screens(version),
        "needle",
        "preparation",
        "insertion",
        "confirmation",
        "outcome",
        "stop",
        "waiting",
    ]
    humerus = site(version, "proximal-humerus-adult")
    screen = cards[f"screen-{humerus.pk}-right"]
    assert f"Contraindication screen: {humerus.name}, right" in screen
    assert 'data-stage="screen"' in screen
    # The needle the server suggests for the episode's weight (72 kg) is one tap, as online.
    assert "(suggested)" in cards["needle"]
    assert ">Needle in bone</button>" in cards["insertion"]


@pytest.mark.django_db
def test_the_moves_are_the_flows_own_table(client, attempt):
    client.force_login(attempt.operator)
    table = moves(cards_ahead(client, attempt))
    assert table["indication"] == {"indication": "site"}
    # Another needle chosen after the checks keeps the stage; another site is screened again.
    assert table["needle"]["insertion"] == "insertion"
    assert table["needle"]["needle"] == "preparation"
    assert table["site"]["preparation"] == "screen"
    assert table["needle-in-bone"] == {"insertion": "confirmation"}
    # Only the server knows where an outcome leads on this attempt (success, stop).
    assert "outcome" not in table


@pytest.mark.django_db
def test_the_bone_an_earlier_attempt_used_is_flagged_on_its_screen_card_only(
    client, clinician, bay, version
):
    episode = EpisodeFactory(location=bay, created_by=clinician, weight_kg=72)
    first = episode.start_attempt(
        by=clinician, version=version, client_token=uuid.uuid4()
    )
    walk(first, to=Stage.NEEDLE, side="left")
    first.record_event(
        kind=AttemptEvent.Kind.OUTCOME_RECORDED,
        by=clinician,
        client_token=uuid.uuid4(),
        data={"outcome": "failed", "reason": "no flow"},
    )
    second = episode.start_attempt(
        by=clinician, version=version, client_token=uuid.uuid4(), after=first.number
    )
    client.force_login(clinician)
    cards = drawn(cards_ahead(client, second))
    used = f"screen-{first.site_id}-left"
    assert "Earlier IO in this bone: attempt 1" in cards[used]
    assert re.search(r'<input[^>]*value="[0-9]+"[^>]*checked', cards[used])
    other_side = cards[f"screen-{first.site_id}-right"]
    assert "Earlier IO in this bone" not in other_side
    assert not re.search(r"<input[^>]*checked", other_side)
    # The site card says which sites the episode has used.
    assert "Earlier in this episode: attempt 1" in cards["site"]


@pytest.mark.django_db
def test_after_needle_in_bone_no_earlier_card_is_drawn(client, attempt):
    walk(attempt, to=Stage.CONFIRMATION)
    client.force_login(attempt.operator)
    assert list(drawn(cards_ahead(client, attempt))) == [
        "confirmation",
        "outcome",
        "stop",
        "waiting",
    ]


@pytest.mark.django_db
def test_a_finished_attempt_draws_nothing_ahead_and_its_page_loads_nothing(
    client, attempt
):
    walk(attempt, to=Stage.AFTERCARE)
    client.force_login(attempt.operator)
    assert list(drawn(cards_ahead(client, attempt))) == ["waiting"]
    page = client.get(reverse("attempts:attempt-detail", args=[attempt.public_id]))
    assert "offline-cards/" not in page.text


@pytest.mark.django_db
def test_the_page_loads_the_cards_after_it_shows(client, attempt):
    client.force_login(attempt.operator)
    page = client.get(reverse("attempts:attempt-detail", args=[attempt.public_id]))
    loader = reverse("attempts:attempt-offline-cards", args=[attempt.public_id])
    assert f'data-hx-get="{loader}" data-hx-trigger="load"' in page.text
    # Not in the page itself: the page does not wait for them.
    assert 'data-offline-card="site"' not in page.text


@pytest.mark.django_db
def test_drawing_them_reads_a_fixed_number_of_queries(client, attempt):
    client.force_login(attempt.operator)
    cards_ahead(client, attempt)  # the version's content, read once per process
    with CaptureQueriesContext(connection) as few:
        cards_ahead(client, attempt)
    pad_with_events(attempt, 20)
    with CaptureQueriesContext(connection) as many:
        cards_ahead(client, attempt)
    assert len(many.captured_queries) == len(few.captured_queries)
    # Session, user, permissions, the attempt, its ticks and the episode's earlier attempts:
    # not one query per card.
    assert len(few.captured_queries) <= 8
