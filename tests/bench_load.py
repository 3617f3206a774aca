"""`make bench-load` (issue #14): the bay under load on a real server, tablets as Locust drives them.

On the throwaway PostgreSQL of tests/with_postgres.sh (make bench-load starts it with fsync on),
for each tablet count in turn: a fresh database (migrated, the reference checklist, one location
and its clinicians), gunicorn with 2 sync workers as production runs it, and Locust, headless,
with tests/locustfile.py: every tablet signs in once, then taps through the scripted adult attempt
of tests/bench.py every ~2 s (the page's removal banner reloading when a tap's answer asks), its
board polling every 30 s, and one probe asking /healthz every second. Then the database is
checked (every tap Locust saw answered is exactly one event, of its kind, on its attempt) and a
table is printed: per request kind, what the tablets saw (Locust) and the server's own time
(gunicorn's access log, %(D)s µs), and the CPU time of each process.

Run from the repo root under tests/with_postgres.sh with the Makefile's TEST_ENV:

    .venv/bin/python tests/bench_load.py [--tablets 50,150] [--duration 60] [--spawn-rate 5]

Tablet figures are taken once every tablet has signed in (the sign-in ramp is left out);
sign-ins are reported over the whole run. A broken flow or a tap not recorded exactly once
exits non-zero; slow figures only print FAIL (this is a report).
"""

import argparse
import csv
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from statistics import median

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
# tests/accounts, tests/attempts… would shadow the apps: import from the repo root only.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioaccess.settings")

import django  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from tests.bench import cpu_name, footnote, percentile  # noqa: E402

TAP_P95_TARGET_MS = 100.0
PASSWORD = "bench-load-only-not-a-secret"
SERVER_SETTINGS = "tests.load_settings"
WORKERS = 2  # the production-like stack; --workers to try others
KINDS = ("tap", "page GET", "banner poll", "board poll", "healthz", "login")
# The event each scripted tap writes (attempts.flow.Kind).
TAP_EVENT = {
    "start": "started",
    "indication": "indication_confirmed",
    "site": "site_chosen",
    "screen": "contraindications_screened",
    "needle": "needle_chosen",
    "checks-done": "stage_completed",
    "needle-in-bone": "needle_in_bone",
    "confirm": "placement_confirmed",
    "outcome": "outcome_recorded",
}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ROUTES = (
    ("POST", re.compile(rf"^/bay/attempts/(new|{UUID}/taps/[a-z-]+)/$"), "tap"),
    (
        "GET",
        re.compile(rf"^/bay/attempts/(new|{UUID}|{UUID}/offline-cards)/$"),
        "page GET",
    ),
    ("GET", re.compile(r"^/accounts/login/$"), "page GET"),
    ("GET", re.compile(r"^/bay/needles/$"), "board poll"),
    ("GET", re.compile(r"^/bay/needles/banner/$"), "banner poll"),
    ("GET", re.compile(r"^/healthz$"), "healthz"),
    ("POST", re.compile(r"^/accounts/login/$"), "login"),
)
# One access-log line: [time] METHOD path status microseconds
ACCESS_FORMAT = '%(t)s %(m)s "%(U)s" %(s)s %(D)s'
ACCESS_LINE = re.compile(r'^\[([^\]]+)\] (\S+) "([^"]*)" (\d+) (\d+)$')
TICK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """The run could not be made or checked."""


# --- the database ---------------------------------------------------------------------------


def admin_connection():
    """Autocommit connection to the server's `postgres` database, for CREATE DATABASE."""
    db = settings.DATABASES["default"]
    return psycopg.connect(
        dbname="postgres",
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"],
        port=db["PORT"],
        autocommit=True,
    )


def create_database(name, template=None):
    with admin_connection() as admin:
        exists = admin.execute(
            "select 1 from pg_database where datname = %s", [name]
        ).fetchone()
        if exists:
            raise BenchError(
                f"database {name!r} already exists: bench-load runs only on a throwaway "
                "server (make bench-load, or tests/with_postgres.sh)"
            )
        statement = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" template {}").format(sql.Identifier(template))
        admin.execute(statement)


def use_database(name):
    connection.close()
    connection.settings_dict["NAME"] = name
    settings.DATABASES["default"]["NAME"] = name


