class IdConverter:
    """A record's id in a URL (`<id:pk>`): at most 18 digits, which always fit the 64-bit
    integer a key is stored in. A longer number names nothing, like any unknown id: 404 from
    the URL itself, never an overflow in a database query (SQLite raises one for a foreign
    key compared with a number it cannot hold)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)
