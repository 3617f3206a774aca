"""Supervisor downloads of the filtered attempt list: CSV of attempts, CSV of their events, FHIR.

Every download takes the list page's GET filters; a filter that does not validate answers 400
with a plain-text message naming the field, and nothing is exported.

How many records a download holds, stated in the file and in the audit:
- a CSV's name carries the date and the count ("ioaccess-attempts-2026-11-27-42-records.csv"),
  and its last row is a single cell "# 42 records" (one record: "# 1 record"). Everything
  before it is one header row and one row per record, so Python's csv reader and spreadsheets
  read it as is; a reader drops the last row. The attempts CSV counts attempts, the events CSV
  counts events.
- a FHIR Bundle says "42 attempts" in `meta.tag` (see review/fhir.py).

Each download writes exactly one `RecordAccess` row (the filter as the query string, and the
count) before the response is returned, so a download cut short is still on record. The CSVs
stream, so the records are fixed first: their ids are read in one query, and that list gives the
count in the name and in the audit; the rows are then read by id, `CHUNK` at a time, and the last
row counts the rows written (the same number: attempts and events are never deleted). Queries:
one for the ids and one per `CHUNK` rows, whatever the filter; the events CSV adds three for the
words of every version involved (steps, needles, locations), read once.
"""

from itertools import batched

from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.roles import SUPERVISOR, role_required
from attempts.models import Attempt, AttemptEvent, RecordAccess
from review import deviations, fhir
from review.csvstream import streamed
from review.queries import AttemptFilter, review_rows
from review.timeline import Words

# Rows read per query while a CSV streams: below SQLite's oldest limit of 999 parameters.
CHUNK = 500
FHIR_CONTENT_TYPE = "application/fhir+json"

ATTEMPT_HEADER = (
    "Started",
    "Location",
    "Transferred to",
    "Operator",
    "Patient reference",
    "Age group",
    "Weight (kg)",
    "Attempt number",
    "Site",
    "Side",
    "Needle",
    "Outcome",
    "Needle in bone",
    "Placement confirmed",
    "Removed",
    "Minutes from start to needle in bone",
    "Dwell (minutes)",
    "Deviations",
    "Reviewed",
    "Checklist version",
    "Attempt id",
)
EVENT_HEADER = (
    "Attempt id",
    "Attempt number",
    "Location",
    "Recorded at",
    "Occurred at",
    "Seconds since start",
    "Recorded by",
    "Kind",
    "What",
    "Details",
    "Deviation",
)
SYSTEM = "System"


def filtered_attempts(request, *, now):
    """The list page's filter over the review rows, bound to the request's query string."""
    return AttemptFilter(request.GET or None, queryset=review_rows(now=now))


def bad_filter(filtered):
    """400 naming each filter field that did not validate, in plain text."""
    form = filtered.form
    lines = ["The filter is not valid; nothing was exported."]
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else name
        lines.append(f"{name} ({label}): {' '.join(errors)}")
    return HttpResponseBadRequest(
        "\n".join(lines) + "\n", content_type="text/plain; charset=utf-8"
    )


def is_invalid(filtered):
    return filtered.is_bound and not filtered.is_valid()


def records(count):
    return f"{count} record{'' if count == 1 else 's'}"


def filename(what, now, count, extension="csv"):
    day = timezone.localdate(now).isoformat()
    return f"ioaccess-{what}-{day}-{records(count).replace(' ', '-')}.{extension}"


def with_count(rows):
    """The rows, then the last row, which states how many there were."""
    count = 0
    for row in rows:
        count += 1
        yield row
    yield (f"# {records(count)}",)


def person(user):
    if user is None:
        return SYSTEM
    return user.get_full_name() or user.get_username()


def minutes(duration):
    return "" if duration is None else round(duration.total_seconds() / 60, 1)


# ---------------------------------------------------------------------------------------------
# The attempts CSV


def attempt_rows(pks, *, now):
    """One row per attempt, in the order of `pks`; one query per CHUNK attempts."""
    # One query per chunk, locations joined: its planning is small beside a chunk's rows.
    # (confirmed_at is projected on the attempt.)
    rows = review_rows(now=now).select_related(
        "episode__location", "location", "checklist_version"
    )
    for chunk in batched(pks, CHUNK):
        by_pk = rows.in_bulk(chunk)
        yield from (attempt_row(by_pk[pk]) for pk in chunk if pk in by_pk)


def transferred_to(attempt):
    """Where the needle was moved to (where it is now, or was removed); blank if never moved."""
    if attempt.location_id == attempt.episode.location_id:
        return ""
    return attempt.location.name


def attempt_row(attempt):
    episode = attempt.episode
    return (
        attempt.started_at,
        episode.location.name,
        transferred_to(attempt),
        person(attempt.operator),
        episode.patient_reference,
        episode.get_age_group_display(),
        episode.weight_kg,
        attempt.number,
        attempt.site.name if attempt.site_id else "",
        attempt.get_side_display(),
        str(attempt.needle) if attempt.needle_id else "",
        attempt.get_outcome_display(),
        attempt.inserted_at,
        attempt.confirmed_at,
        attempt.removed_at,
        minutes(attempt.to_bone),
        minutes(attempt.dwell),
        attempt.deviations,
        "yes" if attempt.reviewed else "no",
        attempt.checklist_version.number,
        attempt.public_id,
    )


