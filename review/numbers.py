"""The unit's numbers and the operators' procedure logs (design §6), for supervisors.

Every figure is computed in the database (aggregates, `values().annotate()`, window functions);
Python only turns the few rows returned into text. No page's query count depends on how many
attempts there are.

Quantiles (medians, quartiles, the longest dwell) have ONE definition, the same on SQLite and
PostgreSQL: linear interpolation between closest ranks, as numpy's default and Python's
`statistics.quantiles(method="inclusive")`. For n values ordered v[0] … v[n-1] and a fraction
q, p = (n - 1)·q and the quantile is v[⌊p⌋] + (v[⌈p⌉] - v[⌊p⌋])·(p - ⌊p⌋). PostgreSQL computes
exactly that with its `percentile_cont` (`PercentileCont`); on SQLite the database orders the
values and returns only the rows at ⌊p⌋ and ⌈p⌉ (`quantiles`). The tests check both against
Python's `statistics.quantiles` on each database.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from fractions import Fraction
from math import ceil, floor
from urllib.parse import urlencode

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.postgres.fields import ArrayField
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DurationField,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.roles import SUPERVISOR, role_required
from attempts.models import Attempt, AttemptEvent, Location, RecordAccess
from attempts.stages import troubleshooting_content, version_content
from checklists.models import (
    ChecklistVersion,
    NeedleSize,
    Site,
    Step,
)
from review.csvstream import streamed
from review.models import SignOff
from review.periods import DAY_FORMATS, check_period

Outcome = Attempt.Outcome
Kind = AttemptEvent.Kind
FINISHED = (Outcome.SUCCESS, Outcome.FAILED, Outcome.ABANDONED)
# The default period: today and the 89 days before it, in the hospital's time zone.
DEFAULT_DAYS = 90
LOG_PAGE_SIZE = 50
# The operator-log download's audit query: `operator=<user id>`.
OPERATOR_QUERY = "operator"

# Published figures a unit's own can be read beside (clinical-content.md §15); never a target.
LITERATURE = {
    "first_attempt": (
        (
            "First-attempt success in out-of-hospital arrest: proximal tibia 89.7 % vs "
            "proximal humerus 60.0 %; 6 of the 18 humeral successes later dislodged.",
            "S47",
        ),
    ),
    "success": (
        ("Working access overall 88 %; children 71–84 % vs adults 94 %.", "S50"),  # noqa: RUF001
        (
            "Success within two attempts, adults in out-of-hospital arrest: IO 92 % vs "
            "IV 80 %.",
            "S48",
        ),
    ),
    "to_bone": (
        (
            "Emergency department, powered device: all 35 insertions under 20 s; all but one "
            "first-pass. (Here the time runs from the tap Start, so it includes the checks "
            "before insertion.)",
            "S49",
        ),
    ),
    "removed_in_time": (("Remove within 24 hours of insertion.", "seed"),),
    "complications": (
        (
            "Complications in 1 802 IO uses: displacement 8.5 %, extravasation 3.7 %, "
            "compartment syndrome 0.6 %, osteomyelitis 0.4 %.",
            "S51",
        ),
    ),
}
# clinical-content.md's Sources entries for those keys: listed on the numbers page for a key the
# published checklist does not cite (its reference page then has no anchor for it).
CITATIONS = {
    "seed": 'AMBOSS. "Intraosseous access." Last updated July 12, 2023.',
    "S47": "Reades R, et al. 2011, first-attempt IO insertions, tibia vs humerus, "
    "out-of-hospital arrest; summarised at https://www.ivteam.com/intravenous-literature/"
    "first-attempt-intraosseous-insertions — summary.",
    "S48": "IVIO trial. N Engl J Med 2025. "
    "https://www.nejm.org/doi/full/10.1056/NEJMoa2407616 — excerpt.",
    "S49": "Powered IO insertion in an adult emergency department. "
    "https://pmc.ncbi.nlm.nih.gov/articles/PMC2760700 — excerpt.",
    "S50": "BMC Emergency Medicine 2024. https://bmcemergmed.biomedcentral.com/articles/"
    "10.1186/s12873-024-01103-w — excerpt.",
    "S51": "\u201cComplication with intraosseous access: Scandinavian users\u2019 "
    "experience.\u201d West J Emerg Med. https://westjem.com/original-research/"
    "complication-with-intraosseous-access-scandinavian-users-experience.html — abstract.",
}
# Buckets of the chart of time start → needle in bone, in whole minutes [from, to): for display,
# not limits. The database counts attempts per minute (up to 10); these add the minutes up.
TO_BONE_BINS = (
    ("under 1 min", 0, 1),
    ("1 to 2 min", 1, 2),
    ("2 to 3 min", 2, 3),
    ("3 to 5 min", 3, 5),
    ("5 to 10 min", 5, 10),
    ("10 min or more", 10, None),
)
LAST_MINUTE = 10


def seconds(duration):
    """A duration (a timedelta, or None) as seconds."""
    return None if duration is None else duration.total_seconds()


@dataclass(frozen=True)
class Spread:
    """Quantiles of a duration in seconds ({fraction: value}) and how many values they read."""

    count: int = 0
    at: dict = field(default_factory=dict)

    @property
    def median(self):
        return self.at.get(0.5)

    @property
    def median_text(self):
        return duration_text(self.median)

    @property
    def quartiles_text(self):
        return (
            f"{duration_text(self.at.get(0.25))} to {duration_text(self.at.get(0.75))}"
        )

    @property
    def longest_text(self):
        return duration_text(self.at.get(1.0))


def positions(count, fraction):
    """The 0-based indices a quantile reads among `count` ordered values: ⌊p⌋ and ⌈p⌉."""
    p = (count - 1) * Fraction(fraction)
    return floor(p), ceil(p)


def interpolate(values, count, fraction):
    """The quantile from {index: value} holding at least its `positions`."""
    p = (count - 1) * Fraction(fraction)
    low, high = values[floor(p)], values[ceil(p)]
    return round(low + (high - low) * float(p - floor(p)), 3)


class PercentileCont(Aggregate):
    """PostgreSQL's `percentile_cont(fractions) WITHIN GROUP (ORDER BY expression)`: the
    quantiles at `fractions`, as an array, by the module's definition (linear interpolation
    between closest ranks); nulls are left out."""

    function = "percentile_cont"
    template = "%(function)s(%(fractions)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fractions, **extra):
        # Floats from this module's constants, written into the SQL: never user input.
        self.fractions = "ARRAY[{}]::float8[]".format(
            ", ".join(repr(float(fraction)) for fraction in fractions)
        )
        super().__init__(expression, output_field=ArrayField(DurationField()), **extra)

    def as_sql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, fractions=self.fractions, **extra_context
        )


def percentiles(series):
    """The aggregates that read `series` {name: (duration field, fractions)} in the query that
    computes them, where the database has `percentile_cont` (PostgreSQL: one sort per series,
    no rows sent back); {} elsewhere, where `quantiles` ranks the rows itself."""
    if connection.vendor != "postgresql":
        return {}
    return {
        f"{name}_quantiles": PercentileCont(column, fractions)
        for name, (column, fractions) in series.items()
    }


def quantiles(queryset, series, counts, *, by=None, read=None):
    """{name: {group: Spread}} for each `series` {name: (duration field, fractions)}.

    `counts` {name: {group: n}} holds how many values are not null per group (`by`; the group
    is None without it), as an aggregate already read them. On PostgreSQL the `percentiles`
    aggregates compute them: `read`, the row of a query that included them (without `by`),
    or one query grouped by `by`. Elsewhere `_ranked` does.
    """
    aggregates = percentiles(series)
    if not aggregates:
        return _ranked(queryset, series, counts, by=by)
    if read is not None:
        rows = {None: read}
    else:
        rows = {
            row[by] if by else None: row
            for row in queryset.order_by()
            .values(*([by] if by else []))
            .annotate(**aggregates)
        }
    return {
        name: {
            key: Spread(
                count,
                {
                    q: round(seconds(value), 3)
                    for q, value in zip(
                        fractions, rows[key][f"{name}_quantiles"], strict=True
                    )
                },
            )
            for key, count in counts[name].items()
            if count
        }
        for name, (_, fractions) in series.items()
    }


def _ranked(queryset, series, counts, *, by=None):
    """`quantiles` where the database has no `percentile_cont` (SQLite): the positions each
    fraction needs follow from n (see the module docstring). One query, one pass over the
    rows: each series numbered in its own order by the database (one window per stored
    column, nulls last, so that its n values are ranks 1 … n), of which only the rows at
    those positions come back.
    """
    partition = [F(by)] if by else []
    group = [by] if by else []
    names, ranks, wanted = [], {}, Q()
    for name, (column, fractions) in series.items():
        rank = f"rank_{len(names)}"
        for key, count in counts[name].items():
            if count:
                needed = sorted({i + 1 for q in fractions for i in positions(count, q)})
                wanted |= Q(**{f"{rank}__in": needed}, **({by: key} if by else {}))
        names.append(name)
        ranks[rank] = Window(
            RowNumber(),
            partition_by=partition,
            order_by=F(column).asc(nulls_last=True),
        )
    found = {name: {} for name in names}
    if wanted:
        columns = [column for column, _ in series.values()]
        rows = (
            queryset.order_by()
            .annotate(**ranks)
            .filter(wanted)
            .values_list(*group, *columns, *ranks)
        )
        for row in rows:
            key = row[0] if by else None
            values = row[len(group) : len(group) + len(names)]
            for name, value, rank in zip(
                names, values, row[-len(names) :], strict=True
            ):
                if rank <= counts[name].get(key, 0):
                    found[name].setdefault(key, {})[rank - 1] = seconds(value)
    return {
        name: {
            key: Spread(
                count, {q: interpolate(found[name][key], count, q) for q in fractions}
            )
            for key, count in counts[name].items()
            if count
        }
        for name, (_, fractions) in series.items()
    }


def percent(part, whole):
    """part / whole as a percentage to one decimal; None when there is nothing to divide."""
    return round(100 * part / whole, 1) if whole else None


def duration_text(seconds):
    """Seconds as "45 s", "3 min 05 s" or "14 h 05 min"; "—" when there is no value."""
    if seconds is None:
        return "—"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


@dataclass(frozen=True)
class Line:
    """One row of a breakdown by site or needle."""

    label: str
    attempts: int
    finished: int
    successes: int

    @property
    def success_pct(self):
        """Successes among finished attempts (an attempt in progress has no outcome yet)."""
        return percent(self.successes, self.finished)


@dataclass(frozen=True)
class Tally:
    """A count and its share of a whole, e.g. one complication among the removals."""

    label: str
    count: int
    share: float | None


@dataclass(frozen=True)
class Chart:
    """A bar chart and the table beside it, both drawn from `rows`.

    The chart reads `data` (json_script `data_id`); the template's table reads the same rows,
    its column `axis` being each row's `value` attribute.
    """

    id: str
    title: str
    axis: str
    rows: list
    value: str
    horizontal: bool = True
    percent: bool = False

    @property
    def data_id(self):
        return f"{self.id}-data"

    @property
    def data(self):
        return {
            "title": self.title,
            "axis": self.axis,
            "labels": [row.label for row in self.rows],
            "values": [getattr(row, self.value) for row in self.rows],
            "horizontal": self.horizontal,
            "percent": self.percent,
        }


def once_per_row(queryset, *fields, **annotations):
    """`queryset` as rows of `fields` and `annotations`, for an aggregate to read as a subquery.

    `distinct()` (the rows are distinct anyway, by pk) makes Django aggregate over a subquery:
    an annotation several filters read (a duration, a JSON value) is computed once per row,
    not once per filter.
    """
    return queryset.order_by().values("pk", *fields).annotate(**annotations).distinct()


def _tallies():
    return {
        "n": Count("pk"),
        "finished": Count("pk", filter=Q(outcome__in=FINISHED)),
        "successes": Count("pk", filter=Q(outcome=Outcome.SUCCESS)),
    }


@dataclass
class Numbers:
    """The unit's figures for attempts started in a period at a location."""

    attempts: int
    episodes: int
    first_finished: int
    first_successes: int
    finished: int
    successes: int
    removed: int
    removed_in_time: int
    overdue_now: int
    to_bone: Spread
    to_confirmed: Spread
    dwell: Spread
    sites: list
    needles: list
    complications: list
    to_bone_bins: list

    @property
    def first_attempt_pct(self):
        """Successful attempts 1 among finished ones: an attempt 1 still in progress has no
        outcome yet, as overall success leaves it out (`Line.success_pct`)."""
        return percent(self.first_successes, self.first_finished)

    @property
    def success_pct(self):
        return percent(self.successes, self.finished)

    @property
    def removed_in_time_pct(self):
        return percent(self.removed_in_time, self.removed)

    @property
    def without_site(self):
        return self.attempts - sum(line.attempts for line in self.sites)

    @property
    def charts(self):
        return [
            Chart(
                "chart-sites",
                "Success by site",
                "Success %",
                self.sites,
                "success_pct",
                percent=True,
            ),
            Chart(
                "chart-complications",
                "Complications by kind",
                "Needles",
                self.complications,
                "count",
            ),
            Chart(
                "chart-to-bone",
                "Time start → needle in bone",
                "Attempts",
                self.to_bone_bins,
                "count",
                horizontal=False,
            ),
        ]


