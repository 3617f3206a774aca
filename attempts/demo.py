"""Demo data for local development, run by `create_demo_accounts` (which refuses unless DEBUG).

Demo locations, and a few weeks of finished IO attempts so that a supervisor trying the app
sees a list, a timeline and numbers at once.
"""

import logging
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest import mock

from django.utils import timezone

from accounts.demo import demo_data
from attempts.forms import NextAttemptForm, RemovalForm, StartForm, tap_form
from attempts.models import Attempt, Episode, Location
from attempts.stages import StageContent
from checklists.models import ChecklistVersion

logger = logging.getLogger(__name__)

DEMO_LOCATIONS = ("Resus 1", "Resus 2", "Emergency department")
# Every demo episode's patient reference starts so: how a second run knows they exist.
DEMO_REFERENCE_PREFIX = "DEMO-"
SECONDS = timedelta(seconds=1)


@demo_data
def create_demo_locations(users):
    """The demo bays; the demo clinician and supervisor work at all of them."""
    for name in DEMO_LOCATIONS:
        location, _ = Location.objects.get_or_create(
            name=name,
            defaults={
                "notify_email": f"{name.lower().replace(' ', '-')}@hospital.example"
            },
        )
        location.staff.add(
            *[users[u] for u in ("clinician", "supervisor") if u in users]
        )


# Registered after the locations above, so it runs after them.
@demo_data
def create_demo_attempts(users):
    """About six weeks of attempts by the demo clinician, once (skipped if demo episodes exist).

    Each attempt is tapped through the bay's own forms and `Attempt.record_event`, with the
    server's clock set back to when it happened; it follows the reference checklist that
    `load_io_checklist` publishes.
    """
    if Episode.objects.filter(
        patient_reference__startswith=DEMO_REFERENCE_PREFIX
    ).exists():
        return
    version = (
        ChecklistVersion.objects.published().filter(is_reference_content=True).first()
    )
    if version is None:
        logger.warning(
            "No demo attempts: they follow the reference checklist, and none is "
            "published. Run `manage.py load_io_checklist`, then create_demo_accounts again."
        )
        return
    now = timezone.now()
    bay = DemoBay(clinician=users["clinician"], version=version)
    locations = Location.objects.in_bulk(DEMO_LOCATIONS, field_name="name")
    for story in STORIES:
        story(bay, locations, now)
    created = Attempt.objects.filter(
        episode__patient_reference__startswith=DEMO_REFERENCE_PREFIX
    ).count()
    logger.info("Created %s demo attempts over the last six weeks.", created)


@contextmanager
def server_clock_at(moment):
    """Inside the block the server's clock (`timezone.now()`) reads `moment`. Demo data only.

    Patches the `datetime` that `django.utils.timezone.now` reads, not `timezone.now` itself:
    model fields keep `timezone.now` as their default (an event's recorded_at, an episode's
    created_at), and patching the module's name would leave those at today's time.
    """

    class SetBack(datetime):
        @classmethod
        def now(cls, tz=None):
            return moment.astimezone(tz)

    with mock.patch("django.utils.timezone.datetime", SetBack):
        yield


