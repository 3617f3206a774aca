"""The log is the truth: folding an attempt's events gives exactly its stored row, after any
sequence of taps — stale ones, double ones, corrections — and a refused tap changes nothing."""

import uuid
from datetime import timedelta

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attempts import flow
from attempts.forms import TAP_ACTIONS
from attempts.models import Attempt, AttemptEvent
from tests.attempts.conftest import needle, site
from tests.factories import EpisodeFactory


def folded(attempt):
    """(row rebuilt from the events, row as stored, episode weight rebuilt, as stored)."""
    row = Attempt.objects.select_related("episode").get(pk=attempt.pk)
    events = list(row.events.order_by("pk"))
    rebuilt = flow.fold(events, blank=Attempt())
    stored = {name: getattr(row, name) for name in flow.PROJECTED}
    episode_events = AttemptEvent.objects.filter(
        attempt__episode=row.episode_id
    ).order_by("pk")
    weight = flow.fold_episode_weight(episode_events)
    return rebuilt, stored, weight, row.episode.weight_kg


def snapshot(attempt):
    row = Attempt.objects.select_related("episode").get(pk=attempt.pk)
    return (
        model_to_dict(row),
        row.episode.weight_kg,
        list(AttemptEvent.objects.order_by("pk").values_list("pk", flat=True)),
    )


