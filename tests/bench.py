"""`make bench` (issue #5): server time per tap, htmx swap sizes, and the attempt page's weight.

Replays a scripted, complete adult attempt many times through Django's test client (the full
middleware and view stack, in-process: "server time") on a throwaway test database, then prints
a plain-text report. Run from the repo root with the Makefile's TEST_ENV:

    .venv/bin/python tests/bench.py [--attempts N] [--board-requests N] [--sweep-needles N]
                                    [--review-attempts N] [--review-requests N]

Then (issue #6), on the same database: the needle board's htmx poll with 5 and with 500
needles in place, and one removal-reminder sweep over 10 000 more needles in place.

Then (issue #11): the supervisor's review list, filtered, with 1 000 logged attempts at its
location, and the numbers page with 10 000 (`--review-attempts`), bulk-made with their events.

Targets: median tap under 25 ms; attempt page with its CSS and JS under 60 KB gzip; the
board with 500 needles under 100 ms median, with as many SQL queries as with 5; the first
sweep pass under 5 s; the filtered review list and the numbers page under 150 ms median each.
A missed target prints FAIL but still exits 0 (this is a report); a broken flow exits non-zero.
"""

import argparse
import gzip
import io
import logging
import os
import platform
import random
import shutil
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import timedelta
from html.parser import HTMLParser
from math import log
from pathlib import Path
from statistics import mean, median
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
# tests/accounts, tests/attempts… would shadow the apps: import from the repo root only.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioaccess.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    setup_test_environment,
    teardown_test_environment,
)
from django.urls import resolve, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

TAP_TARGET_MS = 25.0
WEIGHT_TARGET_BYTES = 60 * 1024
GZIP_LEVEL = 6  # nginx's and most servers' usual level

START = "start"
PAGE = "page GET"


class BenchError(Exception):
    """The scripted attempt did not go as the bay flow says it should."""


def percentile(values, fraction):
    """Linear interpolation between closest ranks (numpy's default), for any sample size."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def cpu_name():
    name = platform.processor()
    if name and name not in {"x86_64", "aarch64", "arm64", "i386"}:
        return name
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return name or platform.machine() or "unknown CPU"


def database_version():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
            return f"SQLite {cursor.fetchone()[0]}"
        if connection.vendor == "postgresql":
            cursor.execute("show server_version")
            return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
    return connection.display_name


class AssetParser(HTMLParser):
    """Collects <link rel="stylesheet" href> and <script src> in document order."""

    def __init__(self):
        super().__init__()
        self.assets = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if (
            tag == "link"
            and "stylesheet" in (attrs.get("rel") or "").split()
            and attrs.get("href")
        ):
            self.assets.append(attrs["href"])
        elif tag == "script" and attrs.get("src"):
            self.assets.append(attrs["src"])


def body(response):
    if response.streaming:
        content = b"".join(response.streaming_content)
        response.close()
        return content
    return response.content


def expect(response, status, what):
    if response.status_code != status:
        text = body(response)[:2000].decode("utf-8", "replace")
        raise BenchError(
            f"{what}: expected HTTP {status}, got {response.status_code}\n{text}"
        )


def use_private_test_database():
    """Never clobber a test database a concurrent pytest run may be using.

    SQLite: a file in a fresh temporary directory (returned, to remove afterwards);
    PostgreSQL: test_<name>_bench on the same server.
    """
    test = connection.settings_dict.setdefault("TEST", {})
    if connection.vendor == "sqlite":
        directory = tempfile.mkdtemp(prefix="ioaccess-bench-")
        test["NAME"] = str(Path(directory) / "bench.sqlite3")
        return directory
    test["NAME"] = f"test_{connection.settings_dict['NAME']}_bench"
    return None


def make_bay():
    """Reference checklist, a bay, and a clinician logged in on a test client."""
    from checklists.models import ChecklistVersion
    from tests.factories import ClinicianFactory, LocationFactory

    call_command("load_io_checklist", verbosity=0, stdout=io.StringIO())
    version = ChecklistVersion.objects.published().get()
    location = LocationFactory(name="Resus 1")
    clinician = ClinicianFactory()
    location.staff.add(clinician)
    client = Client()
    client.force_login(clinician)
    return client, version, location


def script(version):
    """The taps of test_a_whole_adult_attempt_one_event_per_tap, in order, after Start."""
    humerus = version.sites.get(slug="proximal-humerus-adult").pk
    blue = version.needle_sizes.get(hub_colour="blue").pk
    return [
        ("indication", {}),
        ("site", {"site": humerus, "side": "left"}),
        ("screen", {}),
        ("needle", {"needle": blue, "tissue": "normal"}),
        ("checks-done", {"all_confirmed": "on"}),
        ("needle-in-bone", {}),
        ("confirm", {"all_confirmed": "on"}),
        ("outcome", {"outcome": "success"}),
    ]


def timer(times):
    """A measure that appends each call's wall time in ms to times[label]."""

    def measure(label, call, *args, **kwargs):
        began = time.perf_counter()
        response = call(*args, **kwargs)
        times[label].append((time.perf_counter() - began) * 1000)
        return response

    return measure


