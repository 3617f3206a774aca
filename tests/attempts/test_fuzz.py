"""Fuzz every POST of the bay, and the board's location filter, with generated input (#9).

Requests are built from what the real pages render: the page is fetched as the logged-in
clinician, its ``<form method="post">`` elements are read back (action, the values a browser
would send, the submit button tapped), then fields are replaced, dropped or added with
generated values: bad weights, garbage or replayed client tokens, tampered ids, unknown
choices, huge or NUL-laden strings, impossible times, fields the bay never asked for. A hidden
field added to or removed from a form is picked up without touching this file.

For every request (design.md §8):
- never a 5xx: bad input is refused with a message, never a server error;
- a refused request (status >= 400) changes nothing: the Attempt, AttemptEvent, Episode and
  RemovalReminder rows are the same before and after. The board is a GET: it never changes them.

The database is rolled back per test, not per example. Each test sets its attempts up by
tapping the visible buttons of the real page (design.md §9) and reuses them across examples;
an attempt that an accepted request moved on is set up again.
"""

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import pytest
from django.db import transaction
from django.urls import NoReverseMatch, resolve, reverse
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from attempts.forms import TAP_ACTIONS
from attempts.models import Attempt, AttemptEvent, Episode, RemovalReminder
from tests.factories import (
    ChecklistVersionFactory,
    ContraindicationFactory,
    LocationFactory,
    NeedleSizeFactory,
    SectionFactory,
    SiteFactory,
    StepFactory,
    TroubleshootingItemFactory,
)

Kind = AttemptEvent.Kind

# Never flaky in CI: the same examples on every run, and no example database.
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
    database=None,
)

# ---------------------------------------------------------------------------------------------
# The records a refused request must leave alone.

RECORDS = (Attempt, AttemptEvent, Episode, RemovalReminder)