SITE = ("name", "for_adults", "for_children")
NEEDLE = ("length_mm", "hub_colour")
QUARTILES = (0.25, 0.5, 0.75)
# The durations projected on the attempt and the quantiles the page shows of each.
DURATIONS = {"to_bone": QUARTILES, "dwell": (0.5, 1.0), "to_confirmed": QUARTILES}


def to_bone_minute():
    """Whole minutes start → needle in bone, 0 to LAST_MINUTE (more is LAST_MINUTE).

    Compared as durations, exact on both databases; a corrected insertion time before the
    start counts as under 1 min. None where the needle never went in.
    """
    return Case(
        When(to_bone__isnull=True, then=Value(None)),
        *(
            When(to_bone__lt=timedelta(minutes=minute + 1), then=Value(minute))
            for minute in range(LAST_MINUTE)
        ),
        default=Value(LAST_MINUTE),
        output_field=IntegerField(),
    )


def unit_numbers(*, start, end, location=None, now):
    """The figures for attempts started in [start, end) where `location` (None: all) is the
    location of their episode, i.e. where the attempt was made; overdue needles are counted
    where they are now.

    Passes over the attempts (two on PostgreSQL, three on SQLite), whatever their number, each
    planned by the database as a whole (no query per row, none over the events: confirmation,
    the durations and the complications found at removal are projected on the attempt), and
    small reads:
    1. the complication checks any version offered at removal (a few rows);
    2. the attempts counted per version, site, needle, minute to needle in bone and list of
       complications ticked at removal (a few dozen rows, which add up to the counts,
       including how many values each quantile reads; each kind is counted from the few
       distinct lists, so that no row is searched once per kind);
    3. the names of those sites and needles (a few rows);
    4. their episodes, how many had attempt 1 finished and how many a successful attempt 1,
       and on PostgreSQL in the same
       pass the quantiles of time to needle in bone, to confirmation and of dwell;
    5. on SQLite, those quantiles (`quantiles`: one ranked pass);
    6. the needles overdue now.
    """
    attempts = Attempt.objects.filter(started_at__gte=start, started_at__lt=end)
    if location is not None:
        attempts = attempts.filter(episode__location=location)
    offered = {}
    for version, text in (
        Step.objects.filter(
            version__status__in=(
                ChecklistVersion.Status.PUBLISHED,
                ChecklistVersion.Status.RETIRED,
            ),
            section__slug="complications",
            kind=Step.Kind.CHECK,
        )
        .order_by("position", "pk")
        .values_list("version", "text")
    ):
        offered.setdefault(text, set()).add(version)
    kinds = {text: f"kind{index}" for index, text in enumerate(offered)}
    groups = list(
        attempts.order_by()
        .annotate(minute=to_bone_minute())
        .values("checklist_version", "site", "needle", "minute", "complications")
        .annotate(
            **_tallies(),
            removed=Count("removed_at"),
            removed_in_time=Count("pk", filter=Q(removed_at__lte=F("removal_due_at"))),
            # How many values each quantile reads.
            **{f"{name}_n": Count(name) for name in DURATIONS},
            other=Count("pk", filter=~Q(other_complication="")),
        )
    )
    counted = ("n", "finished", "successes", "removed", "removed_in_time", "other")
    totals = {
        name: sum(group[name] for group in groups)
        for name in (*counted, *(f"{name}_n" for name in DURATIONS))
    }
    for text, name in kinds.items():
        totals[name] = sum(
            group["n"] for group in groups if text in (group["complications"] or ())
        )
    # The kinds the versions of these attempts offered, in the order they were offered.
    versions = {group["checklist_version"] for group in groups}
    texts = [text for text in offered if offered[text] & versions]
    series = {name: (name, fractions) for name, fractions in DURATIONS.items()}
    # Attempt 1 of the attempt's episode, whenever it started.
    first = FilteredRelation(
        "episode__attempts", condition=Q(episode__attempts__number=1)
    )
    summary = (
        attempts.order_by()
        .annotate(first=first)
        .aggregate(
            episodes=Count("episode", distinct=True),
            first_finished=Count(
                "episode", distinct=True, filter=Q(first__outcome__in=FINISHED)
            ),
            first_successes=Count(
                "episode", distinct=True, filter=Q(first__outcome=Outcome.SUCCESS)
            ),
            # Where the database computes quantiles, in the same pass.
            **percentiles(series),
        )
    )
    totals |= summary
    spreads = quantiles(
        attempts,
        series,
        {name: {None: totals[f"{name}_n"]} for name in DURATIONS},
        read=summary,
    )
    overdue = Attempt.objects.in_place().filter(removal_due_at__lt=now)
    if location is not None:
        overdue = overdue.filter(location=location)
    return Numbers(
        attempts=totals["n"],
        episodes=totals["episodes"],
        first_finished=totals["first_finished"],
        first_successes=totals["first_successes"],
        finished=totals["finished"],
        successes=totals["successes"],
        removed=totals["removed"],
        removed_in_time=totals["removed_in_time"],
        overdue_now=overdue.count(),
        to_bone=spreads["to_bone"].get(None, Spread()),
        to_confirmed=spreads["to_confirmed"].get(None, Spread()),
        dwell=spreads["dwell"].get(None, Spread()),
        sites=_lines(groups, "site", Site.objects.only(*SITE)),
        needles=_lines(groups, "needle", NeedleSize.objects.only(*NEEDLE)),
        complications=[
            Tally(label, totals[name], percent(totals[name], totals["removed"]))
            for label, name in (
                *((text, kinds[text]) for text in texts),
                ("Other", "other"),
            )
        ],
        to_bone_bins=_bins(_sums(groups, "minute"), totals["to_bone_n"]),
    )