def query_counter(counts):
    """A measure that stores each call's number of SQL queries in counts[label] (untimed)."""

    def measure(label, call, *args, **kwargs):
        with CaptureQueriesContext(connection) as queries:
            response = call(*args, **kwargs)
        counts[label] = len(queries)
        return response

    return measure


def post_form(client, url, data, **extra):
    """POST `data` URL-encoded, as a browser and htmx send a form without files (the test
    client would send multipart, which Django takes longer to parse)."""
    return client.post(
        url, urlencode(data), content_type="application/x-www-form-urlencoded", **extra
    )


def run_attempt(client, location, taps, measure, swaps):
    """One complete adult attempt, each request through `measure`; swap bodies go to `swaps`."""
    from attempts.models import Attempt

    start = {
        "client_token": str(uuid.uuid4()),
        "location": location.pk,
        "age_group": "adult",
        "weight_kg": "72",
        "context": "cardiac_arrest",
    }
    response = measure(
        START, post_form, client, reverse("attempts:attempt-start"), start
    )
    expect(response, 302, "start")
    public_id = resolve(response["Location"]).kwargs["public_id"]
    page_url = reverse("attempts:attempt-detail", args=[public_id])
    if response["Location"] != page_url:
        raise BenchError(f"start redirected to {response['Location']}, not {page_url}")

    page = measure(PAGE, client.get, page_url)
    expect(page, 200, "attempt page")

    for action, data in taps:
        url = reverse("attempts:attempt-record", args=[public_id, action])
        # The revision the card was drawn at, as the page's hidden field carries it.
        revision = Attempt.objects.values_list("revision", flat=True).get(
            public_id=public_id
        )
        payload = {"client_token": str(uuid.uuid4()), "revision": revision, **data}
        response = measure(
            action, post_form, client, url, payload, headers={"HX-Request": "true"}
        )
        expect(response, 200, f"tap {action}")
        swaps[action].append(response.content)

    outcome = Attempt.objects.get(public_id=public_id).outcome
    if outcome != Attempt.Outcome.SUCCESS:
        raise BenchError(f"the scripted attempt ended {outcome!r}, not success")
    return page.content


def transfer(client, html):
    """(name, raw bytes, gzip bytes) for the page and every stylesheet and script it loads."""
    parser = AssetParser()
    parser.feed(html.decode())
    rows = [("attempt page (HTML)", html)]
    for url in parser.assets:
        response = client.get(url)
        expect(response, 200, f"static {url}")
        rows.append((url, body(response)))
    return [
        (name, len(content), len(gzip.compress(content, GZIP_LEVEL, mtime=0)))
        for name, content in rows
    ]


def print_report(*, attempts, warmup, times, swaps, queries, files):
    taps = [action for action in times if action != PAGE]
    print(
        f"ioaccess bench: database {connection.vendor} ({database_version()}); "
        f"{cpu_name()}, {os.cpu_count()} CPUs; Python {platform.python_version()}, "
        f"Django {django.get_version()}"
    )
    print(
        f"{attempts} scripted adult attempts ({warmup} warm-up not counted) through "
        "django.test.Client; DEBUG="
        f"{settings.DEBUG}; server time = perf_counter around client.get/post "
        "(forms posted URL-encoded, as htmx sends them)"
    )
    print()
    header = f"{'tap':<18}{'n':>5}{'median ms':>11}{'p95 ms':>9}{'SQL':>5}"
    print(f"{header}{'swap B':>9}{'gzip B':>9}")
    print("-" * 66)

    def row(label, values, sql="", size=""):
        line = (
            f"{label:<18}{len(values):>5}{median(values):>11.2f}"
            f"{percentile(values, 0.95):>9.2f}{sql:>5}{size}"
        )
        print(line.rstrip())

    for action in taps:
        if swaps.get(action):
            last = swaps[action][-1]
            size = f"{mean(len(c) for c in swaps[action]):>9.0f}"
            size += f"{len(gzip.compress(last, GZIP_LEVEL, mtime=0)):>9}"
        else:
            size = f"{'-':>9}{'-':>9}"
        row(action, times[action], queries.get(action, "?"), size)
    every = [ms for action in taps for ms in times[action]]
    print("-" * 66)
    row("all taps", every)
    row("attempt page GET", times[PAGE], queries.get(PAGE, "?"))
    print("(all taps: start and the 8 htmx taps; SQL: queries per request, counted")
    print(" on one extra untimed attempt; swap B: mean body bytes; gzip B: the last")
    print(" attempt's body at gzip -6)")
    print()
    print(f"{'attempt page and assets':<44}{'bytes':>10}{'gzip -6':>10}")
    print("-" * 64)
    for name, raw, packed in files:
        print(f"{name:<44}{raw:>10}{packed:>10}")
    total_raw = sum(raw for _, raw, _ in files)
    total_gzip = sum(packed for _, _, packed in files)
    print("-" * 64)
    print(f"{'total':<44}{total_raw:>10}{total_gzip:>10}")
    print("(bodies only, without HTTP headers; print.css counted although media=print)")
    print()
    tap_median = median(every)
    verdict = "PASS" if tap_median < TAP_TARGET_MS else "FAIL"
    print(
        f"{verdict}  median tap {tap_median:.2f} ms (target < {TAP_TARGET_MS:.0f} ms)"
    )
    verdict = "PASS" if total_gzip < WEIGHT_TARGET_BYTES else "FAIL"
    print(
        f"{verdict}  page + CSS + JS {total_gzip} B gzip = {total_gzip / 1024:.1f} KB "
        f"(target < {WEIGHT_TARGET_BYTES} B = 60 KB)"
    )