def prepare(tablets):
    """Migrate, load the checklist, one location with `tablets` clinicians (MD5 hashes, see
    tests/load_settings.py). Returns the environment Locust's tablets read."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import MD5PasswordHasher

    from accounts.roles import CLINICIAN, group_for
    from attempts.models import Location
    from checklists.models import ChecklistVersion

    call_command("migrate", verbosity=0, interactive=False)
    call_command("load_io_checklist", verbosity=0)
    version = ChecklistVersion.objects.published().get()
    location = Location.objects.create(name="Resus 1")
    hashed = MD5PasswordHasher().encode(PASSWORD, MD5PasswordHasher().salt())
    User = get_user_model()
    users = User.objects.bulk_create(
        [
            User(username=f"tablet{index:03d}", password=hashed)
            for index in range(1, tablets + 1)
        ]
    )
    users = list(User.objects.filter(username__startswith="tablet"))
    group_for(CLINICIAN).user_set.add(*users)
    location.staff.add(*users)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "IOACCESS_LOAD_PASSWORD": PASSWORD,
        "IOACCESS_LOAD_LOCATION": str(location.pk),
        "IOACCESS_LOAD_SITE": str(version.sites.get(slug="proximal-humerus-adult").pk),
        "IOACCESS_LOAD_NEEDLE": str(version.needle_sizes.get(hub_colour="blue").pk),
    }


def database_version():
    with connection.cursor() as cursor:
        cursor.execute("show server_version")
        version = cursor.fetchone()[0].split()[0]
        cursor.execute("show fsync")
        fsync = cursor.fetchone()[0]
        cursor.execute("show synchronous_commit")
        commit = cursor.fetchone()[0]
    return f"PostgreSQL {version} (fsync {fsync}, synchronous_commit {commit})"


def check_events(taps):
    """Problems found comparing answered taps [(attempt, action)] with the events recorded."""
    from attempts.models import AttemptEvent

    sent = Counter((attempt, TAP_EVENT[action]) for attempt, action in taps)
    attempts = {attempt for attempt, _ in taps}
    recorded = Counter()
    rows = (
        AttemptEvent.objects.filter(recorded_by__username__startswith="tablet")
        .values_list("attempt__public_id", "kind")
        .iterator()
    )
    for public_id, kind in rows:
        recorded[(str(public_id), kind)] += 1
    problems = []
    for key in sorted(set(sent) | set(recorded)):
        if sent[key] != recorded[key]:
            problems.append(
                f"attempt {key[0]}, {key[1]}: {sent[key]} answered, {recorded[key]} recorded"
            )
    return problems, sum(sent.values()), sum(recorded.values()), len(attempts)


def needles_on_board():
    from attempts.models import Attempt

    return Attempt.objects.on_board().count()


# --- processes and their CPU time -----------------------------------------------------------


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def proc_stat(pid):
    """(ppid, utime + stime, cutime + cstime) in seconds, or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    own = (int(fields[11]) + int(fields[12])) / TICK
    children = (int(fields[13]) + int(fields[14])) / TICK
    return ppid, own, children


def children_of(pid):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat and stat[0] == pid:
                found.append(int(entry.name))
    return found


def tree_cpu(pid):
    """CPU seconds of a process, its reaped children and its live children."""
    stat = proc_stat(pid)
    if stat is None:
        return 0.0
    total = stat[1] + stat[2]
    for child in children_of(pid):
        child_stat = proc_stat(child)
        if child_stat:
            total += child_stat[1] + child_stat[2]
    return total


