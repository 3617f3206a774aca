"""The supervisor's numbers page: every figure equals what a hand count of known attempts gives.

The fixture is 20 attempts built tap by tap through `Attempt.record_event` at known times
(time-machine), as the bay would record them. Expected quantiles come from Python's
`statistics.quantiles(method="inclusive")`, the definition the page documents (linear
interpolation between closest ranks), applied to the times the fixture chose.
"""

import json
import statistics
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
import time_machine
from django.urls import reverse

from attempts.models import Attempt
from review import numbers
from tests.factories import (
    ChecklistVersionFactory,
    ClinicianFactory,
    ContentEditorFactory,
    EpisodeFactory,
    LocationFactory,
    NeedleSizeFactory,
    SectionFactory,
    SiteFactory,
    StepFactory,
    needle_in_place,
    reference_version,
    started_attempt,
)

# Summer time in the hospital's zone (UTC+1), so a local day is not a UTC day.
NOW = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
# The default period is 17 Apr to 15 Jul 2026 local: from 2026-04-16 23:00 UTC.
FIRST_LOCAL_MIDNIGHT = datetime(2026, 4, 16, 23, 0, tzinfo=UTC)
EXTRAVASATION = "Extravasation of fluid or drug into the soft tissue"
COMPARTMENT = "Compartment syndrome of the limb"
INFECTION = "Infection: cellulitis or osteomyelitis"
DISLODGEMENT = "Dislodgement or failed placement"
FRACTURE = "Fracture of the bone"
HOUR = 3600


@dataclass
class Plan:
    """One attempt of the fixture: where, when, and what happened after how many seconds."""

    episode: str
    start: datetime
    site: str | None = None
    needle: str | None = None
    bone: int | None = None  # seconds start → needle in bone
    confirm: int | None = None  # seconds needle in bone → placement confirmed
    outcome: str = "in_progress"
    removal: int | None = None  # seconds needle in bone → removal
    complications: tuple = ()
    other: str = ""