# --- issue #6: the needle board under load, and one reminder sweep over many needles ---------

BOARD_TARGET_MS = 100.0
SWEEP_TARGET_S = 5.0
BOARD_FIRST = 5  # needles on the board when its query count is first taken
BOARD_NEEDLES = 500
# No bulk-made needle is placed within this of a state boundary (due soon, overdue), so the
# few seconds between two measurements never move one across it.
BOUNDARY_MARGIN = timedelta(minutes=10)
BULK_BATCH = 1000


def bulk_needles(*, location, operator, version, ages, now):
    """IO needles in place, inserted `ages` before `now`, made in bulk; returns how many.

    Each gets its own episode and a successful attempt in aftercare as the bay leaves it (site
    and needle from the published reference version), and the STARTED, NEEDLE_IN_BONE and
    OUTCOME_RECORDED events that put it there. Far faster than tests.factories.needle_in_place.
    """
    from attempts.models import REMOVAL_DEADLINE, Attempt, AttemptEvent, Episode

    site = version.sites.get(slug="proximal-humerus-adult")
    needle = version.needle_sizes.get(hub_colour="blue")
    first = Episode.objects.count()
    inserted = [now - age for age in ages]
    started = [at - timedelta(minutes=3) for at in inserted]
    episodes = Episode.objects.bulk_create(
        [
            Episode(
                location=location,
                patient_reference=f"BENCH{first + index:06d}",
                age_group="adult",
                weight_kg=72,
                context=Episode.Context.CARDIAC_ARREST,
                created_at=started[index],
                created_by=operator,
            )
            for index in range(len(ages))
        ],
        batch_size=BULK_BATCH,
    )
    attempts = Attempt.objects.bulk_create(
        [
            Attempt(
                episode=episode,
                number=1,
                location=location,
                checklist_version=version,
                operator=operator,
                stage=Attempt.Stage.AFTERCARE,
                site=site,
                side=Attempt.Side.LEFT if index % 2 else Attempt.Side.RIGHT,
                needle=needle,
                started_at=started[index],
                inserted_at=inserted[index],
                to_bone=inserted[index] - started[index],
                removal_due_at=inserted[index] + REMOVAL_DEADLINE,
                outcome=Attempt.Outcome.SUCCESS,
            )
            for index, episode in enumerate(episodes)
        ],
        batch_size=BULK_BATCH,
    )
    if any(attempt.pk is None for attempt in attempts):
        raise BenchError(f"bulk_create returned no primary keys on {connection.vendor}")
    Kind = AttemptEvent.Kind
    events = []
    for index, attempt in enumerate(attempts):
        for kind, at, data in (
            (Kind.STARTED, started[index], {"version": version.number}),
            (Kind.NEEDLE_IN_BONE, inserted[index], {}),
            (Kind.OUTCOME_RECORDED, inserted[index], {"outcome": "success"}),
        ):
            events.append(
                AttemptEvent(
                    attempt=attempt,
                    kind=kind,
                    data=data,
                    recorded_at=at,
                    occurred_at=at,
                    recorded_by=operator,
                    client_token=uuid.uuid4(),
                )
            )
    AttemptEvent.objects.bulk_create(events, batch_size=BULK_BATCH)
    return len(attempts)


def state_windows():
    """(in place, due soon, overdue): the (youngest, oldest) insertion ages of each state,
    kept BOUNDARY_MARGIN away from the boundaries; overdue up to 30 h."""
    from attempts.models import REMOVAL_DEADLINE, removal_warning

    due_soon_from = REMOVAL_DEADLINE - removal_warning()
    margin = BOUNDARY_MARGIN
    return (
        (margin, due_soon_from - margin),
        (due_soon_from + margin, REMOVAL_DEADLINE - margin),
        (REMOVAL_DEADLINE + margin, timedelta(hours=30)),
    )


def spread(count, youngest, oldest):
    """`count` insertion ages evenly spaced from youngest to oldest."""
    if count < 1:
        return []
    step = (oldest - youngest) / count
    return [youngest + step * (index + 0.5) for index in range(count)]


def spread_over_states(count):
    """`count` ages spread evenly over 0-30 h, each nudged out of the boundary margins."""
    (_, in_place_end), (due_soon_start, due_soon_end), (overdue_start, _) = (
        state_windows()
    )
    ages = spread(count, timedelta(0), timedelta(hours=30))
    nudged = []
    for age in ages:
        if in_place_end < age < due_soon_start:
            age = (
                in_place_end
                if age - in_place_end < due_soon_start - age
                else due_soon_start
            )
        elif due_soon_end < age < overdue_start:
            age = (
                due_soon_end
                if age - due_soon_end < overdue_start - age
                else overdue_start
            )
        nudged.append(max(age, BOUNDARY_MARGIN))
    return nudged


