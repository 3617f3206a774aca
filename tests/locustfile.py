"""Locust tablets for `make bench-load` (issue #14); tests/bench_load.py starts Locust with it.

Each simulated tablet signs in once as its own clinician, then runs the scripted adult attempt of
tests/bench.py through the real pages, as a browser with htmx would: the Start form, the attempt
page, then the eight taps, each sent with the revision and CSRF token of the card it answers and
a fresh client_token, a tap every ~2 s; after a tap whose answer carries the attempt-updated
event (a needle in place) the page's removal banner reloads, as htmx does. The needle board is
polled every 30 s per tablet (htmx's poll), and one probe asks /healthz every second: the
server's floor in the same run.

Every request goes to a CSV (IOACCESS_LOAD_LOG), with the attempt and action of each tap, so that
bench_load.py can count what was sent against the events in the database. Settings come from
the environment (bench_load.py sets them): IOACCESS_LOAD_USERS (comma-separated usernames),
IOACCESS_LOAD_PASSWORD, IOACCESS_LOAD_LOCATION, IOACCESS_LOAD_SITE, IOACCESS_LOAD_NEEDLE.
"""

import csv
import itertools
import os
import random
import re
import time
import uuid

from locust import HttpUser, constant, events, task

USERS = os.environ.get("IOACCESS_LOAD_USERS", "").split(",")
PASSWORD = os.environ.get("IOACCESS_LOAD_PASSWORD", "")
LOCATION = os.environ.get("IOACCESS_LOAD_LOCATION", "")
SITE = os.environ.get("IOACCESS_LOAD_SITE", "")
NEEDLE = os.environ.get("IOACCESS_LOAD_NEEDLE", "")
LOG = os.environ.get("IOACCESS_LOAD_LOG", "load-requests.csv")

TAP_EVERY = (1.5, 2.5)  # seconds between two taps on one tablet
BOARD_EVERY = (
    30.0  # seconds between two board polls on one tablet (the board's htmx poll)
)
HEALTH_EVERY = 1.0

# The taps after Start, as tests/bench.py scripts them.
TAPS = (
    ("indication", {}),
    ("site", {"site": SITE, "side": "left"}),
    ("screen", {}),
    ("needle", {"needle": NEEDLE, "tissue": "normal"}),
    ("checks-done", {"all_confirmed": "on"}),
    ("needle-in-bone", {}),
    ("confirm", {"all_confirmed": "on"}),
    ("outcome", {"outcome": "success"}),
)
HTMX = {"HX-Request": "true"}

CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
REVISION = re.compile(rb'name="revision" value="(\d+)"')
ATTEMPT = re.compile(r"/bay/attempts/([0-9a-f-]{36})/$")

usernames = itertools.cycle(USERS)
_log = {"file": None, "writer": None}


@events.test_start.add_listener
def open_log(environment, **kwargs):
    _log["file"] = open(LOG, "w", newline="", buffering=1)  # noqa: SIM115 (closed at quit)
    _log["writer"] = csv.writer(_log["file"])
    _log["writer"].writerow(
        ["start", "kind", "name", "ms", "status", "ok", "attempt", "action", "error"]
    )


@events.request.add_listener
def log_request(
    request_type, name, response_time, response, context, exception, start_time, **_
):
    if _log["writer"] is None:
        return
    _log["writer"].writerow(
        [
            f"{start_time:.3f}",
            context.get("kind", ""),
            name,
            f"{response_time:.3f}",
            getattr(response, "status_code", 0) or 0,
            0 if exception else 1,
            context.get("attempt", ""),
            context.get("action", ""),
            str(exception or "")[:200],
        ]
    )


@events.quitting.add_listener
def close_log(environment, **kwargs):
    if _log["file"]:
        _log["file"].close()
        _log["file"] = None


def csrf_of(body):
    found = CSRF.search(body)
    return found.group(1).decode() if found else ""


def revision_of(body):
    found = REVISION.search(body)
    return found.group(1).decode() if found else ""


