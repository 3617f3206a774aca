"""PostgreSQL restarted in the middle of a run of taps: every tap recorded once, in order.

The app is served the way production serves it (gunicorn, one sync worker that keeps its
database connection between requests), against the test database, and is driven over plain
HTTP as the tablet drives it. While the taps go on, the database server is restarted
(`pg_ctl restart -m fast`: every open connection is cut, then the server comes back). A tap
that gets a 503 or no answer at all is sent again with the same client token and data, as
the tablet's queue sends it; nothing else is retried.
"""

import http.client
import os
import re
import secrets
import shutil
import socket
import string
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from attempts.models import AttemptEvent
from tests.attempts.conftest import needle, site

Kind = AttemptEvent.Kind

PG_DATA = os.environ.get("IOACCESS_PG_DATA", "")
PG_BIN = os.environ.get("IOACCESS_PG_BIN", "")
# pytest-xdist's workers share the server: a restart would cut the other workers' tests.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)

pytestmark = [
    pytest.mark.skipif(
        not PG_DATA,
        reason="needs a throwaway PostgreSQL server it may restart: run it through "
        "tests/with_postgres.sh, which sets IOACCESS_PG_DATA",
    ),
    pytest.mark.skipif(
        WORKERS > 1,
        reason=f"restarts the PostgreSQL server that {WORKERS} xdist workers share: run "
        "this file on its own, without -n",
    ),
    pytest.mark.usefixtures("migrated_data"),
]

# Far longer than any restart; a run that needs it has lost a tap.
GIVE_UP_AFTER_SECONDS = 60
# The tablet waits Retry-After (5 s) between tries; the test need not.
RETRY_PAUSE_SECONDS = 0.1
# The tablet's queue retries these and only these (a 4xx is an answer about the tap itself).
RETRYABLE = {502, 503, 504}


@pytest.fixture
def postgres_only(vendor):
    if vendor != "postgresql":
        pytest.skip("restarts a PostgreSQL server; this leg runs on another database")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@pytest.fixture