def time_board(client, url, requests):
    """(times in ms, SQL queries, last body, needle rows shown) of the htmx board partial.

    One extra untimed request first counts the queries (and warms the template cache).
    """
    headers = {"HX-Request": "true"}
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers)
    # Now: the next request's request_started signal empties the log this counts.
    sql = len(queries)
    expect(response, 200, "board (htmx)")
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - began) * 1000)
        expect(response, 200, "board (htmx)")
    content = response.content
    if b"<html" in content.lower():
        raise BenchError("the board answered an htmx request with a whole page")
    rows = BodyRowCounter()
    rows.feed(content.decode())
    return times, sql, content, rows.count


class BodyRowCounter(HTMLParser):
    """Counts <tr> inside <tbody>: the board's needle rows, whatever their markup."""

    def __init__(self):
        super().__init__()
        self.in_body = False
        self.count = 0

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.count += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_body = False


def board_states(user):
    """How many needles on the user's board are in place, due soon and overdue, now."""
    from attempts.models import Attempt, RemovalState

    now = timezone.now()
    states = dict.fromkeys(RemovalState, 0)
    for attempt in Attempt.objects.on_board().visible_to(user):
        states[attempt.removal_state(now)] += 1
    return states


def board_section(client, version, location, requests):
    """The board polled with 5, then 500, needles in place at the bench clinician's bay."""
    from attempts.models import RemovalState
    from tests.factories import LocationFactory

    clinician = location.staff.get()
    # The tap bench left its own needles in place at `location`: move the clinician to a
    # bay of their own so that "My locations" shows exactly the needles made here.
    bay = LocationFactory(name="Resus 2")
    bay.staff.add(clinician)
    location.staff.remove(clinician)
    url = reverse("attempts:board")
    rows = []
    made = 0
    built = 0.0
    for target in (BOARD_FIRST, BOARD_NEEDLES):
        began = time.perf_counter()
        # The first few spread over all three states; the rest likewise.
        made += bulk_needles(
            location=bay,
            operator=clinician,
            version=version,
            ages=spread_over_states(target - made),
            now=timezone.now(),
        )
        built += time.perf_counter() - began
        times, sql, content, shown = time_board(client, url, requests)
        if shown != target:
            raise BenchError(f"the board shows {shown} needles, not {target}")
        rows.append((target, times, sql, content))

    print()
    print(
        f"board: GET {url} with HX-Request: true (the 30 s poll's partial), "
        f"{clinician.username}'s locations = {bay.name}"
    )
    print(
        f"{'needles on board':<18}{'n':>5}{'median ms':>11}{'p95 ms':>9}{'SQL':>5}"
        f"{'body B':>9}{'gzip B':>9}"
    )
    print("-" * 66)
    for target, times, sql, content in rows:
        packed = len(gzip.compress(content, GZIP_LEVEL, mtime=0))
        print(
            f"{target:<18}{len(times):>5}{median(times):>11.2f}"
            f"{percentile(times, 0.95):>9.2f}{sql:>5}{len(content):>9}{packed:>9}"
        )
    print("-" * 66)
    states = board_states(clinician)
    footnote(
        f"{BOARD_NEEDLES} needles: {states[RemovalState.IN_PLACE]} in place, "
        f"{states[RemovalState.DUE_SOON]} due soon, {states[RemovalState.OVERDUE]} "
        "overdue, inserted 0-30 h "
        f"ago, bulk-created in {built:.2f} s; SQL: queries of one extra untimed "
        "request; body B: the last timed response's bytes"
    )
    print()
    first_sql = rows[0][2]
    _, times, sql, _ = rows[-1]
    verdict = "PASS" if first_sql == sql else "FAIL"
    print(
        f"{verdict}  board SQL queries per request: {first_sql} with {BOARD_FIRST} "
        f"needles, {sql} with {BOARD_NEEDLES} (target: the same)"
    )
    board_median = median(times)
    verdict = "PASS" if board_median < BOARD_TARGET_MS else "FAIL"
    print(
        f"{verdict}  median board with {BOARD_NEEDLES} needles {board_median:.2f} ms "
        f"(target < {BOARD_TARGET_MS:.0f} ms)"
    )
    return bay, clinician