def machine_cpu():
    """CPU seconds busy and in all, over every CPU, since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICK, sum(values[:8]) / TICK


def postmaster_pid():
    data = os.environ.get("IOACCESS_PG_DATA")
    if not data:
        return None
    try:
        return int(Path(data, "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def server_env(database):
    env = dict(os.environ)
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    env.update(
        DATABASE_URL=f"{url}/{database}",
        DJANGO_SETTINGS_MODULE=SERVER_SETTINGS,
        DJANGO_DEBUG="0",
        DJANGO_LOG_LEVEL="WARNING",
    )
    return env


def start_gunicorn(database, port, access_log, error_log, workers):
    gunicorn = Path(sys.executable).parent / "gunicorn"
    process = subprocess.Popen(  # noqa: S603 - our own command line, no shell
        [
            str(gunicorn),
            "ioaccess.wsgi",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            ACCESS_FORMAT,
            "--error-logfile",
            str(error_log),
            # Several servers may run on one machine (a developer's `make run`, a suite).
            "--no-control-socket",
        ],
        cwd=REPO_ROOT,
        env=server_env(database),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(
                f"gunicorn exited with {process.returncode}:\n{error_log.read_text()}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                pass
        except OSError:
            time.sleep(0.3)
            continue
        # Every worker up and warm: each imports Django on its first request.
        if len(children_of(process.pid)) >= workers:
            for _ in range(workers * 4):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz"):
                    pass
            return process
        time.sleep(0.3)
    process.kill()
    raise BenchError("gunicorn did not answer /healthz within 60 s")


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- one run --------------------------------------------------------------------------------


def run(tablets, *, duration, spawn_rate, locust, workdir, tablet_env, workers):
    database = (
        f"{settings.DATABASES['default']['NAME'].rsplit('_load', 1)[0]}_t{tablets}"
    )
    template = settings.DATABASES["default"]["NAME"]
    use_database("postgres")
    create_database(database, template=template)
    port = free_port()
    access_log = workdir / f"access-{tablets}.log"
    error_log = workdir / f"gunicorn-{tablets}.log"
    request_log = workdir / f"requests-{tablets}.csv"
    locust_log = workdir / f"locust-{tablets}.log"
    server = start_gunicorn(database, port, access_log, error_log, workers)
    access_log.write_text("")  # the warm-up requests are not measured
    postgres = postmaster_pid()
    ramp = tablets / spawn_rate
    try:
        before = {
            "gunicorn": tree_cpu(server.pid),
            "postgres": tree_cpu(postgres) if postgres else 0.0,
            "machine": machine_cpu(),
        }
        began = time.monotonic()
        env = dict(os.environ)
        env.update(tablet_env)
        env.update(
            IOACCESS_LOAD_USERS=",".join(
                f"tablet{index:03d}" for index in range(1, tablets + 1)
            ),
            IOACCESS_LOAD_LOG=str(request_log),
        )
        with locust_log.open("w") as output:
            locust_process = subprocess.Popen(  # noqa: S603 - our own command line
                [
                    str(locust),
                    "-f",
                    str(HERE / "locustfile.py"),
                    "--headless",
                    "--host",
                    f"http://127.0.0.1:{port}",
                    "--users",
                    str(tablets + 1),  # and the /healthz probe
                    "--spawn-rate",
                    str(spawn_rate),
                    "--run-time",
                    f"{round(ramp + duration)}s",
                    # A tablet in the middle of a request finishes it: no tap is cut off
                    # after the server recorded it but before Locust saw the answer.
                    "--stop-timeout",
                    "30",
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=REPO_ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            _, status, usage = os.wait4(locust_process.pid, 0)
        locust_process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - began
        busy, total = machine_cpu()
        cpu = {
            "gunicorn": tree_cpu(server.pid) - before["gunicorn"],
            "postgres": (tree_cpu(postgres) - before["postgres"]) if postgres else None,
            "locust": usage.ru_utime + usage.ru_stime,
            "machine": (busy - before["machine"][0], total - before["machine"][1]),
        }
    finally:
        stop(server)
    if not request_log.exists():
        raise BenchError(f"Locust wrote no request log:\n{locust_log.read_text()}")
    requests = read_requests(request_log)
    if not requests:
        raise BenchError(f"Locust sent no request:\n{locust_log.read_text()}")
    logins = [row for row in requests if row["kind"] == "login"]
    if not logins:
        raise BenchError(f"no tablet signed in:\n{locust_log.read_text()}")
    steady_from = max(row["start"] + row["ms"] / 1000 for row in logins)
    served = read_access_log(access_log)
    use_database(database)
    taps = [
        (row["attempt"], row["action"])
        for row in requests
        if row["kind"] == "tap" and row["ok"] and row["attempt"]
    ]
    check = check_events(taps)
    board = needles_on_board()
    return {
        "tablets": tablets,
        "database": database,
        "requests": requests,
        "served": served,
        "steady_from": steady_from,
        "first": min(row["start"] for row in requests),
        "last": max(row["start"] + row["ms"] / 1000 for row in requests),
        "wall": wall,
        "cpu": cpu,
        "check": check,
        "board": board,
        "locust_exit": locust_process.returncode,
        "locust_log": locust_log,
    }


def read_requests(path):
    with path.open(newline="") as handle:
        return [
            {
                **row,
                "start": float(row["start"]),
                "ms": float(row["ms"]),
                "ok": row["ok"] == "1",
            }
            for row in csv.DictReader(handle)
        ]


def kind_of(method, path):
    for route_method, pattern, kind in ROUTES:
        if method == route_method and pattern.match(path):
            return kind
    return "other"


def read_access_log(path):
    """[(epoch seconds at the answer, kind, status, server ms, tap action or "")] from
    gunicorn's access log."""
    served = []
    for line in path.read_text().splitlines():
        found = ACCESS_LINE.match(line.strip())
        if not found:
            continue
        moment, method, url, status, micros = found.groups()
        at = datetime.strptime(moment, "%d/%b/%Y:%H:%M:%S %z").timestamp()
        kind = kind_of(method, url)
        action = ""
        if kind == "tap":
            action = (
                "start" if url.endswith("/new/") else url.rstrip("/").rsplit("/", 1)[1]
            )
        served.append((at, kind, int(status), int(micros) / 1000, action))
    return served