def _bins(minutes, inserted):
    """The chart's buckets of time to needle in bone, from the attempts per whole minute."""
    tallies = []
    for label, first, last in TO_BONE_BINS:
        count = sum(
            attempts
            for minute, attempts in minutes.items()
            if minute is not None
            and first <= minute
            and (last is None or minute < last)
        )
        tallies.append(Tally(label, count, percent(count, inserted)))
    return tallies


def _sums(groups, column):
    """{value of `column`: attempts}, over the groups."""
    sums = {}
    for group in groups:
        sums[group[column]] = sums.get(group[column], 0) + group["n"]
    return sums


def _lines(groups, column, rows):
    """The groups summed by what `column` names (one query of `rows` for the names), in
    order of the name; versions have rows of their own with the same name."""
    lines = {}
    named = {
        row.pk: str(row) for row in rows.filter(pk__in={g[column] for g in groups})
    }
    for group in groups:
        if group[column] is None:
            continue
        label = named[group[column]]
        attempts, finished, successes = lines.get(label, (0, 0, 0))
        lines[label] = (
            attempts + group["n"],
            finished + group["finished"],
            successes + group["successes"],
        )
    return [Line(label, *lines[label]) for label in sorted(lines)]


@dataclass(frozen=True)
class Reference:
    """A published figure with the link to its citation."""

    text: str
    key: str
    href: str