def sweep_section(version, bay, clinician, needles):
    """One removal-reminder pass over `needles` more needles in place (plus those already in)."""
    from django.core import mail

    from attempts.models import Attempt, RemovalReminder
    from attempts.reminders import send_due_reminders

    # setup_test_environment() already points every mailer at locmem; say so explicitly.
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    }
    not_due = round(needles * 0.9)
    due_soon = (needles - not_due) // 2
    overdue = needles - not_due - due_soon
    in_place_window, due_soon_window, overdue_window = state_windows()
    youngest, in_place_end = in_place_window
    ages = (
        spread(not_due, youngest, min(timedelta(hours=19), in_place_end))
        + spread(due_soon, *due_soon_window)
        + spread(overdue, *overdue_window)
    )
    began = time.perf_counter()
    bulk_needles(
        location=bay, operator=clinician, version=version, ages=ages, now=timezone.now()
    )
    built = time.perf_counter() - began

    passes = []
    for label in ("first", "second"):
        mail.outbox = []
        now = timezone.now()
        in_place = Attempt.objects.in_place().count()
        overdue_now, due_soon_now = Attempt.objects.removal_counts(now=now)
        statements = [0]
        with connection.execute_wrapper(counting(statements)):
            began, cpu = time.perf_counter(), time.process_time()
            result = send_due_reminders(now=now)
            seconds = time.perf_counter() - began
            cpu = time.process_time() - cpu
        passes.append(
            {
                "label": label,
                "in_place": in_place,
                "due": (overdue_now, due_soon_now),
                "seconds": seconds,
                "cpu": cpu,
                "sql": statements[0],
                "result": result,
                "emails": len(mail.outbox),
            }
        )
    unsent = RemovalReminder.objects.unsent().count()

    backend = settings.MAILERS["default"]["BACKEND"].rsplit(".", 2)[-2]
    print()
    print(
        "removal sweep: one send_due_reminders(now=timezone.now()) per pass, "
        f"email backend {backend}"
    )
    print(
        f"{'pass':<7}{'in place':>9}{'overdue':>8}{'due soon':>9}{'seconds':>9}"
        f"{'CPU s':>7}{'SQL':>7}{'created':>8}{'sent':>6}{'failed':>7}{'emails':>7}"
    )
    print("-" * 84)
    for run in passes:
        result = run["result"]
        print(
            f"{run['label']:<7}{run['in_place']:>9}{run['due'][0]:>8}{run['due'][1]:>9}"
            f"{run['seconds']:>9.3f}{run['cpu']:>7.2f}{run['sql']:>7}{result.created:>8}"
            f"{result.sent:>6}{result.failed:>7}{run['emails']:>7}"
        )
    print("-" * 84)
    first = passes[0]
    per_notice = first["seconds"] / max(first["result"].sent, 1) * 1000
    statements = first["sql"] / max(first["result"].sent, 1)
    footnote(
        f"{needles} needles bulk-created in {built:.2f} s: {not_due} inserted under 19 h "
        f"ago, {due_soon} due soon, {overdue} overdue, plus the board's and the tap "
        "bench's needles. overdue, due soon: needles in each state at the pass's now; "
        "CPU s: this process's CPU time, the rest is waiting (database, disk, other "
        "processes); SQL: statements run; emails: messages in mail.outbox. First "
        f"pass: {per_notice:.1f} ms and {statements:.1f} statements per notice sent; "
        f"unsent notices left: {unsent}"
    )
    print()
    verdict = "PASS" if first["seconds"] < SWEEP_TARGET_S else "FAIL"
    print(
        f"{verdict}  first sweep pass over {first['in_place']} needles in place "
        f"{first['seconds']:.2f} s (target < {SWEEP_TARGET_S:.0f} s)"
    )


# --- issue #11: the supervisor's review list and numbers page over many logged attempts -----

REVIEW_TARGET_MS = 150.0
REVIEW_LIST_ATTEMPTS = 1000
REVIEW_OPERATORS = 20
# Logged attempts started up to this long ago: inside the numbers page's default 90 days.
REVIEW_DAYS = 85


