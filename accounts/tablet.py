"""Where a shared tablet stands: a long-lived signed cookie, apart from the login session.

The cookie belongs to the device, not to whoever is signed in: it survives logout and a switch
of user, so the next clinician's Start, board and header know the bay at once. It holds only a
location id; the attempts app checks that the location exists and is active.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing

COOKIE = "ioaccess_tablet"
SALT = "ioaccess.tablet-place"
# A tablet is moved rarely; IT or a clinician sets it again when it is.
MAX_AGE = timedelta(days=400)


def placed_at(request):
    """The location id the tablet stands at, or None (no cookie, or a forged or stale one)."""
    try:
        value = request.get_signed_cookie(
            COOKIE, salt=SALT, max_age=MAX_AGE.total_seconds()
        )
    except (KeyError, signing.BadSignature):
        return None
    return int(value) if value.isascii() and value.isdigit() else None


def place(response, location_id):
    """Mark the tablet as standing at `location_id` (on the response that answers the choice)."""
    response.set_signed_cookie(
        COOKIE,
        str(location_id),
        salt=SALT,
        max_age=int(MAX_AGE.total_seconds()),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def forget(response):
    """The tablet no longer stands anywhere."""
    response.delete_cookie(COOKIE, samesite="Lax")
    return response


# Stored for "Not at a fixed place": the question was answered, and placed_at reads no id in it.
NOWHERE = "none"


def place_nowhere(response):
    """The tablet is not at a fixed place, and was asked: it need not ask again."""
    return place(response, NOWHERE)


def asked(request):
    """Whether someone answered where this tablet stands (a place, or no fixed place)."""
    try:
        request.get_signed_cookie(COOKIE, salt=SALT, max_age=MAX_AGE.total_seconds())
    except (KeyError, signing.BadSignature):
        return False
    return True