@require_GET
@role_required(SUPERVISOR)
def attempts_csv(request):
    """The filtered attempt list as CSV, one row per attempt."""
    now = timezone.now()
    filtered = filtered_attempts(request, now=now)
    if is_invalid(filtered):
        return bad_filter(filtered)
    pks = list(filtered.qs.values_list("pk", flat=True))
    RecordAccess.log(request, RecordAccess.Action.LIST_CSV, record_count=len(pks))
    return streamed(
        filename("attempts", now, len(pks)),
        ATTEMPT_HEADER,
        with_count(attempt_rows(pks, now=now)),
    )


# ---------------------------------------------------------------------------------------------
# The events CSV


def event_rows(snapshot):
    """One row per event, in the order of `snapshot` ((event pk, version pk) pairs).

    The words of every version involved are read once; the events one query per CHUNK.
    """
    words = Words({version for _, version in snapshot})
    events = AttemptEvent.objects.select_related(
        "attempt__episode", "recorded_by", "step"
    ).annotate(deviation=deviations.event_deviation())
    places = Places()
    for chunk in batched((pk for pk, _ in snapshot), CHUNK):
        by_pk = events.in_bulk(chunk)
        yield from (
            event_row(by_pk[pk], words, places.at(by_pk[pk]))
            for pk in chunk
            if pk in by_pk
        )


class Places:
    """Where the patient was at each event of an attempt, read in recording order.

    `Attempt.location` is where the needle is now, so it would put the start and the insertion
    of a transferred needle at its destination: an attempt is where its episode was started
    until a TRANSFERRED event, then at that event's "to". The transfer itself is where it
    left from.
    """

    def __init__(self):
        self.now = {}

    def at(self, event):
        attempt = event.attempt
        here = self.now.setdefault(attempt.pk, attempt.episode.location_id)
        if event.kind == AttemptEvent.Kind.TRANSFERRED:
            self.now[attempt.pk] = event.data.get("to", here)
        return here


def event_row(event, words, location):
    attempt = event.attempt
    what, details = words.describe(event)
    return (
        attempt.public_id,
        attempt.number,
        words.locations.get(location, ""),
        event.recorded_at,
        event.occurred_at,
        int((event.occurred_at - attempt.started_at).total_seconds()),
        person(event.recorded_by),
        event.kind,
        what,
        "; ".join(details),
        deviations.LABELS.get(event.deviation, ""),
    )


@require_GET
@role_required(SUPERVISOR)
def events_csv(request):
    """Every event of the filtered attempts, attempt by attempt in recording order."""
    now = timezone.now()
    filtered = filtered_attempts(request, now=now)
    if is_invalid(filtered):
        return bad_filter(filtered)
    snapshot = list(
        AttemptEvent.objects.filter(attempt__in=filtered.qs.values("pk"))
        .order_by("-attempt__started_at", "-attempt_id", "pk")
        .values_list("pk", "attempt__checklist_version_id")
    )
    RecordAccess.log(
        request, RecordAccess.Action.EVENTS_CSV, record_count=len(snapshot)
    )
    return streamed(
        filename("events", now, len(snapshot)),
        EVENT_HEADER,
        with_count(event_rows(snapshot)),
    )


# ---------------------------------------------------------------------------------------------
# FHIR


def fhir_response(document, name):
    response = JsonResponse(document, content_type=FHIR_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@role_required(SUPERVISOR)
def list_fhir(request):
    """The filtered attempts as one FHIR Bundle."""
    now = timezone.now()
    filtered = filtered_attempts(request, now=now)
    if is_invalid(filtered):
        return bad_filter(filtered)
    attempts = list(fhir.for_export(filtered.qs))
    document = fhir.bundle(attempts, now=now)
    RecordAccess.log(request, RecordAccess.Action.FHIR, record_count=len(attempts))
    return fhir_response(
        document, filename("attempts", now, len(attempts), extension="fhir.json")
    )


@require_GET
@role_required(SUPERVISOR)
def attempt_fhir(request, public_id):
    """One attempt's resources as a FHIR Bundle."""
    now = timezone.now()
    attempt = get_object_or_404(
        fhir.for_export(Attempt.objects.all()), public_id=public_id
    )
    document = fhir.bundle([attempt], now=now)
    RecordAccess.log(request, RecordAccess.Action.FHIR, attempt=attempt, record_count=1)
    return fhir_response(document, f"ioaccess-attempt-{public_id}.fhir.json")


urlpatterns = [
    path("attempts.csv", attempts_csv, name="list-csv"),
    path("events.csv", events_csv, name="events-csv"),
    path("attempts.fhir.json", list_fhir, name="list-fhir"),
    path("attempts/<uuid:public_id>/fhir.json", attempt_fhir, name="attempt-fhir"),
]