def bay_server(postgres_only, tmp_path):
    """gunicorn serving the app against the test database; its base URL."""
    db = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        # Keep the connection between requests, as production does: the restart kills it.
        "DJANGO_DB_CONN_MAX_AGE": "60",
    }
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "ioaccess.wsgi:application",
            "--workers=1",
            f"--bind=127.0.0.1:{port}",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while get(f"{base}{reverse('healthz')}", timeout=1) != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start:\n{Path(log.name).read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def restart_postgres():
    """`pg_ctl restart` (fast: cuts every connection), as the postgres user when run as root."""
    pg_ctl = str(Path(PG_BIN) / "pg_ctl") if PG_BIN else shutil.which("pg_ctl")
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # The server writes its log where with_postgres.sh started it: to a pipe it would hold
    # open (and this call would never return).
    server_log = str(Path(PG_DATA).parent / "server.log")
    command = [*as_owner, pg_ctl, "-D", PG_DATA, "-l", server_log, "-m", "fast", "-w"]
    return subprocess.run(  # noqa: S603
        [*command, "restart"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Tablet:
    """Posts taps as the attempt page's htmx forms do, with the login's cookies."""

    def __init__(self, base, user):
        login = Client()
        login.force_login(user)
        session = login.cookies[settings.SESSION_COOKIE_NAME].value
        # A CSRF secret of Django's own form, sent as the cookie and the header, as htmx does.
        self.csrf = "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(32)
        )
        self.base = base
        self.cookie = (
            f"{settings.SESSION_COOKIE_NAME}={session}; "
            f"{settings.CSRF_COOKIE_NAME}={self.csrf}"
        )
        self.answers = []  # (client token, status or "no answer"), every try

    def post(self, path, data):
        """One try: (status, body), or (None, reason) when no answer came."""
        request = urllib.request.Request(  # noqa: S310
            self.base + path,
            data=urllib.parse.urlencode(data).encode(),
            headers={
                "Cookie": self.cookie,
                "X-CSRFToken": self.csrf,
                "HX-Request": "true",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except (OSError, http.client.HTTPException) as error:
            return None, repr(error)

    def tap(self, path, data):
        """Send one tap until it is answered, as the tablet's queue does; (status, body)."""
        deadline = time.monotonic() + GIVE_UP_AFTER_SECONDS
        while True:
            status, body = self.post(path, data)
            self.answers.append((data["client_token"], status or "no answer"))
            if status is not None and status not in RETRYABLE:
                return status, body
            if time.monotonic() > deadline:
                pytest.fail(f"tap never answered after the restart: {status} {body}")
            time.sleep(RETRY_PAUSE_SECONDS)


REVISION = re.compile(r'name="revision" value="(\d+)"')


def test_a_database_restart_mid_run_loses_no_tap_and_doubles_none(
    bay_server, attempt, clinician, version
):
    tablet = Tablet(bay_server, clinician)
    sent = []
    revision = attempt.revision

    def tap(action, **fields):
        nonlocal revision
        token = str(uuid.uuid4())
        sent.append(token)
        path = reverse("attempts:attempt-record", args=[attempt.public_id, action])
        data = {"client_token": token, "revision": revision, **fields}
        status, body = tablet.tap(path, data)
        # Also a retried tap whose first try was recorded before its answer was lost: 200,
        # never 409, or the tablet would show a recorded tap as not applied.
        assert status == 200, (action, status, body)
        # The card the answer shows first; the cards after it (drawn ahead for offline use)
        # carry later revisions.
        if drawn := REVISION.search(body):
            revision = int(drawn[1])

    # Everything the taps post is read now: this test's own connection is cut by the restart.
    humerus = site(version, "proximal-humerus-adult").pk
    blue = needle(version, "blue").pk
    prep_steps = list(
        version.steps.filter(kind="check", section__slug="preparation")
        .order_by("position")
        .values_list("pk", flat=True)
    )
    results = []
    restart = threading.Thread(target=lambda: results.append(restart_postgres()))
    try:
        tap("indication")
        restart.start()
        tap("site", site=humerus, side="left")
        tap("screen")
        tap("needle", needle=blue, tissue="normal")
        # Tick and untick the preparation checks until the database is back, and a few more.
        ticks, after_restart = 0, 0
        while restart.is_alive() or after_restart < 3:
            step = prep_steps[ticks % len(prep_steps)]
            ticked = (ticks // len(prep_steps)) % 2 == 0
            tap("check", step=step, **({"checked": "on"} if ticked else {}))
            ticks += 1
            after_restart += not restart.is_alive()
        # The checks left ticked are confirmed; the rest of the walk as usual.
        tap("checks-done", all_confirmed="on")
        tap("needle-in-bone")
        tap("confirm", all_confirmed="on")
        tap("outcome", outcome="success")
    finally:
        restart.join(timeout=90)
        # This test's own connection was cut by the restart too.
        connection.close()

    (restarted,) = results
    assert restarted.returncode == 0, restarted.stderr
    statuses = [status for _, status in tablet.answers]
    assert 500 not in statuses
    # The restart did land in the run: some tap had to be sent again.
    assert any(status in RETRYABLE or status == "no answer" for status in statuses), (
        statuses
    )
    recorded = list(
        attempt.events.exclude(kind=Kind.STARTED)
        .order_by("recorded_at", "pk")
        .values_list("client_token", flat=True)
    )
    assert [str(token) for token in recorded] == sent
    attempt.refresh_from_db()
    assert attempt.outcome == attempt.Outcome.SUCCESS
    assert attempt.events.filter(kind=Kind.NEEDLE_IN_BONE).count() == 1


def test_after_a_restart_between_taps_the_next_tap_is_answered_at_once(
    bay_server, attempt, clinician
):
    """The worker's kept connection died with the restart: it is replaced, not used (a 503)."""
    tablet = Tablet(bay_server, clinician)
    assert (
        get(bay_server + reverse("healthz")) == 200
    )  # the worker now holds a connection
    try:
        restarted = restart_postgres()
    finally:
        connection.close()
    assert restarted.returncode == 0, restarted.stderr

    token = str(uuid.uuid4())
    status, body = tablet.post(
        reverse("attempts:attempt-record", args=[attempt.public_id, "indication"]),
        {"client_token": token, "revision": attempt.revision},
    )
    assert status == 200, body
    assert attempt.events.filter(client_token=token).count() == 1
