"""The attempts review reads: one row per attempt with what the list shows, and its filters."""

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils import timezone

from attempts.models import Attempt, Location
from checklists.models import Site
from review import deviations
from review.models import SignOff
from review.periods import DAY_FORMATS, check_period


def review_rows(*, now):
    """Every attempt with its list columns, newest first.

    The attempt's row joins what differs per attempt; the locations (a few rows) come in a
    query each. Joined too, with the version a page may not show, they cost PostgreSQL
    ~17 ms of planning on every list page, more than running the query.
    """
    return (
        Attempt.objects.select_related("episode", "operator", "site", "needle")
        .prefetch_related("location", "episode__location")
        .annotate(
            deviations=deviations.deviation_count(now),
            reviewed=Exists(SignOff.objects.filter(attempt=OuterRef("pk"))),
        )
        .order_by("-started_at", "-pk")
    )


def _operators(request):
    return (
        get_user_model()
        .objects.filter(pk__in=Attempt.objects.values("operator"))
        .order_by("last_name", "first_name", "username")
    )


def _site_choices():
    """Sites by their stable key across versions, named as clinicians saw them."""
    rows = Site.objects.order_by("position").values_list(
        "slug", "name", "for_adults", "for_children"
    )
    choices = {}
    for slug, name, adults, children in rows:
        who = "adults" if adults and not children else "children" if children else "all"
        choices.setdefault(slug, f"{name} ({who})")
    return list(choices.items())


class ListFilterForm(forms.Form):
    """The list's filter form: its period follows the numbers page's rule."""

    def clean(self):
        cleaned = super().clean()
        check_period(self)
        return cleaned


class AttemptFilter(django_filters.FilterSet):
    """The list's filters, as a GET form whose URL can be bookmarked and shared."""

    YES = ((True, "Yes"),)

    started_from = django_filters.DateFilter(
        field_name="started_at",
        lookup_expr="date__gte",
        label="From",
        input_formats=DAY_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the first day as a date, e.g. 2026-01-31."},
    )
    started_to = django_filters.DateFilter(
        field_name="started_at",
        lookup_expr="date__lte",
        label="To",
        input_formats=DAY_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the last day as a date, e.g. 2026-03-31."},
    )
    # Where the attempt was made (its episode's location), as the numbers count it: a
    # transferred needle moves `Attempt.location`, not the attempt's history.
    location = django_filters.ModelChoiceFilter(
        field_name="episode__location",
        label="Location",
        queryset=Location.objects.order_by("name"),
        empty_label="All locations",
        help_text="Where the attempt was made.",
        error_messages={"invalid_choice": "Choose one of the locations listed."},
    )
    operator = django_filters.ModelChoiceFilter(
        queryset=_operators,
        empty_label="All operators",
        error_messages={"invalid_choice": "Choose one of the operators listed."},
    )
    site = django_filters.ChoiceFilter(
        field_name="site__slug",
        choices=_site_choices,
        empty_label="All sites",
        label="Site",
        error_messages={"invalid_choice": "Choose one of the sites listed."},
    )
    outcome = django_filters.ChoiceFilter(
        choices=Attempt.Outcome.choices,
        empty_label="All outcomes",
        error_messages={"invalid_choice": "Choose one of the outcomes listed."},
    )
    overdue = django_filters.BooleanFilter(
        method="filter_overdue",
        label="Needle past 24 h",
        widget=forms.CheckboxInput,
    )
    has_deviations = django_filters.BooleanFilter(
        method="filter_has_deviations",
        label="Has deviations",
        widget=forms.CheckboxInput,
    )
    not_reviewed = django_filters.BooleanFilter(
        method="filter_not_reviewed",
        label="Not yet reviewed",
        widget=forms.CheckboxInput,
    )

    class Meta:
        model = Attempt
        fields = ()
        form = ListFilterForm

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form.label_suffix = ""

    def filter_overdue(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(deviations.late_removal(timezone.now()))

    def filter_has_deviations(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(deviations.has_deviation(timezone.now()))

    def filter_not_reviewed(self, queryset, name, value):
        return queryset.filter(reviewed=False) if value else queryset
