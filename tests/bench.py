"""`make bench` (issue #5): server time per tap, htmx swap sizes, and the attempt page's weight.

Replays a scripted, complete adult attempt many times through Django's test client (the full
middleware and view stack, in-process: "server time") on a throwaway test database, then prints
a plain-text report. Run from the repo root with the Makefile's TEST_ENV:

    .venv/bin/python tests/bench.py [--attempts N]

Targets: median tap under 25 ms; attempt page with its CSS and JS under 60 KB gzip.
A missed target prints FAIL but still exits 0 (this is a report); a broken flow exits non-zero.
"""

import argparse
import gzip
import io
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path
from statistics import mean, median

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
    response = measure(START, client.post, reverse("attempts:attempt-start"), start)
    expect(response, 302, "start")
    public_id = resolve(response["Location"]).kwargs["public_id"]
    page_url = reverse("attempts:attempt-detail", args=[public_id])
    if response["Location"] != page_url:
        raise BenchError(f"start redirected to {response['Location']}, not {page_url}")

    page = measure(PAGE, client.get, page_url)
    expect(page, 200, "attempt page")

    for action, data in taps:
        url = reverse("attempts:attempt-record", args=[public_id, action])
        payload = {"client_token": str(uuid.uuid4()), **data}
        response = measure(
            action, client.post, url, payload, headers={"HX-Request": "true"}
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
        f"{settings.DEBUG}; server time = perf_counter around client.get/post"
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--attempts", type=int, default=40, help="attempts to time (default 40)"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed attempts first (default 1)"
    )
    args = parser.parse_args()
    if args.attempts < 1 or args.warmup < 0:
        parser.error("--attempts must be at least 1 and --warmup at least 0")

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
    except BenchError as error:
        print(f"bench: the scripted attempt failed: {error}", file=sys.stderr)
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