class DemoBay:
    """The demo clinician tapping through the bay's own forms, at past times.

    Each tap is the form its card posts, recorded by `Attempt.record_event`: the demo holds
    only what the bay could have recorded. A refused tap is a mistake in this script.
    """

    def __init__(self, *, clinician, version):
        self.clinician = clinician
        self.version = version
        self.moment = None

    def start(self, *, at, location, reference, age_group, weight_kg, context):
        """The Start card: a new episode and its first attempt."""
        self.moment = at
        form = StartForm(
            self._posted(
                location=location.pk,
                age_group=age_group,
                weight_kg=weight_kg,
                patient_reference=f"{DEMO_REFERENCE_PREFIX}{reference}",
                context=context,
            ),
            locations=Location.objects.filter(pk=location.pk),
        )
        with server_clock_at(self.moment):
            attempt = form.start(by=self.clinician, version=self.version)
        return self._recorded(attempt, form, "start")

    def next_attempt(self, failed, *, after):
        """One tap after a failed attempt: the next one in the same episode."""
        self.moment += after
        form = NextAttemptForm(self._posted())
        with server_clock_at(self.moment):
            attempt = form.start(failed, by=self.clinician, version=self.version)
        return self._recorded(attempt, form, "next attempt")

    def tap(self, attempt, action, *, after, **data):
        """One tap on the attempt page (`action` as in its URL), `after` the previous one."""
        self.moment += after
        with server_clock_at(self.moment):
            content = StageContent.load(attempt, now=self.moment)
            form = tap_form(
                action,
                self._posted(revision=attempt.revision, **data),
                attempt=attempt,
                content=content,
            )
            self._recorded(form.record(attempt, by=self.clinician), form, action)

    def remove(self, attempt, *, at, condition, complications=(), other=""):
        """Record removal, with the site's condition and the complication checks ticked."""
        self.moment = at
        with server_clock_at(self.moment):
            offered = StageContent.load(attempt, now=self.moment).complications()
            form = RemovalForm(
                self._posted(
                    condition=condition,
                    complications=[
                        str(step.pk) for step in offered if step.slug in complications
                    ],
                    other_complication=other,
                ),
                complications=offered,
            )
            self._recorded(form.record(attempt, by=self.clinician), form, "removal")

    def insert(
        self,
        attempt,
        *,
        site,
        side,
        needle,
        tissue="normal",
        needle_reason="",
        present=(),
        override_reason="",
        unticked=(),
    ):
        """Indication to Needle in bone: `site`, `needle`, `present` and `unticked` are slugs."""
        self.tap(attempt, "indication", after=15 * SECONDS)
        self.tap(
            attempt,
            "site",
            after=20 * SECONDS,
            site=self.content_pk("sites", site),
            side=side,
        )
        self.tap(
            attempt,
            "screen",
            after=15 * SECONDS,
            present=[self.content_pk("contraindications", slug) for slug in present],
            override_reason=override_reason,
        )
        self.tap(
            attempt,
            "needle",
            after=20 * SECONDS,
            needle=self.content_pk("needle_sizes", needle),
            tissue=tissue,
            reason=needle_reason,
        )
        if unticked:
            # A card finished with checks left unticked: those ticked are confirmed, the
            # others recorded as not confirmed (a deviation the supervisor sees).
            steps = StageContent.load(attempt, now=self.moment).check_steps_for(
                attempt.stage
            )
            for step in steps:
                if step.slug not in unticked:
                    self.tap(
                        attempt, "check", after=6 * SECONDS, step=step.pk, checked="on"
                    )
            self.tap(attempt, "checks-done", after=10 * SECONDS)
        else:
            self.tap(attempt, "checks-done", after=75 * SECONDS, all_confirmed="on")
        self.tap(attempt, "needle-in-bone", after=45 * SECONDS, all_confirmed="on")

    def succeed(self, attempt, **insertion):
        """Indication to Success, every check confirmed unless `unticked`."""
        self.insert(attempt, **insertion)
        self.tap(attempt, "confirm", after=60 * SECONDS, all_confirmed="on")
        self.tap(
            attempt,
            "outcome",
            after=10 * SECONDS,
            outcome="success",
            reason="",
        )

    def content_pk(self, items, slug):
        """The pk of the checklist item `slug` among the version's `items` (e.g. "sites")."""
        return getattr(self.version, items).get(slug=slug).pk

    @staticmethod
    def _posted(**data):
        """What a card's form posts: a token minted when it was drawn, and its fields."""
        return {"client_token": str(uuid.uuid4()), **data}

    @staticmethod
    def _recorded(result, form, what):
        if not result:
            raise RuntimeError(
                f"Demo {what} not recorded: {form.refusal or form.errors.as_text()}"
            )
        return result