def literature():
    """({figure: [Reference]}, [(key, citation)] for keys the published checklist does not cite).

    A key cited by a published version has an anchor on the reference page: one query for the
    published versions, whose items (and the sources they cite) the bay reads once per process
    (`attempts.stages.version_content`).
    """
    keys = {key for refs in LITERATURE.values() for _, key in refs}
    cited = set()
    for version in ChecklistVersion.objects.published():
        cited |= version_content(version).source_keys
        for item in troubleshooting_content(version):
            cited.update(source.key for source in item.sources.all())
    page = reverse("checklists:reference")
    figures = {
        figure: [
            Reference(
                text,
                key,
                f"{page}#source-{key}" if key in cited else f"#reference-{key}",
            )
            for text, key in refs
        ]
        for figure, refs in LITERATURE.items()
    }
    listed = [(key, CITATIONS[key]) for key in CITATIONS if key in keys - cited]
    return figures, listed


class PeriodForm(forms.Form):
    """The numbers page's GET form; a missing date takes the default period."""

    started_from = forms.DateField(
        label="From",
        input_formats=DAY_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter the first day as a date, e.g. 2026-01-31."},
    )
    started_to = forms.DateField(
        label="To",
        input_formats=DAY_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter the last day as a date, e.g. 2026-03-31."},
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.order_by("name"),
        required=False,
        empty_label="All locations",
        help_text="Where the attempt was made.",
        error_messages={"invalid_choice": "Choose one of the locations listed."},
    )

    def __init__(self, query, *, today):
        data = query.copy()
        defaults = {
            "started_from": today - timedelta(days=DEFAULT_DAYS - 1),
            "started_to": today,
        }
        for name, day in defaults.items():
            if not data.get(name):
                data[name] = day.isoformat()
        super().__init__(data)

    def clean(self):
        cleaned = super().clean()
        check_period(self)
        return cleaned

    def period(self):
        """[start, end) as aware datetimes: the first day's midnight to the day after the last."""
        first, last = self.cleaned_data["started_from"], self.cleaned_data["started_to"]
        return (
            timezone.make_aware(datetime.combine(first, time.min)),
            timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min)),
        )


