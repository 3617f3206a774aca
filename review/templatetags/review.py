from django import template

register = template.Library()


@register.filter
def duration_words(value):
    """A timedelta as a supervisor reads it: "1 min 35 s" under an hour, "26 h 05 min" above."""
    if value is None:
        return ""
    seconds = abs(int(value.total_seconds()))
    hours, minutes, rest = seconds // 3600, (seconds % 3600) // 60, seconds % 60
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {rest:02d} s"


@register.filter
def since_start(value):
    """+mm:ss (or +h:mm:ss) from the attempt's start."""
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    sign = "−" if seconds < 0 else "+"  # noqa: RUF001 - a minus sign reads as one
    seconds = abs(seconds)
    hours, minutes, rest = seconds // 3600, (seconds % 3600) // 60, seconds % 60
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{rest:02d}"
    return f"{sign}{minutes}:{rest:02d}"