def records_checksum():
    """A hash of every Attempt, AttemptEvent, Episode and RemovalReminder row, in pk order."""
    digest = hashlib.sha256()
    for model in RECORDS:
        for row in model.objects.order_by("pk").values():
            digest.update(repr(row).encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Reading a page's forms back, as a browser would submit them.


@dataclass(frozen=True)
class Submission:
    """What a browser sends when one submit button of a <form method="post"> is tapped."""

    url: str
    pairs: tuple  # (name, value) in document order, the tapped button's own name=value last
    label: str  # the tapped button's accessible name
    hidden: frozenset  # names of the hidden fields
    typed: frozenset  # names of the visible text fields, which a person types into


class _PostForms(HTMLParser):
    """Every <form method="post"> of a page: its action, its fields and its submit buttons."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._form = self._select = self._textarea = self._button = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            is_post = (attrs.get("method") or "get").lower() == "post"
            self._form = None
            if is_post:
                self._form = {
                    "action": attrs.get("action") or "",
                    "pairs": [],
                    "hidden": set(),
                    "typed": set(),
                    "buttons": [],
                }
                self.forms.append(self._form)
            return
        if self._form is None:
            return
        name, kind = attrs.get("name"), (attrs.get("type") or "").lower()
        if tag == "button" and kind in {"", "submit"}:
            self._button = {
                "name": name,
                "value": attrs.get("value") or "",
                "label": attrs.get("aria-label"),
                "text": [],
            }
            self._form["buttons"].append(self._button)
        elif tag == "input" and kind in {"submit", "image"}:
            value = attrs.get("value") or ""
            self._form["buttons"].append(
                {"name": name, "value": value, "label": value, "text": []}
            )
        elif tag == "input" and name and kind not in {"button", "reset", "file"}:
            if kind in {"checkbox", "radio"}:
                if "checked" in attrs:
                    self._form["pairs"].append((name, attrs.get("value") or "on"))
                return
            self._form["pairs"].append((name, attrs.get("value") or ""))
            self._form["hidden" if kind == "hidden" else "typed"].add(name)
        elif tag == "select" and name:
            self._select = {"name": name, "first": None, "selected": None}
        elif tag == "option" and self._select is not None:
            value = attrs.get("value") or ""
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in attrs:
                self._select["selected"] = value
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data
        if self._button is not None:
            self._button["text"].append(data)

    def handle_endtag(self, tag):
        if self._form is None:
            return
        if tag == "button" and self._button is not None:
            self._button["label"] = self._button["label"] or " ".join(
                "".join(self._button["text"]).split()
            )
            self._button = None
        elif tag == "select" and self._select is not None:
            chosen = self._select["selected"]
            if chosen is None:
                chosen = self._select["first"]
            if chosen is not None:
                self._form["pairs"].append((self._select["name"], chosen))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, value = self._textarea
            # HTML drops the newline right after <textarea>.
            self._form["pairs"].append((name, value.removeprefix("\n")))
            self._form["typed"].add(name)
            self._textarea = None
        elif tag == "form":
            self._form = None


def read_post_forms(html, *, page_url):
    """One Submission per submit button of each <form method="post"> in `html`."""
    reader = _PostForms()
    reader.feed(html)
    reader.close()
    submissions = []
    for form in reader.forms:
        buttons = form["buttons"] or [{"name": None, "value": "", "label": ""}]
        for tapped in buttons:
            pairs = list(form["pairs"])
            if tapped["name"]:
                pairs.append((tapped["name"], tapped["value"]))
            submissions.append(
                Submission(
                    url=form["action"] or page_url,
                    pairs=tuple(pairs),
                    label=tapped["label"],
                    hidden=frozenset(form["hidden"]),
                    typed=frozenset(form["typed"]),
                )
            )
    return submissions


def button(submissions, label):
    """The submission of the button named `label` (a string, or a pattern it must match)."""
    for submission in submissions:
        if (
            label.search(submission.label)
            if isinstance(label, re.Pattern)
            else submission.label == label
        ):
            return submission
    raise AssertionError(
        f"No button {label!r} on the page; its buttons: {[s.label for s in submissions]}"
    )


# What a clinician types into a visible field the page leaves empty, before any fuzzing.
TYPED = {
    "weight_kg": "72",
    "reason": "No flow on aspiration",
    "condition": "Clean, no swelling",
}


def filled(submission):
    """What the page sends once the clinician has typed into its empty visible fields."""
    return [
        (
            name,
            TYPED.get(name, value) if name in submission.typed and not value else value,
        )
        for name, value in submission.pairs
    ]


# ---------------------------------------------------------------------------------------------
# Generated values. A Ref stands for a value that exists only once the test runs.


class _Drop:
    def __repr__(self):
        return "DROP"


DROP = _Drop()  # the field is left out of the request


@dataclass(frozen=True)
class Ref:
    """A value known only at run time: a used token, an id of other content, a time."""

    name: str


def weighted(*choices):
    """One of the strategies, each as often as its weight: weighted((3, often), (1, rarely))."""
    slots = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(slots).flatmap(lambda strategy: strategy)


def _utf8_text(max_size):
    # Lone surrogates cannot be sent in a request at all: not generated.
    return st.text(st.characters(codec="utf-8"), max_size=max_size)


STRINGS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "no flow\x00",
            "x" * 10_240,
            "é" * 5_000,
            "<script>alert(1)</script>",
            "'; DROP TABLE attempts_attempt; --",
            "\u202eright",
            "\ufeff",
            "\r\n",
            "🦴" * 64,
        ]
    ),
    _utf8_text(40),
)

# Above 0 kg, yet 0.0 once rounded to the 0.1 kg the record keeps.
ROUNDED_TO_NOTHING = st.floats(min_value=0, max_value=0.049, exclude_min=True).map(str)
WEIGHTS = weighted(
    (
        3,
        st.sampled_from(
            [
                "",
                "0.01",
                "0,04",
                "1e-5",
                "0.05",
                "0",
                "-0",
                "-3",
                "NaN",
                "sNaN",
                "-NaN",
                "Infinity",
                "-Infinity",
                "inf",
                "1e3",
                "700",
                "700.04",
                "700.05",
                "9" * 30,
                "1e999999",
                "1e-999999",
                "²",
                "٣",
                "\u0663\u066b\u0665",  # Arabic-Indic 3.5
                "\uff17\uff12",  # fullwidth 72
                "72 kg",
                "72,5",
                "7,2,5",
                "seventy",
                "\x00",
                "72\x00",
            ]
        ),
    ),
    (3, ROUNDED_TO_NOTHING),
    (1, ROUNDED_TO_NOTHING.map(lambda weight: weight.replace(".", ","))),
    (1, st.decimals(min_value=699, max_value=701, places=3).map(str)),
    (1, st.decimals(allow_nan=True, allow_infinity=True).map(str)),
    (1, st.floats().map(str)),
    (1, st.integers().map(str)),
    (1, _utf8_text(12)),
)

TOKEN_REFS = [
    Ref("token:started-elsewhere"),
    Ref("token:other-kind-elsewhere"),
    Ref("token:other-kind-elsewhere-as-urn"),
    Ref("token:other-kind-elsewhere-in-capitals"),
    Ref("token:first-here"),
    Ref("token:latest-here"),
]
TOKENS = weighted(
    (3, st.sampled_from(TOKEN_REFS)),
    (
        1,
        st.sampled_from(
            ["", " ", "not-a-token", "00000000-0000-0000-0000-000000000000", "\x00"]
        ),
    ),
    (1, st.uuids().map(str)),
    (1, _utf8_text(40)),
)

ID_REFS = [
    Ref(f"id:{name}")
    for name in (
        "site-of-another-version",
        "needle-of-another-version",
        "step-of-another-version",
        "item-of-another-version",
        "contraindication-of-another-version",
        "step-of-another-card",
        "location-here",
        "location-staffed",
        "location-unstaffed",
        "location-inactive",
    )
]
IDS = st.one_of(
    st.sampled_from(
        [
            "",
            "-1",
            "99999999999999999999999",
            "-99999999999999999999999",
            "1e3",
            "1.5",
            "²",
            "٣",
            "0x10",
            "\x00",
            "None",
        ]
    ),
    st.sampled_from(ID_REFS),
    st.integers().map(str),
    _utf8_text(10),
)
ID_LISTS = st.one_of(IDS, st.lists(IDS, max_size=3))


def choices(*values):
    """The values a field offers, a few it does not, and any text."""
    return st.one_of(st.sampled_from(values), _utf8_text(12))


DATETIMES = st.one_of(
    st.sampled_from(
        [
            "",
            "garbage",
            "0001-01-01T00:00",
            "9999-12-31T23:59",
            "2026-02-30T10:00",
            "2026-13-01T10:00",
            "2026-11-24T24:00",
            "2026-03-29T01:30",  # does not exist in Europe/London
            "2026-10-25T01:30",  # happens twice in Europe/London
            "1970-01-01T00:00",
            "2026-11-24T14:05:00+14:00",
            "2026-11-24T14:05Z",
            "14:05",
            "\x00",
        ]
    ),
    st.sampled_from(
        [
            Ref(f"dt:{name}")
            for name in (
                "a-day-before-start",
                "at-start",
                "before-insertion",
                "after-insertion",
                "now",
                "in-an-hour",
            )
        ]
    ),
    st.datetimes().map(lambda moment: moment.isoformat(timespec="minutes")),
    _utf8_text(20),
)

STAGE_VALUES = st.one_of(
    st.sampled_from(
        [
            *Attempt.Stage.values,
            "made-up-stage",
            "",
            "INSERTION",
            "insertion\x00",
            "made-up\x00stage",
            "x" * 10_240,
        ]
    ),
    STRINGS,
)
FLAGS = choices("on", "off", "", "true", "false", "0", "1", "\x00")
SIDES = choices("left", "right", "", "up", "LEFT", "both")

# The fields any bay form has or could have, each with the values to try in it. The last ones
# are never read by the bay: whatever they say must be ignored.
VALUES = {
    "client_token": TOKENS,
    # The tablet's clock on a tap it kept offline: bounded by the attempt, never trusted.
    "tapped_at": st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.sampled_from(["", "now", "1e20", "-1", "9" * 400, "\x00"]),
    ),
    "stage": STAGE_VALUES,
    "site": IDS,
    "side": SIDES,
    "present": ID_LISTS,
    "override_reason": STRINGS,
    "needle": IDS,
    "tissue": choices("normal", "deep", "", "bone"),
    "reason": STRINGS,
    "step": IDS,
    "checked": FLAGS,
    "all_confirmed": FLAGS,
    "outcome": choices(
        *Attempt.Outcome.values, "", "SUCCESS", "made-up-outcome", "\x00"
    ),
    "item": IDS,
    "field": choices(
        "weight_kg", "side", "inserted_at", "removed_at", "", "outcome", "stage"
    ),
    "weight_kg": WEIGHTS,
    "inserted_at": DATETIMES,
    "removed_at": DATETIMES,
    "location": IDS,
    "shown_at": IDS,
    "age_group": choices("adult", "child", "", "neonate", "ADULT"),
    "context": choices(*Episode.Context.values, "", "made-up-context"),
    "patient_reference": STRINGS,
    "condition": STRINGS,
    "complications": ID_LISTS,
    "other_complication": STRINGS,
    "made-up-field": STRINGS,
    "kind": choices(*Kind.values, "made-up-kind"),
    "recorded_at": DATETIMES,
    "occurred_at": DATETIMES,
    "recorded_by": IDS,
    "corrects": IDS,
    "attempt": IDS,
}
ANY_VALUE = st.one_of(STRINGS, IDS, WEIGHTS, TOKENS, DATETIMES)


def _or_dropped(values):
    return weighted((5, values), (1, st.just(DROP)))


def named(names):
    """(name, value) with the value drawn for that field (or DROP: the field left out).

    A name given twice is drawn twice as often.
    """
    return st.sampled_from(sorted(names)).flatmap(
        lambda name: st.tuples(st.just(name), _or_dropped(VALUES[name]))
    )


# One of the form's own fields, whatever it is called (a hidden field added later included).
OWN_FIELD = st.tuples(st.integers(0, 40), _or_dropped(ANY_VALUE))


def mutations(*focus, min_size=1, max_size=3):
    """A list of (field, value), the field a name or the index of one of the form's own.

    Most aim at `focus`, the fields the form under test reads; the rest at any field.
    """
    kinds = [(2, named(VALUES)), (2, OWN_FIELD)]
    if focus:
        kinds.insert(0, (6, named(focus)))
    return st.lists(weighted(*kinds), min_size=min_size, max_size=max_size)


def mutated(pairs, changes, resolve_value):
    """`pairs` with each (field, value) change applied: replaced, dropped or added."""
    pairs = list(pairs)
    for target, value in changes:
        if isinstance(target, int):
            names = list(dict.fromkeys(name for name, _ in pairs))
            if not names:
                continue
            target = names[target % len(names)]
        pairs = [(name, old) for name, old in pairs if name != target]
        value = resolve_value(value)
        if value is not DROP:
            values = value if isinstance(value, list) else [value]
            pairs.extend((target, item) for item in values)
    return pairs


def as_data(pairs):
    """(name, value) pairs as the test client posts them (a list for a repeated name)."""
    data = {}
    for name, value in pairs:
        data.setdefault(name, []).append(value)
    return {
        name: values[0] if len(values) == 1 else values for name, values in data.items()
    }


def _short(value):
    if isinstance(value, list):
        return [_short(item) for item in value]
    return value if len(value) <= 60 else f"{value[:30]}…<{len(value)} chars>"


def describe(method, url, data, htmx, note=""):
    shown = {name: _short(value) for name, value in data.items()}
    return f"{method} {url} {'(htmx) ' if htmx else ''}{note}data={shown!r}"


# ---------------------------------------------------------------------------------------------
# The tablet at the bay: reads pages, taps their buttons, sends fuzzed requests.

START = reverse("attempts:attempt-start")
BOARD = reverse("attempts:board")

# Stages of an attempt in progress, in order, and the visible button that moves one on.
ROUTE = (
    ("indication", "Indication met — continue"),
    ("site", re.compile(r", left\Z")),
    ("screen", "Use this site"),
    ("needle", re.compile(r"\(suggested\)\Z")),
    ("preparation", "All confirmed — continue"),
    ("insertion", "Needle in bone"),
    ("confirmation", "Confirm placement"),
    ("outcome", None),
)
# Finished attempts: the outcome button, and Record removal for a needle already out.
FINISHED = {"aftercare": "Success", "failed": "Failed", "removed": "Success"}
STAGES = (*(stage for stage, _ in ROUTE), *FINISHED)
INSERTED = ("confirmation", "outcome", "aftercare", "failed", "removed")


def detail_url(attempt):
    return reverse("attempts:attempt-detail", args=[attempt.public_id])


def tap_url(attempt, action):
    """The tap URL for `action`, also for names no route takes (quoted into the path)."""
    try:
        return reverse("attempts:attempt-record", args=[attempt.public_id, action])
    except NoReverseMatch:
        base = reverse("attempts:attempt-record", args=[attempt.public_id, "x"])
        return f"{base.removesuffix('x/')}{quote(action, safe='')}/"


def _local(moment):
    """A time as a datetime-local input sends it."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


class Tablet:
    """The bay's shared tablet, logged in as the clinician: sets attempts up by tapping the
    real pages, and sends the fuzzed requests, checking both properties on each."""

    def __init__(self, client, clinician, version, bay):
        self.client = client
        self.user = clinician
        self.bay = bay
        self.ready = {}  # stage → (attempt, its state when set up)
        self.sent_token = DROP  # the client_token the last fuzzed request sent
        # Pages read since the last accepted request: a refused one leaves them as they were
        # (their client_token still unused), so they are not read again for every example.
        self.pages = {}
        self.checksum = None  # the records' checksum, while known to be current
        # A draft of a later version, whose items a tampered request may name.
        other = ChecklistVersionFactory(
            procedure=version.procedure, number=version.number + 1
        )
        self.wards = {
            "staffed": LocationFactory(name="Fuzz ward A", staff=[clinician]),
            "staffed-too": LocationFactory(name="Fuzz ward B", staff=[clinician]),
            "unstaffed": LocationFactory(name="Fuzz ward nobody staffs"),
            "inactive": LocationFactory(
                name="Fuzz ward closed", is_active=False, staff=[clinician]
            ),
        }
        self.ids = {
            "site-of-another-version": SiteFactory(version=other).pk,
            "needle-of-another-version": NeedleSizeFactory(version=other).pk,
            "step-of-another-version": StepFactory(
                section=SectionFactory(version=other)
            ).pk,
            "item-of-another-version": TroubleshootingItemFactory(version=other).pk,
            "contraindication-of-another-version": ContraindicationFactory(
                version=other
            ).pk,
            "step-of-another-card": version.steps.filter(section__slug="removal")
            .order_by("pk")
            .first()
            .pk,
            "location-unstaffed": self.wards["unstaffed"].pk,
            "location-inactive": self.wards["inactive"].pk,
        }
        # Another patient's attempt, whose events' tokens are replayed elsewhere.
        self.elsewhere = self.set_up("site")

    # -- reading and tapping the real pages ---------------------------------------------------

    def forms(self, url):
        """The forms of a page that must answer 200."""
        page = self.page(url)
        assert page is not None, f"GET {url} did not answer 200"
        return page

    def page(self, url):
        """The page's forms, or None if it does not answer 200 (e.g. an attempt moved away)."""
        if url not in self.pages:
            response = self.client.get(url)
            self.checksum = None
            self.pages[url] = (
                read_post_forms(response.text, page_url=url)
                if response.status_code == 200
                else None
            )
        return self.pages[url]

    def changed(self):
        """Something was recorded: pages and checksum must be read again."""
        self.pages.clear()
        self.checksum = None

    def press(self, submission, *, htmx=False):
        """Tap a button as the clinician would (typed fields filled); it must be accepted."""
        data = as_data(filled(submission))
        headers = {"HX-Request": "true"} if htmx else {}
        response = self.client.post(submission.url, data, headers=headers)
        self.changed()
        assert response.status_code in {200, 302}, (
            f"Setting up: {submission.label!r} answered {response.status_code} to "
            f"{describe('POST', submission.url, data, htmx)}"
        )
        return response

    def start(self):
        """A new episode and its first attempt, from the Start card (typed weight: 72 kg)."""
        response = self.press(button(self.forms(START), "Adult: start"))
        public_id = resolve(urlsplit(response.url).path).kwargs["public_id"]
        return Attempt.objects.get(public_id=public_id)

    def set_up(self, stage):
        """A new attempt brought to `stage` by tapping the page's buttons in order."""
        attempt = self.start()
        url = detail_url(attempt)
        page = self.forms(url)
        for at, next_button in ROUTE:
            if at == stage:
                return attempt
            if next_button is None:
                break
            response = self.press(button(page, next_button), htmx=True)
            page = read_post_forms(response.text, page_url=url)
        self.press(button(page, FINISHED[stage]), htmx=True)
        if stage == "removed":
            removal = reverse("attempts:attempt-removal", args=[attempt.public_id])
            self.press(button(self.forms(removal), "Record removal"))
        return attempt

    def state(self, attempt):
        """Where the attempt stands, or None once the clinician can no longer see it."""
        row = (
            Attempt.objects.visible_to(self.user)
            .filter(pk=attempt.pk)
            .values_list("stage", "outcome", "removed_at")
            .first()
        )
        return row and (row[0], row[1], row[2] is None)

    def at(self, stage):
        """An attempt standing at `stage`: reused while requests leave it there."""
        attempt, state = self.ready.get(stage, (None, None))
        if attempt is None or self.state(attempt) != state:
            attempt = self.set_up(stage)
            self.ready[stage] = (attempt, self.state(attempt))
        attempt.refresh_from_db()
        return attempt

    # -- fuzzing ------------------------------------------------------------------------------

    def resolve(self, value, here):
        """A generated value, with each Ref replaced by what it stands for now."""
        if isinstance(value, list):
            return [self.resolve(item, here) for item in value]
        if not isinstance(value, Ref):
            return value
        kind, _, name = value.name.partition(":")
        if kind == "token":
            return self._token(name, here)
        if kind == "dt":
            return self._time(name, here)
        if name == "location-here":
            return str(here.location_id if here else self.bay.pk)
        if name == "location-staffed":
            current = here.location_id if here else self.bay.pk
            staffed = (self.wards["staffed"], self.wards["staffed-too"], self.bay)
            return str(next(ward.pk for ward in staffed if ward.pk != current))
        return str(self.ids[name])

    def _token(self, name, here):
        """A token already used: by another patient's attempt, or by this attempt."""
        if name.endswith("-here"):
            events = (here or self.elsewhere).events.order_by("pk")
            event = events.first() if name == "first-here" else events.last()
            return str(event.client_token)
        if name == "started-elsewhere":
            return str(self.elsewhere.events.get(kind=Kind.STARTED).client_token)
        token = self.elsewhere.events.get(kind=Kind.INDICATION_CONFIRMED).client_token
        return {
            "other-kind-elsewhere": str(token),
            "other-kind-elsewhere-as-urn": token.urn,
            "other-kind-elsewhere-in-capitals": f"{{{token}}}".upper(),
        }[name]

    def _time(self, name, here):
        """A time around the attempt's own, as a datetime-local input sends it."""
        now = timezone.now()
        started = here.started_at if here else now
        inserted = here.inserted_at if here and here.inserted_at else now
        return _local(
            {
                "a-day-before-start": started - timedelta(days=1),
                "at-start": started,
                "before-insertion": inserted - timedelta(minutes=1),
                "after-insertion": inserted + timedelta(minutes=1),
                "now": now,
                "in-an-hour": now + timedelta(hours=1),
            }[name]
        )

    def send(self, method, url, data, *, htmx=False, note=""):
        """One fuzzed request, checked against both properties; returns the response."""
        request = describe(method, url, data, htmx, note)
        headers = {"HX-Request": "true"} if htmx else {}
        # A savepoint per request: a database error inside it must not poison the next one.
        with transaction.atomic():
            before = self.checksum or records_checksum()
            pages, self.pages, self.checksum = self.pages, {}, None
            response = getattr(self.client, method.lower())(url, data, headers=headers)
            status = response.status_code
            error = response.exc_info[1] if response.exc_info else None
            assert status < 500, f"{request} answered {status}: {error!r}"
            if status >= 400 or method == "GET":
                assert records_checksum() == before, (
                    f"{request} answered {status} but changed the records"
                )
                self.pages, self.checksum = pages, before
        self.sent_token = data.get("client_token", DROP)
        return response

    def fuzz(self, submission, changes, *, here, htmx=False, note=""):
        """Tap `submission` with `changes` applied to what the page would send."""
        pairs = mutated(filled(submission), changes, lambda v: self.resolve(v, here))
        return self.send("POST", submission.url, as_data(pairs), htmx=htmx, note=note)

    def resend(self, url, choose, changes, *, here, htmx=False):
        """The form sent once more from the reloaded page, with the client_token the request
        just before sent (a retry, or a second tablet's stale screen) and `changes` applied.

        Nothing when `changes` is None, or when the page is gone (the attempt moved away).
        """
        if changes is None:
            return
        page = self.page(url)
        if page is None:
            return
        if here is not None:
            here.refresh_from_db()
        replay = [("client_token", self.sent_token), *changes]
        note = "(sent again, with the client_token of the request just before) "
        self.fuzz(choose(page), replay, here=here, htmx=htmx, note=note)


@pytest.fixture
def tablet(client, clinician, bay, version):
    client.force_login(clinician)
    # A server error must come back as a 500 response, checked like any other answer.
    client.raise_request_exception = False
    return Tablet(client, clinician, version, bay)


# ---------------------------------------------------------------------------------------------
# The tests: one per endpoint of the bay.


def resends(*focus):
    """None (sent once), or the changes for sending it once more with the same token."""
    return st.one_of(st.none(), mutations(*focus, min_size=0, max_size=2))


START_FIELDS = (
    "client_token",
    "location",
    "age_group",
    "weight_kg",
    "patient_reference",
    "context",
)


@pytest.mark.django_db
@settings(FUZZ, max_examples=50)
@given(
    pick=st.integers(0, 9),
    # The token and the weight twice as often: they have the most ways to go wrong.
    changes=mutations(*START_FIELDS, "client_token", "weight_kg", max_size=2),
    resent=resends(*START_FIELDS[1:]),
)
@example(pick=0, changes=[("weight_kg", "0.01")], resent=None)
@example(
    pick=1, changes=[("client_token", Ref("token:other-kind-elsewhere"))], resent=None
)
def test_no_start_answers_500_and_a_refused_one_changes_nothing(
    tablet, pick, changes, resent
):
    def start_button(page):
        # The Start card's buttons, not the header's Log out form.
        buttons = [form for form in page if form.url == START]
        return buttons[pick % len(buttons)]

    tablet.fuzz(start_button(tablet.forms(START)), changes, here=None)
    tablet.resend(START, start_button, resent, here=None)


def _tap_on_page(page, attempt, action, pick):
    """The attempt's own form for `action` (any of them for None); made up if none is shown."""
    url = detail_url(attempt)
    # Not the header's Log out form.
    page = [form for form in page if form.url.startswith(url)]
    if action is None:
        return page[pick % len(page)]
    shown = [form for form in page if form.url == tap_url(attempt, action)]
    if shown:
        return shown[pick % len(shown)]
    # A tap whose card is not shown (stale, out of order, or no such tap), sent with the
    # hidden fields of the page's first form, as a second tablet still showing it would.
    first = page[0]
    return Submission(
        url=tap_url(attempt, action),
        pairs=tuple(
            (name, value) for name, value in first.pairs if name in first.hidden
        ),
        label=f"({action!r}, not on the page)",
        hidden=first.hidden,
        typed=frozenset(),
    )


UNKNOWN_ACTIONS = st.one_of(
    st.sampled_from(["start", "next", "removal", "transfer", "needle_in_bone", ".."]),
    _utf8_text(20),
).filter(lambda action: action not in TAP_ACTIONS)


# The fields each tap's form reads, aimed at most often (every other field is hit too).
TAP_FIELDS = {
    "site": ("site", "side"),
    "screen": ("present", "override_reason"),
    "needle": ("needle", "tissue", "reason"),
    "check": ("step", "checked"),
    "checks-done": ("all_confirmed",),
    "needle-in-bone": ("all_confirmed",),
    "confirm": ("all_confirmed",),
    "outcome": ("outcome", "reason"),
    "troubleshoot-action": ("item",),
    "correction": ("field", "weight_kg", "side", "inserted_at", "removed_at", "reason"),
}
# (action, changes): None for any form of the attempt page, a tap name, or one no route has.
TAPS = st.one_of(st.none(), st.sampled_from(TAP_ACTIONS), UNKNOWN_ACTIONS).flatmap(
    lambda action: st.tuples(
        st.just(action),
        mutations("client_token", "stage", *TAP_FIELDS.get(action, ())),
    )
)


@pytest.mark.django_db
@settings(FUZZ, max_examples=80)
@given(
    stage=st.sampled_from(STAGES),
    tap=TAPS,
    pick=st.integers(0, 40),
    htmx=st.booleans(),
)
@example(
    stage="aftercare",
    tap=("troubleshoot", [("stage", "made-up\x00stage")]),
    pick=0,
    htmx=True,
)
def test_no_tap_answers_500_and_a_refused_one_changes_nothing(
    tablet, stage, tap, pick, htmx
):
    action, changes = tap
    attempt = tablet.at(stage)
    form = _tap_on_page(tablet.forms(detail_url(attempt)), attempt, action, pick)
    tablet.fuzz(form, changes, here=attempt, htmx=htmx)


def _correcting(field, values):
    """Choose `field` in "What to correct" and enter one of `values` for it."""
    return values.map(lambda value: [("field", field), (field, value)])


CORRECTIONS = st.tuples(
    weighted(
        (3, _correcting("weight_kg", WEIGHTS)),
        (1, _correcting("side", SIDES)),
        (2, _correcting("inserted_at", DATETIMES)),
        (2, _correcting("removed_at", DATETIMES)),
        (1, VALUES["field"].map(lambda field: [("field", field)])),
    ),
    st.one_of(st.just([]), STRINGS.map(lambda reason: [("reason", reason)])),
).map(lambda parts: parts[0] + parts[1])


@pytest.mark.django_db
@settings(FUZZ, max_examples=50)
@given(
    stage=st.sampled_from(INSERTED),
    correction=CORRECTIONS,
    changes=mutations(min_size=0, max_size=2),
    htmx=st.booleans(),
)
@example(
    stage="aftercare",
    correction=[("field", "weight_kg"), ("weight_kg", "0,04")],
    changes=[],
    htmx=True,
)
def test_no_correction_answers_500_and_a_refused_one_changes_nothing(
    tablet, stage, correction, changes, htmx
):
    attempt = tablet.at(stage)
    form = button(tablet.forms(detail_url(attempt)), "Record correction")
    tablet.fuzz(form, [*correction, *changes], here=attempt, htmx=htmx)


@pytest.mark.django_db
@settings(FUZZ, max_examples=20)
@given(
    changes=mutations("client_token", max_size=2),
    resent=resends(),
    htmx=st.booleans(),
)
@example(changes=[("client_token", Ref("token:latest-here"))], resent=None, htmx=False)
def test_no_next_attempt_answers_500_and_a_refused_one_changes_nothing(
    tablet, changes, resent, htmx
):
    failed = tablet.at("failed")
    url = detail_url(failed)

    def next_button(page):
        return button(page, "Start next attempt")

    tablet.fuzz(next_button(tablet.forms(url)), changes, here=failed, htmx=htmx)
    tablet.resend(url, next_button, resent, here=failed, htmx=htmx)


REMOVAL_FIELDS = ("client_token", "condition", "complications", "other_complication")


@pytest.mark.django_db
@settings(FUZZ, max_examples=20)
@given(
    stage=st.sampled_from(["aftercare", "removed", "failed", "indication"]),
    changes=mutations(*REMOVAL_FIELDS, max_size=2),
    resent=resends(*REMOVAL_FIELDS[1:]),
)
@example(stage="aftercare", changes=[], resent=[])
def test_no_removal_answers_500_and_a_refused_one_changes_nothing(
    tablet, stage, changes, resent
):
    attempt = tablet.at(stage)
    url = reverse("attempts:attempt-removal", args=[attempt.public_id])

    def record_removal(page):
        return button(page, "Record removal")

    tablet.fuzz(record_removal(tablet.forms(url)), changes, here=attempt)
    tablet.resend(url, record_removal, resent, here=attempt)


@pytest.mark.django_db
@settings(FUZZ, max_examples=25)
@given(
    stage=st.sampled_from(["aftercare", "aftercare", "removed", "failed"]),
    changes=mutations("client_token", "location", "shown_at", min_size=0, max_size=2),
    resent=resends("location"),
)
@example(stage="aftercare", changes=[], resent=[])
def test_no_transfer_answers_500_and_a_refused_one_changes_nothing(
    tablet, stage, changes, resent
):
    attempt = tablet.at(stage)
    url = reverse("attempts:attempt-transfer", args=[attempt.public_id])

    def transfer_button(page):
        # A needle stopped after it went in is in place too, until its removal is recorded.
        if stage in ("aftercare", "failed"):
            return button(page, "Transfer")
        # No needle in place: the page offers no Transfer, so the form is the one a board
        # drew while a needle was in (a stale page), sent here.
        assert not any(submission.label == "Transfer" for submission in page)
        kept = tablet.at("aftercare")
        kept_url = reverse("attempts:attempt-transfer", args=[kept.public_id])
        return replace(button(tablet.forms(kept_url), "Transfer"), url=url)

    tablet.fuzz(transfer_button(tablet.forms(url)), changes, here=attempt)
    tablet.resend(url, transfer_button, resent, here=attempt)


LOCATION_QUERIES = st.one_of(
    st.sampled_from(
        [
            DROP,
            "",
            "²",
            "٣",
            "99999999999999999999999",
            "-1",
            "1e3",
            "\x00",
            "1\x00",
            Ref("id:location-here"),
            Ref("id:location-unstaffed"),
            Ref("id:location-inactive"),
        ]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    _utf8_text(20),
)


@pytest.mark.django_db
@settings(FUZZ, max_examples=40)
@given(
    location=LOCATION_QUERIES,
    scope=st.one_of(st.sampled_from([DROP, "all", "mine"]), _utf8_text(5)),
    htmx=st.booleans(),
)
@example(location="²", scope=DROP, htmx=False)
@example(location="99999999999999999999999", scope="all", htmx=False)
def test_the_board_never_answers_500_nor_changes_a_record_whatever_its_query(
    tablet, location, scope, htmx
):
    here = tablet.at("aftercare")
    query = {
        name: tablet.resolve(value, here)
        for name, value in (("location", location), ("scope", scope))
        if value is not DROP
    }
    tablet.send("GET", BOARD, query, htmx=htmx)
