"""The idle lock and the absolute lifetime of a signed-in session on a shared tablet.

State lives in the session (times as epoch seconds), so it follows the session, not the tab:
whichever tab or tablet shows the session, it is locked for all of them.
"""

from django.conf import settings

LAST_ACTIVITY = "ioaccess_last_activity"
LOCKED = "ioaccess_locked"
SIGNED_IN_AT = "ioaccess_signed_in_at"
TAP_NOT_SAVED = "ioaccess_tap_not_saved"

# Automatic polls, the board (meant to stay open on a wall; needles only, no patient record) and
# the service worker's script (fetched by the browser itself, no patient data): they neither
# count as activity nor are locked.
PASSIVE_VIEWS = frozenset(
    {"attempts:board", "attempts:removal-banner", "attempts:service-worker"}
)
# What a locked session may still reach: the passive views and the ways out of the lock.
OPEN_WHEN_LOCKED = PASSIVE_VIEWS | {
    "accounts:locked",
    "accounts:switch-user",
    "accounts:logout",
    "accounts:login",
    "accounts:pin-login",
    "healthz",
}
# An htmx tap the tablet keeps and sends again once signed in (static/js/taps.js).
KEPT_BY_THE_TABLET = "attempts:attempt-record"
# Saving the session on every request of a burst of taps buys nothing (and a page's query count
# should not depend on how long ago the last save was); the lock may come up to this much early.
TOUCH_EVERY_SECONDS = 60


def tap_fate(request, view_name):
    """What became of a POST refused by the lock: "kept" on the tablet, or "lost" (retap)."""
    kept = getattr(request, "htmx", False) and view_name == KEPT_BY_THE_TABLET
    return "kept" if kept else "lost"


def idle_seconds():
    return settings.IOACCESS_IDLE_LOCK_MINUTES * 60


def is_locked(session):
    return bool(session.get(LOCKED))


def lock(session):
    session[LOCKED] = True


def unlock(session, *, now):
    """Unlock; returns what became of a tap refused while locked ("kept", "lost" or None)."""
    session.pop(LOCKED, None)
    session[LAST_ACTIVITY] = now
    return session.pop(TAP_NOT_SAVED, None)


def idle_too_long(session, *, now):
    last = session.get(LAST_ACTIVITY)
    return last is not None and now - last > idle_seconds()


def touch(session, *, now):
    last = session.get(LAST_ACTIVITY)
    if last is None or now - last >= TOUCH_EVERY_SECONDS:
        session[LAST_ACTIVITY] = now


def signed_in(session, *, now):
    """A sign-in starts the absolute lifetime; unlocking the same session does not restart it."""
    session.setdefault(SIGNED_IN_AT, now)
    session[LAST_ACTIVITY] = now


def lifetime_over(session, *, now):
    started = session.setdefault(SIGNED_IN_AT, now)
    return now - started > settings.IOACCESS_SESSION_HOURS * 3600