@dataclass(frozen=True)
class OperatorLine:
    """One clinician's attempts as operator, and what supervisors made of them."""

    id: int
    name: str
    attempts: int
    finished: int
    successes: int
    sign_offs: int
    competent: bool
    to_bone: Spread

    @property
    def success_pct(self):
        return percent(self.successes, self.finished)


def operator_lines(attempts):
    """One line per operator of `attempts`, by name; two queries."""
    rows = (
        attempts.order_by()
        .values(
            "operator",
            "operator__username",
            "operator__first_name",
            "operator__last_name",
        )
        .annotate(
            n=Count("pk", distinct=True),
            finished=Count("pk", distinct=True, filter=Q(outcome__in=FINISHED)),
            successes=Count("pk", distinct=True, filter=Q(outcome=Outcome.SUCCESS)),
            # to_bone is known where the needle went in (an attempt always has a start).
            inserted=Count("pk", distinct=True, filter=Q(to_bone__isnull=False)),
            reviews=Count("sign_offs", distinct=True),
            marked_competent=Count("sign_offs", filter=Q(sign_offs__competent=True)),
        )
        .order_by("operator__last_name", "operator__first_name", "operator__username")
    )
    medians = quantiles(
        attempts,
        {"to_bone": ("to_bone", (0.5,))},
        {"to_bone": {row["operator"]: row["inserted"] for row in rows}},
        by="operator",
    )["to_bone"]
    return [
        OperatorLine(
            id=row["operator"],
            name=" ".join(
                filter(None, (row["operator__first_name"], row["operator__last_name"]))
            )
            or row["operator__username"],
            attempts=row["n"],
            finished=row["finished"],
            successes=row["successes"],
            sign_offs=row["reviews"],
            competent=row["marked_competent"] > 0,
            to_bone=medians.get(row["operator"], Spread()),
        )
        for row in rows
    ]


