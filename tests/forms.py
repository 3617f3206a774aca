"""Read a rendered HTML form back into POST data, as a browser would submit it unchanged."""

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, form_id):
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.data = {}
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
            return
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in {"submit", "button", "file", "image"}:
                return
            if kind in {"checkbox", "radio"}:
                if "checked" in attrs:
                    self.data.setdefault(name, []).append(attrs.get("value", "on"))
                return
            self.data.setdefault(name, []).append(attrs.get("value") or "")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select].append(attrs.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][0] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            if self._textarea:
                value = self.data[self._textarea][0]
                # HTML drops the newline right after <textarea>.
                self.data[self._textarea][0] = (
                    value[1:] if value.startswith("\n") else value
                )
            self._textarea = None
        elif tag == "form":
            self.inside = False


def form_data(html, form_id):
    """The fields of form `form_id` as {name: value or [values]}, ready for client.post()."""
    reader = _FormReader(form_id)
    reader.feed(html)
    return {
        name: values if len(values) != 1 else values[0]
        for name, values in reader.data.items()
    }


class _FieldReader(HTMLParser):
    """The messages Django rendered for one field, and the field's own attributes."""

    def __init__(self, field_id):
        super().__init__()
        self.field_id = field_id
        self.errors = []
        self.attrs = None
        self.checked = []
        self._in_errors = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "ul" and attrs.get("id") == f"{self.field_id}_error":
            self._in_errors = True
        elif tag == "li" and self._in_errors:
            self.errors.append("")
        elif tag in {"input", "select", "textarea"}:
            if attrs.get("id") == self.field_id:
                self.attrs = attrs
            if (attrs.get("id") or "").startswith(f"{self.field_id}_") and (
                "checked" in attrs
            ):
                self.checked.append(attrs.get("value"))

    def handle_data(self, data):
        if self._in_errors and self.errors:
            self.errors[-1] += data

    def handle_endtag(self, tag):
        if tag == "ul":
            self._in_errors = False


def read_field(html, field_id):
    """(messages, attributes, checked values) of the field with id `field_id` as rendered."""
    reader = _FieldReader(field_id)
    reader.feed(html)
    return reader.errors, reader.attrs or {}, reader.checked


def field_errors(html, field_id):
    """The messages shown at a field; its input must say it is invalid and point at them."""
    errors, attrs, _ = read_field(html, field_id)
    if errors and attrs:  # a group of choices has no input of its own id
        assert attrs.get("aria-invalid") == "true", attrs
        assert f"{field_id}_error" in attrs.get("aria-describedby", ""), attrs
    return errors