class LoggedAttempts:
    """Finished IO attempts as the bay leaves them, made in bulk with the events of each tap.

    Per episode: 10 % children; 15 % a failed first attempt, then a second one. Per attempt:
    85 % success, 10 % failed after the needle went in, 5 % abandoned before a site; a few in
    progress. Needle in bone 40 s to 20 min after Start (log-normal around 100 s), placement
    confirmed 10 s to 2 min later; 95 % of needles removed 2 to 30 h after insertion (about 1 in 5
    after 24 h), the rest still in; 10 % of removals with a complication, 2 % an "other" one;
    a needle other than suggested 5 %, a check left unticked 3 %; 30 % signed off.
    Deterministic (a seeded random generator).
    """

    def __init__(self, version, *, seed=11):
        from checklists.models import Step

        self.version = version
        self.rng = random.Random(seed)  # noqa: S311 - made-up data, not a secret
        sites = list(version.sites.all())
        self.sites = {
            "adult": [site for site in sites if site.for_adults],
            "child": [site for site in sites if site.for_children],
        }
        self.needles = {
            needle.hub_colour: needle for needle in version.needle_sizes.all()
        }
        checks = version.steps.filter(kind=Step.Kind.CHECK).select_related("section")
        self.checks = {}
        for step in checks:
            self.checks.setdefault(step.section.slug, []).append(step.pk)
        self.complications = [
            step.text for step in checks if step.section.slug == "complications"
        ]
        self.made = 0

    def make(self, *, count, location, operators, supervisor, now):
        """`count` attempts at `location`, started over the last REVIEW_DAYS before `now`."""
        from attempts.flow import project_durations
        from attempts.models import Attempt, AttemptEvent, Episode
        from review.models import SignOff

        rng = self.rng
        plans = []
        while len(plans) < count:
            child = rng.random() < 0.1
            second = rng.random() < 0.15 and count - len(plans) > 1
            started = now - timedelta(
                seconds=rng.uniform(2 * 3600, REVIEW_DAYS * 86400)
            )
            episode = {
                "child": child,
                "started": started,
                "operator": rng.choice(operators),
            }
            if second:
                plans.append((episode, 1, "failed", started))
                plans.append((episode, 2, None, started + timedelta(minutes=8)))
            else:
                plans.append((episode, 1, None, started))
        episodes = {}
        for episode, _, _, _ in plans:
            if id(episode) not in episodes:
                self.made += 1
                episodes[id(episode)] = Episode(
                    location=location,
                    patient_reference=f"BENCHR{self.made:06d}",
                    age_group="child" if episode["child"] else "adult",
                    weight_kg=20 if episode["child"] else 72,
                    context=Episode.Context.CARDIAC_ARREST,
                    created_at=episode["started"],
                    created_by=episode["operator"],
                )
        Episode.objects.bulk_create(episodes.values(), batch_size=BULK_BATCH)
        rows, taps = [], []
        for episode, number, outcome, started in plans:
            row, events = self._attempt(
                episode=episodes[id(episode)],
                number=number,
                outcome=outcome or self._outcome(),
                started=started,
                operator=episode["operator"],
                now=now,
            )
            # The durations, as flow.apply projects them after each event.
            project_durations(row)
            rows.append(row)
            taps.append(events)
        attempts = Attempt.objects.bulk_create(rows, batch_size=BULK_BATCH)
        events, sign_offs = [], []
        for attempt, made in zip(attempts, taps, strict=True):
            for kind, at, data in made:
                events.append(
                    AttemptEvent(
                        attempt=attempt,
                        kind=kind,
                        data=data,
                        recorded_at=at,
                        occurred_at=at,
                        recorded_by=attempt.operator,
                        client_token=uuid.uuid4(),
                    )
                )
            if attempt.outcome != Attempt.Outcome.IN_PROGRESS and rng.random() < 0.3:
                sign_offs.append(
                    SignOff(
                        attempt=attempt,
                        by=supervisor,
                        at=min(attempt.started_at + timedelta(days=2), now),
                        feedback="Reviewed for the bench.",
                        competent=rng.random() < 0.1,
                    )
                )
        AttemptEvent.objects.bulk_create(events, batch_size=BULK_BATCH)
        SignOff.objects.bulk_create(sign_offs, batch_size=BULK_BATCH)
        return len(attempts), len(events)

    def _outcome(self):
        draw = self.rng.random()
        if draw < 0.005:
            return "in_progress"
        if draw < 0.055:
            return "abandoned"
        return "failed" if draw < 0.155 else "success"

    def _attempt(self, *, episode, number, outcome, started, operator, now):
        """(unsaved Attempt, [(event kind, time, data)]) for one attempt."""
        from attempts.models import REMOVAL_DEADLINE, Attempt, AttemptEvent

        Kind, Stage = AttemptEvent.Kind, Attempt.Stage
        rng = self.rng
        population = episode.age_group
        attempt = Attempt(
            episode=episode,
            number=number,
            location=episode.location,
            checklist_version=self.version,
            operator=operator,
            started_at=started,
            outcome=outcome,
            stage=Stage.CLOSED,
            revision=9,
        )
        facts = {"location": episode.location_id, "age_group": population}
        events = [
            (
                Kind.STARTED,
                started,
                {
                    "number": number,
                    "version": self.version.number,
                    "version_id": self.version.pk,
                    "location": episode.location_id,
                    "episode": facts,
                },
            ),
            (
                Kind.INDICATION_CONFIRMED,
                started + timedelta(seconds=5),
                {"answer": "met"},
            ),
        ]
        if outcome == "abandoned":
            events.append(self._stop(started + timedelta(seconds=20), outcome))
            return attempt, events
        site = rng.choice(self.sites[population])
        suggested = self.needles["pink" if population == "child" else "blue"]
        needle = self.needles["yellow"] if rng.random() < 0.05 else suggested
        attempt.site, attempt.side, attempt.needle = (
            site,
            rng.choice(["left", "right"]),
            needle,
        )
        attempt.is_flagged = needle != suggested
        bone = min(max(rng.lognormvariate(log(100), 0.6), 40), 1200)
        events += [
            (
                Kind.SITE_CHOSEN,
                started + timedelta(seconds=15),
                {"site": site.pk, "side": attempt.side},
            ),
            (
                Kind.CONTRAINDICATIONS_SCREENED,
                started + timedelta(seconds=25),
                {"present": [], "present_text": [], "override_reason": ""},
            ),
            (
                Kind.NEEDLE_CHOSEN,
                started + timedelta(seconds=35),
                {
                    "needle": needle.pk,
                    "needle_name": str(needle),
                    "tissue": "normal",
                    "suggested": suggested.pk,
                    "reason": ""
                    if needle == suggested
                    else "Significant tissue over the site",
                },
            ),
        ]
        if outcome == "in_progress":
            attempt.stage = Stage.PREPARATION
            return attempt, events
        inserted = started + timedelta(seconds=bone)
        attempt.inserted_at = inserted
        attempt.removal_due_at = inserted + REMOVAL_DEADLINE
        events += [
            (
                Kind.STAGE_COMPLETED,
                inserted - timedelta(seconds=3),
                self._checks("preparation", unticked=rng.random() < 0.03),
            ),
            (Kind.NEEDLE_IN_BONE, inserted, self._checks("insertion")),
        ]
        if outcome == "failed":
            events.append(self._stop(inserted + timedelta(seconds=30), outcome))
            return attempt, events
        confirmed = inserted + timedelta(seconds=rng.uniform(10, 120))
        attempt.confirmed_at = confirmed
        events += [
            (Kind.PLACEMENT_CONFIRMED, confirmed, self._checks("confirmation")),
            (
                Kind.OUTCOME_RECORDED,
                confirmed + timedelta(seconds=5),
                {"outcome": "success"},
            ),
        ]
        removed = inserted + timedelta(hours=rng.uniform(2, 30))
        if rng.random() < 0.05 or removed > now:
            attempt.stage = Stage.AFTERCARE
            return attempt, events
        draw = rng.random()
        found = {
            "complications": [rng.choice(self.complications)] if draw < 0.1 else [],
            "other_complication": "Bruising around the site" if draw > 0.98 else "",
        }
        # As flow.apply projects a removal onto the attempt.
        attempt.removed_at = removed
        attempt.complications = found["complications"]
        attempt.other_complication = found["other_complication"]
        events.append(
            (Kind.REMOVED, removed, {"condition": "Clean, no swelling", **found})
        )
        return attempt, events

    def _checks(self, section, unticked=False):
        steps = self.checks.get(section, [])
        cut = 1 if unticked and steps else 0
        return {"confirmed": steps[cut:], "not_confirmed": steps[:cut]}

    @staticmethod
    def _stop(at, outcome):
        from attempts.models import AttemptEvent

        reason = {"reason": "No flow"} if outcome == "failed" else {}
        return (AttemptEvent.Kind.OUTCOME_RECORDED, at, {"outcome": outcome, **reason})