def operator_log(operator_id):
    """The operator's attempts, newest first, with what a portfolio needs; no patient data."""
    reviews = SignOff.objects.filter(attempt=OuterRef("pk"))
    return (
        Attempt.objects.filter(operator_id=operator_id)
        .select_related("episode__location", "site", "needle")
        .defer("episode__patient_reference")
        .annotate(
            signed_off=Exists(reviews),
            competent=Exists(reviews.filter(competent=True)),
        )
        .order_by("-started_at", "-pk")
    )


def _operator(user_id):
    """The operator's line; 404 for someone who never operated."""
    lines = operator_lines(Attempt.objects.filter(operator_id=user_id))
    if not lines:
        raise Http404("No attempts by this clinician.")
    return lines[0]


@require_GET
@role_required(SUPERVISOR)
def numbers(request):
    """The unit's figures for a period and location, beside the published ones."""
    form = PeriodForm(request.GET, today=timezone.localdate())
    context = {"form": form}
    if not form.is_valid():
        return render(request, "review/numbers.html", context, status=422)
    start, end = form.period()
    context["numbers"] = unit_numbers(
        start=start,
        end=end,
        location=form.cleaned_data["location"],
        now=timezone.now(),
    )
    context["literature"], context["references"] = literature()
    return render(request, "review/numbers.html", context)