def tap_data(version, attempt, action, variant):
    """What the card for `action` posts, in one of a few variants (some of them bad)."""
    adult_sites = [
        site(version, "proximal-humerus-adult").pk,
        site(version, "proximal-tibia-adult").pk,
    ]
    steps = list(
        version.steps.filter(
            kind="check", section__slug__in=["preparation", "insertion", "confirmation"]
        ).values_list("pk", flat=True)
    )
    now = timezone.localtime()
    # The first whole minute after the start: neither before the start nor in the future.
    started = timezone.localtime(attempt.started_at)
    after_start = started.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return {
        "indication": lambda: {},
        "site": lambda: {
            "site": adult_sites[variant % 2],
            "side": ("left", "right")[variant // 2 % 2],
        },
        "screen": lambda: (
            {},
            {
                "present": [version.contraindications.get(slug="infection-or-burn").pk],
                "override_reason": "No other limb",
            },
            {
                "present": [
                    version.contraindications.get(slug="prosthesis-or-surgery").pk
                ]
            },
        )[variant % 3],
        "needle": lambda: (
            {"needle": needle(version, "blue").pk, "tissue": "normal"},
            {"needle": needle(version, "pink").pk, "tissue": "normal"},
            {
                "needle": needle(version, "pink").pk,
                "tissue": "normal",
                "reason": "Thin arm",
            },
        )[variant % 3],
        "check": lambda: {
            "step": steps[variant % len(steps)],
            "checked": "on" if variant % 2 else "",
        },
        "checks-done": lambda: {"all_confirmed": "on" if variant % 2 else ""},
        "needle-in-bone": lambda: {},
        "confirm": lambda: {"all_confirmed": "on"},
        "outcome": lambda: (
            {"outcome": "success"},
            {"outcome": "failed", "reason": "No flow"},
            {"outcome": "abandoned", "reason": "IV access obtained"},
            {"outcome": "failed"},
        )[variant % 4],
        "troubleshoot": lambda: {},
        "troubleshoot-action": lambda: {
            "item": version.troubleshooting_items.order_by("position")[variant % 3].pk
        },
        "correction": lambda: (
            {"field": "weight_kg", "weight_kg": "81.5", "reason": "Bed scale"},
            {"field": "side", "side": "right", "reason": "Wrong side tapped"},
            {
                "field": "inserted_at",
                "inserted_at": after_start.strftime("%Y-%m-%dT%H:%M"),
                "reason": "Clock",
            },
            {
                "field": "inserted_at",
                "inserted_at": (now + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
                "reason": "Typo",
            },
            {"field": "weight_kg", "weight_kg": "0,04", "reason": "Typo"},
        )[variant % 5],
    }[action]()


# Every tap of the attempt page.
ACTIONS = TAP_ACTIONS
# Most taps come from the current card; some from an old one, a few from a tampered form.
REVISION = st.sampled_from(["current"] * 12 + ["stale", "missing", "ahead"])
# The tap the current card asks for, so that sequences reach deep into the flow.
NEXT = {
    flow.Stage.INDICATION: ("indication", 0),
    flow.Stage.SITE: ("site", 0),
    flow.Stage.SCREEN: ("screen", 0),
    flow.Stage.NEEDLE: ("needle", 0),
    flow.Stage.PREPARATION: ("checks-done", 1),
    flow.Stage.INSERTION: ("needle-in-bone", 0),
    flow.Stage.CONFIRMATION: ("confirm", 0),
    flow.Stage.OUTCOME: ("outcome", 0),
    flow.Stage.AFTERCARE: ("correction", 0),
    flow.Stage.CLOSED: ("correction", 1),
}
TAP = st.tuples(
    st.sampled_from((*ACTIONS, *["next"] * (3 * len(ACTIONS)))),
    st.integers(min_value=0, max_value=59),
    REVISION,
    # Now and then the previous tap's token again (a double tap or a retry).
    st.sampled_from([False] * 5 + [True]),
)


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(taps=st.lists(TAP, min_size=6, max_size=30))
def test_folding_the_log_gives_the_row_after_any_taps_and_refusals_change_nothing(
    client, clinician, bay, version, taps
):
    client.force_login(clinician)
    episode = EpisodeFactory(location=bay, created_by=clinician, weight_kg=72)
    attempt = episode.start_attempt(
        by=clinician, version=version, client_token=uuid.uuid4()
    )
    revisions, last_token = [0], None
    for action, variant, revision, repeat in taps:
        current, stage = Attempt.objects.values_list("revision", "stage").get(
            pk=attempt.pk
        )
        if action == "next":
            action, variant = NEXT[stage][0], NEXT[stage][1] + 5 * variant
        posted = {
            "current": current,
            "stale": revisions[variant % len(revisions)] - 1,
            "missing": "",
            "ahead": current + 1 + variant,
        }[revision]
        token = last_token if repeat and last_token else str(uuid.uuid4())
        data = {"client_token": token, "revision": posted}
        data.update(tap_data(version, attempt, action, variant))
        before = snapshot(attempt)
        url = reverse("attempts:attempt-record", args=[attempt.public_id, action])
        response = client.post(url, data, headers={"HX-Request": "true"})

        assert response.status_code in {200, 409, 422}, (action, data)
        if response.status_code != 200:
            assert snapshot(attempt) == before, (action, data, response.status_code)
        rebuilt, stored, weight, stored_weight = folded(attempt)
        assert rebuilt == stored, (action, data)
        assert weight == stored_weight
        revisions.append(stored["revision"])
        last_token = token


@pytest.mark.django_db
def test_a_stale_tap_from_a_second_tablet_records_nothing_and_shows_the_current_card(
    tap, attempt, version
):
    tap(attempt, "indication")
    at_site = Attempt.objects.get(pk=attempt.pk).revision
    humerus = site(version, "proximal-humerus-adult").pk
    tap(attempt, "site", site=humerus, side="left")
    before = snapshot(attempt)
    # The second tablet still shows the site card, drawn before the first tablet's tap.
    stale = tap(attempt, "site", site=humerus, side="right", revision=at_site)
    assert stale.status_code == 409
    assert flow.STALE in stale.text
    assert "Contraindication screen: Proximal humerus, left" in stale.text
    assert snapshot(attempt) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("walk_to", "action", "data"),
    [
        # Each of these used to be accepted and moved the record backwards or skipped a stage.
        ("confirmation", "indication", {}),
        ("confirmation", "checks-done", {"all_confirmed": "on"}),
        ("indication", "checks-done", {"all_confirmed": "on"}),
        ("confirmation", "needle", {"needle": "blue", "tissue": "normal"}),
        ("aftercare", "confirm", {"all_confirmed": "on"}),
    ],
)
def test_a_tap_the_attempt_has_passed_records_nothing_and_answers_409(
    tap, attempt, version, walk_to, action, data
):
    from tests.factories import walk

    walk(attempt, to=walk_to)
    if data.get("needle"):
        data = {**data, "needle": needle(version, data["needle"]).pk}
    before = snapshot(attempt)
    response = tap(attempt, action, **data)
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#stage"
    assert snapshot(attempt) == before
    assert Attempt.objects.get(pk=attempt.pk).stage == walk_to


@pytest.mark.django_db
def test_every_move_the_table_does_not_allow_is_refused_and_records_nothing(
    clinician, version
):
    """Walk the table: at every stage, every move not listed for it is refused."""
    from django.core.exceptions import ValidationError

    from tests.factories import walk

    for stage in (*flow.IN_PROGRESS, flow.Stage.AFTERCARE, flow.Stage.CLOSED):
        episode = EpisodeFactory(created_by=clinician)
        attempt = episode.start_attempt(
            by=clinician, version=version, client_token=uuid.uuid4()
        )
        if stage == flow.Stage.CLOSED:
            walk(attempt, to=flow.Stage.AFTERCARE)
            attempt.record_event(
                kind=flow.Kind.REMOVED, by=clinician, client_token=uuid.uuid4()
            )
        else:
            walk(attempt, to=stage)
        assert attempt.stage == stage
        # A refused move changes nothing, so one attempt per stage serves every move.
        for move in flow.TRANSITIONS:
            if move == flow.Kind.STARTED or flow.allows(stage, move):
                continue
            kind = (
                flow.Kind.OUTCOME_RECORDED
                if move in (flow.SUCCESS, flow.STOP)
                else move
            )
            data = {
                flow.SUCCESS: {"outcome": "success"},
                flow.STOP: {"outcome": "abandoned"},
            }.get(move, {})
            before = snapshot(attempt)
            with pytest.raises(ValidationError) as refused:
                attempt.record_event(
                    kind=kind, by=clinician, client_token=uuid.uuid4(), data=data
                )
            assert isinstance(refused.value, flow.Refused), (stage, move)
            assert refused.value.messages[0] in {
                flow.STALE,
                flow.NOT_YET,
                flow.FINISHED,
                flow.NOT_IN_PLACE,
                flow.NOTHING_TO_CORRECT,
            }
            assert snapshot(attempt) == before, (stage, move)


@pytest.mark.django_db
def test_an_old_cards_answers_are_not_judged_against_the_current_card(
    tap, attempt, version
):
    tap(attempt, "indication")
    humerus = site(version, "proximal-humerus-adult").pk
    tap(attempt, "site", site=humerus, side="left")
    old_screen = Attempt.objects.get(pk=attempt.pk).revision
    tap(attempt, "site", site=humerus, side="right")  # the first tablet chose again
    prosthesis = version.contraindications.get(slug="prosthesis-or-surgery").pk
    before = snapshot(attempt)
    # The second tablet's screen was for the left arm: its ticks are not the right arm's.
    response = tap(attempt, "screen", present=[prosthesis], revision=old_screen)
    assert response.status_code == 409
    assert flow.STALE in response.text
    assert "Contraindication screen: Proximal humerus, right" in response.text
    assert "Do not use this site" not in response.text
    assert snapshot(attempt) == before