def settle_statistics():
    """On PostgreSQL, the planner's statistics after a bulk load, as autovacuum gathers them a
    minute later in a running hospital (without them it plans 10 000 rows as one, nested
    loops and all). SQLite keeps none unless told, and Django never tells it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def time_page(client, url, requests, what):
    """(times in ms, SQL queries, body) of GET `url`; one untimed request counts the queries,
    after another that warms the process (the first reads the published content, once)."""
    expect(client.get(url), 200, what)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    sql = len(queries)
    expect(response, 200, what)
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        expect(response, 200, what)
    return times, sql, response.content


def review_section(version, requests, total):
    """The filtered review list with 1 000 attempts at ED, the numbers page with `total`."""
    from django.contrib.auth import get_user_model

    from attempts.models import Attempt
    from review.views import PAGE_SIZE
    from tests.factories import ClinicianFactory, LocationFactory, SupervisorFactory

    supervisor = SupervisorFactory()
    client = Client()
    client.force_login(supervisor)
    operators = [ClinicianFactory() for _ in range(REVIEW_OPERATORS)]
    ed = LocationFactory(name="ED")
    logged = LoggedAttempts(version)
    rows = []
    built = []

    began = time.perf_counter()
    made = logged.make(
        count=REVIEW_LIST_ATTEMPTS,
        location=ed,
        operators=operators,
        supervisor=supervisor,
        now=timezone.now(),
    )
    built.append((made, time.perf_counter() - began))
    settle_statistics()
    url = list_url = f"{reverse('review:home')}?outcome=success&location={ed.pk}"
    matching = min(
        Attempt.objects.filter(outcome="success", location=ed).count(), PAGE_SIZE
    )
    # The list's own work (#11) may not be merged yet: then say so, and go on to the numbers
    # (without Django's traceback of the failed request in the report).
    request_log = logging.getLogger("django.request")
    request_log.disabled = True
    try:
        times, sql, content = time_page(client, url, requests, "review list")
    except Exception as error:
        not_measured = f"the page failed ({type(error).__name__}: {error})"
    else:
        shown = content.count(b">Timeline<")
        not_measured = (
            ""
            if shown == matching
            else f"the page shows {shown} of {matching} rows (its template does not "
            "list attempts yet)"
        )
        rows.append(
            ("review list, filtered", url, REVIEW_LIST_ATTEMPTS, times, sql, content)
        )
    finally:
        request_log.disabled = False

    began = time.perf_counter()
    made = logged.make(
        count=total - REVIEW_LIST_ATTEMPTS,
        location=ed,
        operators=operators,
        supervisor=supervisor,
        now=timezone.now(),
    )
    built.append((made, time.perf_counter() - began))
    settle_statistics()
    everything = Attempt.objects.count()
    url = f"{reverse('review:numbers')}?location={ed.pk}"
    times, sql, content = time_page(client, url, requests, "numbers page")
    rows.append(("numbers, ED", url, total, times, sql, content))
    url = reverse("review:numbers")
    times, sql, content = time_page(client, url, requests, "numbers page")
    rows.append(("numbers, all locations", url, everything, times, sql, content))

    print()
    print(
        f"review: supervisor pages as {supervisor.username}, GET through the test client; "
        f"{everything} attempts in the database"
    )
    print(
        f"{'page':<24}{'attempts':>9}{'n':>5}{'median ms':>11}{'p95 ms':>9}{'SQL':>5}"
        f"{'body B':>9}"
    )
    print("-" * 72)
    for label, _, attempts, times, sql, content in rows:
        print(
            f"{label:<24}{attempts:>9}{len(times):>5}{median(times):>11.2f}"
            f"{percentile(times, 0.95):>9.2f}{sql:>5}{len(content):>9}"
        )
    print("-" * 72)
    operators_count = (
        get_user_model()
        .objects.filter(pk__in=Attempt.objects.values("operator"))
        .count()
    )
    footnote(
        f"URLs: {'; '.join(row[1] for row in rows)} (numbers: the default period, the last "
        f"90 days). attempts: those the page reads (at ED, or all). ED's attempts bulk-made "
        f"with their events by {REVIEW_OPERATORS} clinicians ({operators_count} operators "
        f"in all): {built[0][0][0]} attempts and {built[0][0][1]} events in "
        f"{built[0][1]:.2f} s, then {built[1][0][0]} and {built[1][0][1]} in "
        f"{built[1][1]:.2f} s; started up to {REVIEW_DAYS} days ago. The other attempts "
        "are the tap, board and sweep benches' (started in the last 30 h). PostgreSQL: "
        "ANALYZE after each bulk load, as autovacuum would. SQL: queries of one extra "
        "untimed request"
    )
    print()
    if not_measured:
        print(f"SKIP  review list, filtered: not measured: {not_measured}")
        print(f"      ({list_url})")
    else:
        label, _, attempts, times, _, _ = rows[0]
        verdict = "PASS" if median(times) < REVIEW_TARGET_MS else "FAIL"
        print(
            f"{verdict}  median {label} with {attempts} attempts at ED "
            f"{median(times):.2f} ms (target < {REVIEW_TARGET_MS:.0f} ms)"
        )
    label, _, attempts, times, _, _ = rows[-2]
    verdict = "PASS" if median(times) < REVIEW_TARGET_MS else "FAIL"
    print(
        f"{verdict}  median {label} page with {attempts} attempts {median(times):.2f} ms "
        f"(target < {REVIEW_TARGET_MS:.0f} ms)"
    )


def footnote(text):
    """A parenthesised note under a table, wrapped like the tap table's."""
    print(textwrap.fill(f"({text})", width=78, subsequent_indent=" "))


