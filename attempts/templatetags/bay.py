import uuid

from django import template

register = template.Library()


@register.simple_tag
def client_token():
    """A fresh token for one recording form: a double tap or a retry sends the same one."""
    return str(uuid.uuid4())


@register.filter
def duration(value):
    """A timedelta as "1 h 05 min" (or "4 min"); negative values as their magnitude."""
    if value is None:
        return ""
    seconds = abs(int(value.total_seconds()))
    hours, minutes = seconds // 3600, (seconds % 3600) // 60
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