class Tablet(HttpUser):
    """A shared bay tablet: one clinician, attempt after attempt, a tap every ~2 s."""

    weight = 1

    def wait_time(self):
        return random.uniform(*TAP_EVERY)  # noqa: S311 - think time, not a secret

    def on_start(self):
        # Boards start their 30 s poll at different moments, as tablets are switched on.
        offset = random.uniform(0, BOARD_EVERY)  # noqa: S311 - not a secret
        self.next_poll = time.monotonic() + offset
        self.username = next(usernames)
        page = self.client.get(
            "/accounts/login/", name="login form", context={"kind": "page GET"}
        )
        with self.client.post(
            "/accounts/login/",
            data={
                "username": self.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": csrf_of(page.content),
            },
            name="login",
            context={"kind": "login"},
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login: HTTP {response.status_code}, not 302")

    def pause(self):
        """Think time between two taps; the board polls when its 30 s are up."""
        if time.monotonic() >= self.next_poll:
            self.next_poll += BOARD_EVERY
            with self.client.get(
                "/bay/needles/",
                headers=HTMX,
                name="board poll",
                context={"kind": "board poll"},
                catch_response=True,
            ) as response:
                # A poll that finds nothing new may be answered 304 (issue #14).
                if response.status_code == 304:
                    response.success()
        self.wait()

    @task
    def attempt(self):
        """One complete adult attempt; a failed request ends it, and the next one starts."""
        form = self.client.get(
            "/bay/attempts/new/", name="start form", context={"kind": "page GET"}
        )
        if form.status_code != 200:
            return
        self.pause()
        with self.client.post(
            "/bay/attempts/new/",
            data={
                "csrfmiddlewaretoken": csrf_of(form.content),
                "client_token": str(uuid.uuid4()),
                "location": LOCATION,
                "age_group": "adult",
                "weight_kg": "72",
                "context": "cardiac_arrest",
            },
            name="tap start",
            context={"kind": "tap", "action": "start"},
            allow_redirects=False,
            catch_response=True,
        ) as response:
            found = ATTEMPT.search(response.headers.get("Location", ""))
            if response.status_code != 302 or not found:
                response.failure(f"start: HTTP {response.status_code}, no attempt")
                return
            public_id = found.group(1)
            # The attempt is known only now: name it for the database check.
            response.request_meta["context"]["attempt"] = public_id
        page = self.client.get(
            f"/bay/attempts/{public_id}/",
            name="attempt page",
            context={"kind": "page GET", "attempt": public_id},
        )
        if page.status_code != 200:
            return
        card = page.content
        # The page then loads the cards it draws ahead for a network drop (htmx, on load).
        if b"/offline-cards/" in card:
            self.client.get(
                f"/bay/attempts/{public_id}/offline-cards/",
                headers=HTMX,
                name="offline cards",
                context={"kind": "page GET", "attempt": public_id},
            )
        for action, data in TAPS:
            self.pause()
            with self.client.post(
                f"/bay/attempts/{public_id}/taps/{action}/",
                data={
                    "csrfmiddlewaretoken": csrf_of(card),
                    "client_token": str(uuid.uuid4()),
                    "revision": revision_of(card),
                    **data,
                },
                headers=HTMX,
                name=f"tap {action}",
                context={"kind": "tap", "attempt": public_id, "action": action},
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    response.failure(f"tap {action}: HTTP {response.status_code}")
                    return
                card = response.content
                updated = "attempt-updated" in response.headers.get("HX-Trigger", "")
            if updated:
                # The page's removal banner reloads on the event the tap's answer carries.
                self.client.get(
                    "/bay/needles/banner/",
                    headers=HTMX,
                    name="banner poll",
                    context={"kind": "banner poll"},
                )


class HealthProbe(HttpUser):
    """The floor: /healthz once a second, in the same run."""

    fixed_count = 1
    wait_time = constant(HEALTH_EVERY)

    @task
    def healthz(self):
        self.client.get("/healthz", name="healthz", context={"kind": "healthz"})
