"""The review's periods (the list's and the numbers' From and To): one rule for both forms."""

from datetime import date

# Far enough for any record, near enough that a midnight in any time zone is a time.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2999, 12, 31)
# What a date field sends and shows: a bookmarked 01/11/2026 would filter by a day the field
# cannot show (and whose order of day and month is a guess).
DAY_FORMATS = ("%Y-%m-%d",)


def check_period(form, first_name="started_from", last_name="started_to"):
    """Add the errors of a period's days to `form` (from its clean())."""
    first = form.cleaned_data.get(first_name)
    last = form.cleaned_data.get(last_name)
    for name, day in ((first_name, first), (last_name, last)):
        if day and not EARLIEST_DAY <= day <= LATEST_DAY:
            form.add_error(
                name, f"Enter a day from {EARLIEST_DAY.year} to {LATEST_DAY.year}."
            )
    if first and last and last < first:
        form.add_error(last_name, "The last day is before the first day.")