def counting(statements):
    """A database execute wrapper that counts the statements run (without logging them)."""

    def wrapper(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    return wrapper


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--attempts", type=int, default=40, help="attempts to time (default 40)"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed attempts first (default 1)"
    )
    parser.add_argument(
        "--board-requests",
        type=int,
        default=30,
        help="board polls to time, with 5 and with 500 needles (default 30)",
    )
    parser.add_argument(
        "--sweep-needles",
        type=int,
        default=10000,
        help="needles in place to add before the reminder sweep (default 10000)",
    )
    parser.add_argument(
        "--review-attempts",
        type=int,
        default=10000,
        help="logged attempts for the numbers page, the first 1000 for the review "
        "list (default 10000)",
    )
    parser.add_argument(
        "--review-requests",
        type=int,
        default=15,
        help="requests to time per review page (default 15)",
    )
    args = parser.parse_args()
    if args.review_attempts < REVIEW_LIST_ATTEMPTS or args.review_requests < 1:
        parser.error(
            f"--review-attempts must be at least {REVIEW_LIST_ATTEMPTS} and "
            "--review-requests at least 1"
        )
    if args.attempts < 1 or args.warmup < 0:
        parser.error("--attempts must be at least 1 and --warmup at least 0")
    if args.board_requests < 1 or args.sweep_needles < 10:
        parser.error(
            "--board-requests must be at least 1 and --sweep-needles at least 10"
        )

    setup_test_environment(debug=False)
    directory = use_private_test_database()
    old_name = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, serialize=False
    )
    try:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        client, version, location = make_bay()
        taps = script(version)
        for _ in range(args.warmup):
            run_attempt(client, location, taps, timer(_empty(taps)), _empty(taps))
        times, swaps = _empty(taps), _empty(taps)
        html = b""
        for _ in range(args.attempts):
            html = run_attempt(client, location, taps, timer(times), swaps)
        queries = {}
        run_attempt(client, location, taps, query_counter(queries), _empty(taps))
        files = transfer(client, html)
        print_report(
            attempts=args.attempts,
            warmup=args.warmup,
            times=times,
            swaps=swaps,
            queries=queries,
            files=files,
        )
        bay, clinician = board_section(client, version, location, args.board_requests)
        sweep_section(version, bay, clinician, args.sweep_needles)
        review_section(version, args.review_requests, args.review_attempts)
    except BenchError as error:
        print(f"bench: a scripted step failed: {error}", file=sys.stderr)
        return 1
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
        if directory:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


def _empty(taps):
    """Per-action lists, in the order the report prints them."""
    return {START: [], PAGE: [], **{action: [] for action, _ in taps}}


if __name__ == "__main__":
    sys.exit(main())