def _days_ago(now, days, hour, minute):
    """A wall-clock time in the hospital's zone, `days` before `now`."""
    day = timezone.localtime(now) - timedelta(days=days)
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0)


# Each story is one patient; `now` is when the demo is created. Times of day avoid 01:00-03:00,
# which spring clock changes skip.


def arrest_humerus_insertion_time_moved_later(bay, locations, now):
    """Success, then an insertion time corrected later (flagged), removed after 6 h."""
    attempt = bay.start(
        at=_days_ago(now, 40, 3, 12),
        location=locations["Resus 1"],
        reference="0001",
        age_group="adult",
        weight_kg="80",
        context=Episode.Context.CARDIAC_ARREST,
    )
    bay.succeed(
        attempt, site="proximal-humerus-adult", side="right", needle="blue-25mm"
    )
    tapped = timezone.localtime(attempt.inserted_at).replace(second=0, microsecond=0)
    bay.tap(
        attempt,
        "correction",
        after=timedelta(minutes=12),
        field="inserted_at",
        inserted_at=(tapped + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M"),
        reason="Needle in bone was tapped before drilling; it went in 2 minutes later.",
    )
    bay.remove(
        attempt,
        at=attempt.inserted_at + timedelta(hours=6),
        condition="Clean, no swelling",
    )


def shock_tibia_with_extravasation(bay, locations, now):
    """Success, removed after 20 h with a complication."""
    attempt = bay.start(
        at=_days_ago(now, 33, 14, 40),
        location=locations["Emergency department"],
        reference="0002",
        age_group="adult",
        weight_kg="65",
        context=Episode.Context.SHOCK,
    )
    bay.succeed(attempt, site="proximal-tibia-adult", side="left", needle="blue-25mm")
    bay.remove(
        attempt,
        at=attempt.inserted_at + timedelta(hours=20),
        condition="Mild swelling around the site; calf soft",
        complications=("comp-extravasation",),
    )


def failed_tibia_then_humerus(bay, locations, now):
    """A failure at the tibia (troubleshooting, then failed), a second attempt at the humerus."""
    first = bay.start(
        at=_days_ago(now, 26, 22, 5),
        location=locations["Resus 2"],
        reference="0003",
        age_group="adult",
        weight_kg="90",
        context=Episode.Context.CARDIAC_ARREST,
    )
    bay.insert(first, site="proximal-tibia-adult", side="left", needle="blue-25mm")
    bay.tap(first, "troubleshoot", after=40 * SECONDS)
    bay.tap(
        first,
        "troubleshoot-action",
        after=15 * SECONDS,
        item=bay.content_pk("troubleshooting_items", "extravasation"),
    )
    bay.tap(
        first,
        "outcome",
        after=30 * SECONDS,
        outcome="failed",
        reason="No flow; swelling at the site after the flush (extravasation)",
    )
    # The failed needle comes out (until then it is on the board with its clock).
    bay.remove(
        first,
        at=bay.moment + 20 * SECONDS,
        condition="Swelling around the site; needle out intact",
        complications=("comp-extravasation",),
    )
    # Another bone: the screen would pre-tick an IO in this tibia within 48 h [S2][S10].
    second = bay.next_attempt(first, after=20 * SECONDS)
    bay.succeed(second, site="proximal-humerus-adult", side="right", needle="blue-25mm")
    bay.remove(
        second,
        at=second.inserted_at + timedelta(hours=4),
        condition="Clean, no swelling",
    )


def child_weight_corrected(bay, locations, now):
    """A child, weight estimated then corrected from the scale; removed after 8 h."""
    attempt = bay.start(
        at=_days_ago(now, 19, 10, 30),
        location=locations["Resus 1"],
        reference="0004",
        age_group="child",
        weight_kg="18",
        context=Episode.Context.SEVERE_DEHYDRATION,
    )
    bay.succeed(attempt, site="proximal-tibia-child", side="right", needle="pink-15mm")
    bay.tap(
        attempt,
        "correction",
        after=timedelta(minutes=40),
        field="weight_kg",
        weight_kg="21.5",
        reason="Weighed on the ward scale; the first weight was an estimate.",
    )
    bay.remove(
        attempt,
        at=attempt.inserted_at + timedelta(hours=8),
        condition="Clean, no swelling",
    )


def burns_override(bay, locations, now):
    """A contraindication overridden with its reason; removed after 12 h with pain."""
    attempt = bay.start(
        at=_days_ago(now, 15, 4, 50),
        location=locations["Resus 2"],
        reference="0005",
        age_group="adult",
        weight_kg="75",
        context=Episode.Context.EXTENSIVE_BURNS,
    )
    bay.succeed(
        attempt,
        site="proximal-humerus-adult",
        side="left",
        needle="blue-25mm",
        present=("infection-or-burn",),
        override_reason="Burns on all four limbs; this site is the least affected and "
        "there is no other access.",
    )
    bay.remove(
        attempt,
        at=attempt.inserted_at + timedelta(hours=12),
        condition="Burnt skin around the site as before; no new swelling",
        complications=("comp-pain",),
    )


def humerus_longer_needle(bay, locations, now):
    """A needle other than the suggested one, with the reason; removed after 10 h."""
    attempt = bay.start(
        at=_days_ago(now, 10, 16, 20),
        location=locations["Emergency department"],
        reference="0006",
        age_group="adult",
        weight_kg="85",
        context=Episode.Context.SHOCK,
    )
    bay.succeed(
        attempt,
        site="proximal-humerus-adult",
        side="right",
        needle="yellow-45mm",
        needle_reason="Adult humerus: local protocol uses the 45 mm needle over 40 kg.",
    )
    bay.remove(
        attempt,
        at=attempt.inserted_at + timedelta(hours=10),
        condition="Clean, no swelling",
    )


def arrest_removed_after_24_hours(bay, locations, now):
    """Checks left unticked in an arrest; the needle came out after 26 h."""
    attempt = bay.start(
        at=_days_ago(now, 6, 8, 15),
        location=locations["Resus 1"],
        reference="0007",
        age_group="adult",
        weight_kg="70",
        context=Episode.Context.CARDIAC_ARREST,
    )
    bay.succeed(
        attempt,
        site="proximal-tibia-adult",
        side="right",
        needle="blue-25mm",
        unticked=("prep-explain-help", "prep-local-anaesthetic"),
    )
    bay.remove(
        attempt,
        at=attempt.inserted_at + timedelta(hours=26),
        condition="Slight redness, no swelling",
    )


def abandoned_for_iv(bay, locations, now):
    """Abandoned at the site card: a colleague got a peripheral IV."""
    attempt = bay.start(
        at=_days_ago(now, 3, 19, 45),
        location=locations["Resus 2"],
        reference="0008",
        age_group="adult",
        weight_kg="60",
        context=Episode.Context.OTHER,
    )
    bay.tap(attempt, "indication", after=15 * SECONDS)
    bay.tap(
        attempt,
        "outcome",
        after=50 * SECONDS,
        outcome="abandoned",
        reason="A colleague placed a peripheral IV",
    )


def in_place_now(bay, locations, now):
    """Inserted an hour ago and still in: the board and the removal clock have a needle."""
    attempt = bay.start(
        at=now - timedelta(hours=1, minutes=4),
        location=locations["Resus 1"],
        reference="0009",
        age_group="adult",
        weight_kg="75",
        context=Episode.Context.CARDIAC_ARREST,
    )
    bay.succeed(attempt, site="proximal-humerus-adult", side="left", needle="blue-25mm")


STORIES = (
    arrest_humerus_insertion_time_moved_later,
    shock_tibia_with_extravasation,
    failed_tibia_then_humerus,
    child_weight_corrected,
    burns_override,
    humerus_longer_needle,
    arrest_removed_after_24_hours,
    abandoned_for_iv,
    in_place_now,
)