@require_GET
@role_required(SUPERVISOR)
def operators(request):
    """Every clinician who operated, with their attempts, success and sign-offs."""
    lines = operator_lines(Attempt.objects.all())
    return render(request, "review/operators.html", {"lines": lines})


@require_GET
@role_required(SUPERVISOR)
def operator_log_page(request, user_id):
    """One clinician's procedure log, as a trainee takes it to a portfolio."""
    line = _operator(user_id)
    page = Paginator(operator_log(user_id), LOG_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for attempt in page:
        attempt.to_bone_text = duration_text(seconds(attempt.to_bone))
    return render(request, "review/operator_log.html", {"line": line, "page": page})


CSV_HEADER = (
    "Started",
    "Location",
    "Site",
    "Side",
    "Needle",
    "Outcome",
    "Seconds start to needle in bone",
    "Signed off",
    "Marked competent",
)


@require_GET
@role_required(SUPERVISOR)
def operator_log_csv(request, user_id):
    """The procedure log as CSV; the download is audited with its number of rows."""
    user = get_object_or_404(get_user_model(), pk=user_id)
    attempts = list(operator_log(user.pk))
    if not attempts:
        raise Http404("No attempts by this clinician.")
    # The download has no filter of its own: the query names whose log it was, as the
    # review list's own operator filter would, so the audit can say it.
    RecordAccess.objects.create(
        user=request.user,
        action=RecordAccess.Action.OPERATOR_CSV,
        query=urlencode({OPERATOR_QUERY: user.pk}),
        record_count=len(attempts),
    )
    rows = (
        (
            attempt.started_at,
            attempt.episode.location.name,
            attempt.site.name if attempt.site_id else "",
            attempt.get_side_display(),
            str(attempt.needle) if attempt.needle_id else "",
            attempt.get_outcome_display(),
            "" if attempt.to_bone is None else round(seconds(attempt.to_bone)),
            "yes" if attempt.signed_off else "no",
            "yes" if attempt.competent else "no",
        )
        for attempt in attempts
    )
    day = timezone.localdate().isoformat()
    return streamed(f"operator-log-{user.pk}-{day}.csv", CSV_HEADER, rows)


urlpatterns = [
    path("numbers/", numbers, name="numbers"),
    path("operators/", operators, name="operators"),
    path("operators/<id:user_id>/", operator_log_page, name="operator-log"),
    path("operators/<id:user_id>/log.csv", operator_log_csv, name="operator-log-csv"),
]