def at(month, day, hour, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# Episodes E1-E14 at bay A (E13 started 23:30 local the day before the period; E7's needle was
# later moved to bay B), E15-E16 at bay B. Attempts of one episode are in order.
PLANS = [
    Plan("E1", at(7, 1, 10), "proximal-tibia-adult", "blue", 90, 30, "success",
         20 * HOUR, (EXTRAVASATION,)),
    Plan("E2", at(7, 2, 8), "proximal-humerus-adult", "blue", 150, 45, "success",
         26 * HOUR, (EXTRAVASATION, COMPARTMENT), "Skin blister"),
    Plan("E3", at(7, 3, 14), "proximal-humerus-adult", "yellow", 200, None, "failed"),
    Plan("E3", at(7, 3, 14, 5), "proximal-tibia-adult", "blue", 80, 20, "success",
         12 * HOUR),
    Plan("E4", at(7, 5, 9), outcome="abandoned"),
    Plan("E4", at(7, 5, 9, 3), "distal-tibia-adult", "blue", 300, 60, "success",
         24 * HOUR - 60),
    Plan("E5", at(7, 6, 16), "proximal-tibia-child", "pink", 45, 15, "success",
         6 * HOUR, (INFECTION,)),
    Plan("E6", at(7, 7, 11), "proximal-humerus-adult", "blue", 400, 120, "success",
         30 * HOUR, (DISLODGEMENT,)),
    Plan("E7", at(7, 8, 7), "proximal-tibia-adult", "yellow", 120, 40, "success"),
    Plan("E8", at(7, 9, 13), "proximal-tibia-adult", "blue", 60, 25, "abandoned"),
    Plan("E9", at(7, 10, 20), "proximal-humerus-adult", "blue", 240, None, "failed"),
    Plan("E9", at(7, 10, 20, 6), "proximal-humerus-adult", "yellow", 180, 35, "failed"),
    Plan("E9", at(7, 10, 20, 15), "proximal-tibia-adult", "blue", 100, 30, "success",
         18 * HOUR),
    Plan("E10", at(7, 15, 10), "proximal-tibia-adult", "blue", 75, 20, "success"),
    Plan("E11", at(7, 15, 11, 30), "proximal-tibia-adult"),
    Plan("E12", FIRST_LOCAL_MIDNIGHT + timedelta(minutes=30), "proximal-tibia-adult",
         "blue", 110, 30, "success", 10 * HOUR, (FRACTURE,)),
    Plan("E13", FIRST_LOCAL_MIDNIGHT - timedelta(minutes=30), "proximal-humerus-adult",
         "blue", 500, 50, "success", 40 * HOUR),
    Plan("E14", at(6, 20, 12), "proximal-humerus-adult", "blue", 130, 28, "success"),
    Plan("E15", at(7, 12, 12), "proximal-tibia-adult", "blue", 95, 22, "success"),
    Plan("E16", at(7, 13, 9), "proximal-humerus-adult", "blue", 210, 50, "failed"),
]  # fmt: skip
AT_B = {"E15", "E16"}
CHILDREN = {"E5"}
SUGGESTED = {"adult": "blue", "child": "pink"}


def tap(attempt, kind, **data):
    return attempt.record_event(
        kind=kind, by=attempt.operator, client_token=uuid.uuid4(), data=data
    )


def record(plan, episode, version):
    """The attempt of `plan`, recorded tap by tap at the plan's times."""
    moment = plan.start
    with time_machine.travel(moment, tick=False):
        attempt = started_attempt(episode=episode, version=version)
        tap(attempt, "indication_confirmed", answer="met")
        if plan.site:
            site = version.sites.get(slug=plan.site)
            tap(attempt, "site_chosen", site=site.pk, side="left")
            tap(attempt, "contraindications_screened", present=[])
        if plan.needle:
            needle = version.needle_sizes.get(hub_colour=plan.needle)
            reason = (
                {}
                if plan.needle == SUGGESTED[episode.age_group]
                else {"reason": "Significant tissue over the site"}
            )
            tap(attempt, "needle_chosen", needle=needle.pk, **reason)
            tap(attempt, "stage_completed")
    if plan.bone is not None:
        moment = plan.start + timedelta(seconds=plan.bone)
        with time_machine.travel(moment, tick=False):
            tap(attempt, "needle_in_bone")
    if plan.confirm is not None:
        moment += timedelta(seconds=plan.confirm)
        with time_machine.travel(moment, tick=False):
            tap(attempt, "placement_confirmed")
    if plan.outcome != "in_progress":
        with time_machine.travel(moment + timedelta(seconds=5), tick=False):
            reason = {"reason": "No flow"} if plan.outcome == "failed" else {}
            tap(attempt, "outcome_recorded", outcome=plan.outcome, **reason)
    if plan.removal is not None:
        removed = plan.start + timedelta(seconds=plan.bone + plan.removal)
        with time_machine.travel(removed, tick=False):
            tap(
                attempt,
                "removed",
                condition="Clean, no swelling",
                complications=list(plan.complications),
                other_complication=plan.other,
            )
    return attempt


@pytest.fixture
def bays(db):
    return {"A": LocationFactory(), "B": LocationFactory()}


@pytest.fixture
def operators(db):
    return [ClinicianFactory(), ClinicianFactory()]


@pytest.fixture
def unit(bays, operators, settings):
    """The 20 attempts of PLANS; E7's needle moved to bay B the morning after."""
    settings.TIME_ZONE = "Europe/London"
    version = reference_version()
    episodes = {}
    attempts = {}
    for index, plan in enumerate(PLANS):
        if plan.episode not in episodes:
            child = plan.episode in CHILDREN
            episodes[plan.episode] = EpisodeFactory(
                location=bays["B" if plan.episode in AT_B else "A"],
                created_by=operators[index % 2],
                age_group="child" if child else "adult",
                weight_kg=20 if child else 70,
            )
        attempt = record(plan, episodes[plan.episode], version)
        attempts.setdefault(plan.episode, []).append(attempt)
    with time_machine.travel(at(7, 9, 8), tick=False):
        episodes["E7"].transfer_needles(
            by=operators[0],
            to=bays["B"],
            client_token=uuid.uuid4(),
            shown_at=attempts["E7"][-1].location_id,
        )
    return attempts


def figures(*, location=None, start=FIRST_LOCAL_MIDNIGHT, end=NOW):
    return numbers.unit_numbers(start=start, end=end, location=location, now=NOW)


def in_period(bay_names):
    return [
        plan
        for plan in PLANS
        if plan.start >= FIRST_LOCAL_MIDNIGHT
        and ("B" if plan.episode in AT_B else "A") in bay_names
    ]


def inclusive_quartiles(values):
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {0.25: q1, 0.5: median, 0.75: q3}


@pytest.mark.django_db
def test_figures_at_one_bay_equal_a_hand_count(unit, bays):
    plans = in_period({"A"})
    assert len(plans) == 17  # E13 started before the period; E15-E16 at bay B

    found = figures(location=bays["A"])

    assert found.attempts == 17
    # Episodes E1-E12 and E14; attempt 1 succeeded in E1, E2, E5, E6, E7, E10, E12, E14, and
    # finished in all but E11 (in progress: no outcome yet, so neither success nor failure).
    assert (found.episodes, found.first_finished, found.first_successes) == (13, 12, 8)
    assert found.first_attempt_pct == 66.7
    # 16 finished (E11 is in progress): 11 successes, 3 failed, 2 abandoned.
    assert (found.finished, found.successes) == (16, 11)
    assert found.success_pct == 68.8

    to_bone = [plan.bone for plan in plans if plan.bone is not None]
    assert found.to_bone.count == len(to_bone) == 15
    assert found.to_bone.at == inclusive_quartiles(to_bone)
    assert found.to_bone.at == {0.25: 85, 0.5: 120, 0.75: 190}

    to_confirmed = [plan.confirm for plan in plans if plan.confirm is not None]
    assert found.to_confirmed.count == len(to_confirmed) == 13
    assert found.to_confirmed.at == inclusive_quartiles(to_confirmed)
    assert found.to_confirmed.at == {0.25: 25, 0.5: 30, 0.75: 40}

    dwell = [plan.removal for plan in plans if plan.removal is not None]
    assert found.removed == found.dwell.count == len(dwell) == 8
    assert found.dwell.at == {0.5: statistics.median(dwell), 1.0: max(dwell)}
    assert found.dwell.at == {0.5: 19 * HOUR, 1.0: 30 * HOUR}
    # E2 (26 h) and E6 (30 h) came out late; E4's second attempt a minute before 24 h.
    assert found.removed_in_time == 6
    assert found.removed_in_time_pct == 75.0

    # In place past 24 h and at bay A now: E14 (E7 was moved to bay B), and the needles of
    # E3, E8 and E9 (twice) stopped after they went in, whose removal nobody recorded.
    assert found.overdue_now == 5


@pytest.mark.django_db
def test_breakdowns_at_one_bay_equal_a_hand_count(unit, bays):
    found = figures(location=bays["A"])

    sites = {
        line.label: (line.attempts, line.successes, line.success_pct)
        for line in found.sites
    }
    assert sites == {
        "Proximal tibia (adults)": (8, 6, 85.7),  # E11 in progress: not finished
        "Proximal humerus (adults)": (6, 3, 50.0),
        "Distal tibia (adults)": (1, 1, 100.0),
        "Proximal tibia (children)": (1, 1, 100.0),
    }
    assert found.without_site == 1  # E4's first attempt stopped at the site card

    needles = {
        line.label: (line.attempts, line.successes, line.success_pct)
        for line in found.needles
    }
    assert needles == {
        "15 mm pink": (1, 1, 100.0),
        "25 mm blue": (11, 9, 81.8),
        "45 mm yellow": (3, 1, 33.3),
    }

    complications = {tally.label: tally.count for tally in found.complications}
    assert complications == {
        EXTRAVASATION: 2,
        COMPARTMENT: 1,
        INFECTION: 1,
        FRACTURE: 1,
        "Fat embolism (rare)": 0,
        "Pain on insertion, flushing or infusion": 0,
        DISLODGEMENT: 1,
        "Haematoma or bleeding": 0,
        "Growth-plate injury": 0,
        "Other": 1,
    }
    assert {tally.label: tally.share for tally in found.complications}[
        EXTRAVASATION
    ] == 25.0  # 2 of 8 removals

    bins = {tally.label: tally.count for tally in found.to_bone_bins}
    assert bins == {
        "under 1 min": 1,
        "1 to 2 min": 6,
        "2 to 3 min": 3,
        "3 to 5 min": 3,
        "5 to 10 min": 2,
        "10 min or more": 0,
    }


@pytest.mark.django_db
def test_figures_at_all_bays_and_at_the_other_bay(unit, bays):
    plans = in_period({"A", "B"})
    found = figures()

    assert found.attempts == len(plans) == 19
    assert (found.episodes, found.first_finished, found.first_successes) == (
        15,
        14,
        9,
    )
    assert (found.finished, found.successes) == (18, 12)
    to_bone = [plan.bone for plan in plans if plan.bone is not None]
    assert found.to_bone.at == inclusive_quartiles(to_bone)
    assert found.to_bone.at == {0.25: 90, 0.5: 120, 0.75: 200}
    # E7, E14, E15, and stopped with the needle in: E3, E8, E9 (twice), E16.
    assert found.overdue_now == 8

    at_b = figures(location=bays["B"])
    # E7 counts where it was made (bay A), its needle where it is now (bay B).
    assert at_b.attempts == 2
    assert at_b.overdue_now == 3  # E7, E15 and E16 (stopped with the needle in)


@pytest.mark.django_db
def test_period_is_read_in_the_hospitals_time_zone(unit, supervisor, client, settings):
    client.force_login(supervisor)
    with time_machine.travel(NOW, tick=False):
        default = client.get(reverse("review:numbers"))
        day_before = client.get(
            reverse("review:numbers"),
            {"started_from": "2026-04-16", "started_to": "2026-04-16"},
        )
    assert default.status_code == 200
    assert default.context["numbers"].attempts == 19
    assert 'value="2026-04-17"' in default.text  # 90 days ending today
    # 23:30 local on 16 April is E13 alone; E12 at 00:30 local is the next day.
    assert day_before.context["numbers"].attempts == 1


@pytest.mark.django_db
def test_complication_texts_match_on_both_databases_with_quotes_and_accents(
    bays, operators
):
    """The match reads the JSON list as each database returns it (SQLite keeps the stored
    \\u escapes, PostgreSQL does not); one text inside another never counts."""
    version = ChecklistVersionFactory()
    complications = SectionFactory(version=version, slug="complications")
    accented = 'Œdème – "marked"'  # noqa: RUF001 - an en dash, as an editor may type
    for text in (accented, "Haematoma", "Haematoma or bleeding"):
        StepFactory(section=complications, text=text, kind="check")
    StepFactory(section=SectionFactory(version=version))
    SiteFactory(version=version)
    NeedleSizeFactory(version=version)
    version.submit_for_review(by=version.author)
    version.publish(by=ContentEditorFactory())
    needle = needle_in_place(location=bays["A"], version=version, operator=operators[0])
    with time_machine.travel(needle.inserted_at + timedelta(hours=2), tick=False):
        tap(
            needle,
            "removed",
            condition="Clean",
            complications=[accented, "Haematoma or bleeding"],
            other_complication='Skin "blister" – 3 cm',  # noqa: RUF001
        )
    found = numbers.unit_numbers(
        start=needle.started_at,
        end=needle.started_at + timedelta(days=1),
        location=None,
        now=needle.started_at + timedelta(days=1),
    )
    assert {tally.label: tally.count for tally in found.complications} == {
        accented: 1,
        "Haematoma": 0,
        "Haematoma or bleeding": 1,
        "Other": 1,
    }


class Page(HTMLParser):
    """The json_script blocks by id, and each table's rows (cell texts) by table id."""

    def __init__(self, html):
        super().__init__()
        self.scripts, self.tables = {}, {}
        self._script = self._table = self._row = self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("type") == "application/json":
            self._script = attrs["id"]
            self.scripts[self._script] = ""
        elif tag == "table":
            self._table = attrs.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join(self._cell.split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._script:
            self.scripts[self._script] += data
        elif self._cell is not None:
            self._cell += data


def number(cell):
    """A table cell's figure as the chart has it: "85.7 %" → 85.7, "—" → None."""
    text = cell.removesuffix(" %")
    return None if text == "—" else float(text) if "." in text else int(text)


@pytest.mark.django_db
def test_each_chart_shows_the_figures_of_its_table(unit, supervisor, client):
    client.force_login(supervisor)
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("review:numbers"))
    page = Page(response.text)

    charts = {"chart-sites", "chart-complications", "chart-to-bone"}
    assert {key.removesuffix("-data") for key in page.scripts} == charts
    for chart in charts:
        data = json.loads(page.scripts[f"{chart}-data"])
        header, *rows = page.tables[f"{chart}-table"]
        column = header.index(data["axis"])
        assert data["labels"] == [row[0] for row in rows]
        assert data["values"] == [number(row[column]) for row in rows]
        assert len(rows) > 1
    sites = json.loads(page.scripts["chart-sites-data"])
    # All bays: 3 successes in 7 finished humeral attempts (E16 at bay B failed too).
    assert sites["values"][sites["labels"].index("Proximal humerus (adults)")] == 42.9


@pytest.mark.django_db
def test_starting_an_attempt_leaves_first_attempt_success_as_it_was(supervisor, client):
    version = reference_version()
    bay = LocationFactory()
    needle_in_place(location=bay, version=version)
    client.force_login(supervisor)

    def first_attempt():
        html = client.get(reverse("review:numbers"), {"location": bay.pk}).text
        rows = {row[0]: row[1:] for row in Page(html).tables["figures"]}
        return rows["First-attempt success"][0]

    before = first_attempt()
    assert before.startswith("100.0 %")
    started_attempt(episode=EpisodeFactory(location=bay), version=version)
    assert first_attempt() == before


@pytest.mark.django_db
def test_page_shows_figures_beside_the_literature_with_working_citations(
    unit, supervisor, client
):
    client.force_login(supervisor)
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("review:numbers"))
    html = response.text
    page = Page(html)
    figures_table = {row[0]: row[1:] for row in page.tables["figures"]}

    # E11's attempt 1 is in progress: 9 successes among the 14 finished attempts 1.
    assert figures_table["First-attempt success"][0].startswith("64.3 %")
    assert (
        "89.7 % vs proximal humerus 60.0 %" in figures_table["First-attempt success"][1]
    )
    assert figures_table["Time start → needle in bone"][0].startswith(
        "median 2 min 00 s"
    )
    assert "1 min 30 s to 3 min 20 s" in figures_table["Time start → needle in bone"][0]
    assert figures_table["Dwell time (needles removed)"][0].startswith(
        "median 19 h 00 min, longest 30 h 00 min"
    )
    # The seed is in the checklist's sources: a link to the reference page's anchor.
    reference = reverse("checklists:reference")
    assert f'href="{reference}#source-seed"' in html
    # S47-S51 are not: their citations are listed on this page, and the links go there.
    for key in ("S47", "S48", "S49", "S50", "S51"):
        assert f'href="#reference-{key}"' in html
        assert f'id="reference-{key}"' in html
    assert f"{reference}#source-S47" not in html
    assert "Reades R" in html
    assert 'style="' not in html
    assert "<script>" not in html


