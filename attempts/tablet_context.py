"""Where this tablet stands, as the bay's pages see it: the cookie's id checked against the
locations (it may name one since deactivated or deleted, or not be one of this user's)."""

from functools import cached_property

from accounts import tablet
from accounts.roles import CLINICIAN
from attempts.models import Location


def tablet_location(request, *, staff=None):
    """The active location the tablet stands at (one of `staff`'s when given), or None.

    One query; none when the tablet has no place.
    """
    placed_id = tablet.placed_at(request)
    if placed_id is None:
        return None
    locations = Location.objects.filter(pk=placed_id, is_active=True)
    if staff is not None:
        locations = locations.filter(staff=staff)
    return locations.first()


class TabletPlace:
    """The tablet's place for the header and the home page; its query runs on first use."""

    def __init__(self, request):
        self.request = request

    @cached_property
    def location(self):
        return tablet_location(self.request)

    @property
    def has_answer(self):
        """False until someone says where the tablet is, or when its place is gone: ask then."""
        if not tablet.asked(self.request):
            return False
        return tablet.placed_at(self.request) is None or self.location is not None


def tablet_place(request):
    """For signed-in clinicians' pages: `tablet_place.location` and whether to ask for it."""
    user = getattr(request, "user", None)
    if user is None or not user.has_perm(CLINICIAN.permission):
        return {}
    return {"tablet_place": TabletPlace(request)}