# --- the report -----------------------------------------------------------------------------


def report(result):
    tablets = result["tablets"]
    steady_from = result["steady_from"]
    steady_seconds = result["last"] - steady_from
    print()
    print(
        f"=== {tablets} tablets: sign-in ramp {steady_from - result['first']:.0f} s, then "
        f"{steady_seconds:.0f} s with every tablet signed in ==="
    )
    header = (
        f"{'kind':<12}{'n':>7}{'errors':>7}{'req/s':>7}"
        f"{'p50':>8}{'p95':>8}{'p99':>8}{'srv p50':>9}{'srv p95':>9}"
    )
    print(f"{'':<33}{'tablet ms (Locust)':^24}{'server ms (%(D)s)':^18}")
    print(header)
    print("-" * len(header))
    server_medians = {}
    failed = 0
    for kind in KINDS:
        # Sign-ins happen in the ramp: counted over the whole run, the rest once all are in.
        whole = kind == "login"
        rows = [
            row
            for row in result["requests"]
            if row["kind"] == kind and (whole or row["start"] >= steady_from)
        ]
        times = [row["ms"] for row in rows if row["ok"]]
        errors = sum(1 for row in rows if not row["ok"])
        failed += sum(
            1 for row in result["requests"] if row["kind"] == kind and not row["ok"]
        )
        served = [
            ms
            for at, served_kind, _, ms, _ in result["served"]
            if served_kind == kind and (whole or at >= int(steady_from))
        ]
        span = (result["last"] - result["first"]) if whole else steady_seconds
        line = f"{kind:<12}{len(rows):>7}{errors:>7}{len(rows) / max(span, 1):>7.1f}"
        if times:
            line += "".join(f"{percentile(times, q):>8.1f}" for q in (0.50, 0.95, 0.99))
        else:
            line += f"{'-':>8}" * 3
        if served:
            server_medians[kind] = median(served)
            line += f"{median(served):>9.2f}{percentile(served, 0.95):>9.2f}"
        print(line)
    print("-" * len(header))
    footnote(
        "tap: Start and the 8 htmx taps; page GET: the Start form, the attempt page, the "
        "sign-in form; banner poll: after a tap on a needle in place, as the page's htmx does; "
        "login: the sign-in POST, over the whole run; the rest from the moment "
        "the last tablet signed in. tablet ms: Locust's response time (request sent to body "
        "read), percentiles of every request (Locust's own table rounds them); server ms: "
        "gunicorn's %(D)s, request read to response written"
    )
    by_action = defaultdict(list)
    for at, kind, _, ms, action in result["served"]:
        if kind == "tap" and at >= int(steady_from):
            by_action[action].append(ms)
    footnote(
        "server ms p50 per tap: "
        + ", ".join(
            f"{action} {median(by_action[action]):.1f}"
            for action in TAP_EVENT
            if by_action[action]
        )
    )
    tap_rows = [
        row
        for row in result["requests"]
        if row["kind"] == "tap" and row["start"] >= steady_from and row["ok"]
    ]
    tap_p95 = percentile([row["ms"] for row in tap_rows], 0.95) if tap_rows else 0.0
    if "tap" in server_medians and server_medians.get("healthz"):
        ratio = server_medians["tap"] / server_medians["healthz"]
        print(
            f"tap / healthz median server time: {server_medians['tap']:.2f} / "
            f"{server_medians['healthz']:.2f} ms = {ratio:.1f}x"
        )

    cpu = result["cpu"]
    busy, total = cpu["machine"]
    ours = cpu["gunicorn"] + cpu["locust"] + (cpu["postgres"] or 0.0)
    wall = result["wall"]
    footnote(
        f"CPU seconds over the {wall:.0f} s run (from /proc; {os.cpu_count()} CPUs = "
        f"{wall * os.cpu_count():.0f} CPU s): gunicorn master+workers "
        f"{cpu['gunicorn']:.1f}, PostgreSQL "
        + (f"{cpu['postgres']:.1f}" if cpu["postgres"] is not None else "not found")
        + f", Locust {cpu['locust']:.1f}; the whole machine {busy:.1f} busy of "
        f"{total:.0f}, of which {max(busy - ours, 0):.1f} by other processes"
    )
    problems, answered, recorded, attempts = result["check"]
    verdict = "PASS" if not problems else "FAIL"
    print(
        f"{verdict}  every answered tap is one event: {answered} taps answered, "
        f"{recorded} events recorded, on {attempts} attempts (checked in the database)"
    )
    print(
        f"      at the end the board showed {result['board']} needles in place (each "
        "successful scripted attempt leaves one)"
    )
    for problem in problems[:10]:
        print(f"      {problem}")
    overloaded = [
        line.strip()
        for line in result["locust_log"].read_text().splitlines()
        if "CPU usage" in line
    ]
    if overloaded:
        print(f"NOTE  Locust warned that it was short of CPU: {overloaded[0]}")
    verdict = "PASS" if failed == 0 else "FAIL"
    print(f"{verdict}  {failed} failed requests in the whole run")
    verdict = "PASS" if tap_p95 < TAP_P95_TARGET_MS else "FAIL"
    print(
        f"{verdict}  tap p95 as the tablets saw it {tap_p95:.1f} ms "
        f"(target < {TAP_P95_TARGET_MS:.0f} ms)"
    )
    if failed:
        errors = Counter(
            (row["name"], row["error"]) for row in result["requests"] if not row["ok"]
        )
        for (name, error), count in errors.most_common(5):
            print(f"      {count} x {name}: {error}")
    return not problems and not failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tablets",
        default="50,150",
        help="tablet counts, comma-separated, run in turn (default 50,150)",
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=60,
        help="seconds measured once every tablet has signed in (default 60)",
    )
    parser.add_argument(
        "--spawn-rate",
        type=float,
        default=5.0,
        help="tablets switched on per second (default 5)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=WORKERS,
        help=f"gunicorn sync workers (default {WORKERS})",
    )
    parser.add_argument(
        "--locust",
        default=str(REPO_ROOT / ".venv-load" / "bin" / "locust"),
        help="the locust command (default .venv-load/bin/locust, made by make bench-load)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the logs (printed where) afterwards"
    )
    args = parser.parse_args()
    try:
        counts = [int(part) for part in args.tablets.split(",") if part.strip()]
    except ValueError:
        parser.error("--tablets takes numbers separated by commas, e.g. 50,150")
    if (
        not counts
        or min(counts) < 1
        or args.duration < 1
        or args.spawn_rate <= 0
        or args.workers < 1
    ):
        parser.error(
            "--tablets, --duration, --spawn-rate and --workers must be positive"
        )
    if connection.vendor != "postgresql":
        parser.error(
            "bench-load runs on PostgreSQL: run it under tests/with_postgres.sh"
        )
    if not Path(args.locust).exists():
        parser.error(f"{args.locust} not found: make bench-load installs it")

    workdir = Path(tempfile.mkdtemp(prefix="ioaccess-load-"))
    status = 0
    try:
        base = f"{settings.DATABASES['default']['NAME']}_load"
        create_database(base)
        use_database(base)
        tablet_env = prepare(max(counts))
        print(
            f"ioaccess bench-load: {database_version()}; {cpu_name()}, {os.cpu_count()} "
            f"CPUs; Python {platform.python_version()}, Django {django.get_version()}; "
            f"load average {os.getloadavg()[0]:.1f} before the runs"
        )
        print(
            f"gunicorn, {args.workers} sync workers, settings {SERVER_SETTINGS} "
            "(production's, MD5 password hashes); Locust headless, "
            f"{args.spawn_rate:g} tablets switched on per second; a tap every 1.5-2.5 s "
            "(the banner after one on a needle in place), a board poll every 30 s per "
            "tablet, /healthz every second"
        )
        for tablets in counts:
            result = run(
                tablets,
                duration=args.duration,
                spawn_rate=args.spawn_rate,
                locust=args.locust,
                workdir=workdir,
                tablet_env=tablet_env,
                workers=args.workers,
            )
            use_database(base)
            if not report(result):
                status = 1
            if result["locust_exit"] not in (0, 1):  # 1: some request failed
                print(f"Locust exited {result['locust_exit']}; its output:")
                print(result["locust_log"].read_text()[-3000:])
                status = 1
    except BenchError as error:
        print(f"bench-load: {error}", file=sys.stderr)
        status = 1
    finally:
        connection.close()
        if args.keep:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