@pytest.mark.django_db
def test_query_count_does_not_grow_with_attempts(
    supervisor, client, django_assert_num_queries
):
    version = reference_version()
    bay = LocationFactory()
    client.force_login(supervisor)
    url = reverse("review:numbers")

    def add(count):
        for _ in range(count):
            attempt = needle_in_place(location=bay, version=version)
            tap(
                attempt,
                "removed",
                condition="Clean",
                complications=[EXTRAVASATION],
                other_complication="",
            )

    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, {"location": bay.pk}).status_code == 200
        return len(queries)

    add(5)
    # The first request reads the published version's content, once per process.
    count_queries()
    few = count_queries()
    add(20)
    with django_assert_num_queries(few):
        response = client.get(url, {"location": bay.pk})
    assert response.context["numbers"].attempts == 25


@pytest.mark.django_db
def test_dates_in_the_wrong_order_are_refused_at_the_field(supervisor, client):
    client.force_login(supervisor)
    response = client.get(
        reverse("review:numbers"),
        {"started_from": "2026-03-10", "started_to": "2026-03-01"},
    )
    assert response.status_code == 422
    assert "The last day is before the first day." in response.text
    assert 'value="2026-03-10"' in response.text
    assert "numbers" not in response.context


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("started_from", "started_to"),
    [("0001-01-01", "2026-03-01"), ("2026-03-01", "9999-12-31"), ("yesterday", "")],
)
def test_impossible_dates_are_refused_not_a_server_error(
    supervisor, client, started_from, started_to
):
    client.force_login(supervisor)
    response = client.get(
        reverse("review:numbers"),
        {"started_from": started_from, "started_to": started_to},
    )
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text


URLS = [
    "review:numbers",
    "review:operators",
    "review:operator-log",
    "review:operator-log-csv",
]


def url_of(name, operator):
    return reverse(name, args=[operator.pk] if "operator-log" in name else [])


@pytest.fixture
def operator(db):
    attempt = needle_in_place(version=reference_version())
    return attempt.operator


@pytest.mark.django_db
@pytest.mark.parametrize("name", URLS)
def test_clinician_cannot_open_the_numbers_or_operator_pages(
    client, clinician, operator, name
):
    client.force_login(clinician)
    assert client.get(url_of(name, operator)).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("name", URLS)
def test_anonymous_user_is_sent_to_login(client, operator, name):
    url = url_of(name, operator)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.django_db
@pytest.mark.parametrize("name", URLS)
def test_supervisor_opens_the_numbers_and_operator_pages(
    client, supervisor, operator, name
):
    client.force_login(supervisor)
    response = client.get(url_of(name, operator))
    assert response.status_code == 200
    if response.streaming:
        b"".join(response.streaming_content)
    assert Attempt.objects.filter(operator=operator).exists()
