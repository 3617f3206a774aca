"""CSV downloads: streamed row by row, UTF-8 with a BOM for spreadsheet users, ISO 8601 times
with their offset, and no cell a spreadsheet would run as a formula."""

import csv
import re
from datetime import datetime

from django.http import StreamingHttpResponse
from django.utils import timezone

BOM = "\ufeff"
# A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number, negative ones included, is no formula: guarding it would make it text
# ("'-0.1"), which a spreadsheet cannot add up. ASCII digits only.
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class _Echo:
    def write(self, value):
        return value


def cell(value):
    """One value as a safe CSV cell."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    text = str(value)
    if PLAIN_NUMBER.fullmatch(text):
        return text
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def streamed(filename, header, rows):
    """A download of `header` then `rows` (an iterable of sequences), written as they come."""
    writer = csv.writer(_Echo())

    def lines():
        yield BOM + writer.writerow([cell(name) for name in header])
        for row in rows:
            yield writer.writerow([cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
