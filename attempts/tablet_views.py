from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import tablet
from accounts.roles import CLINICIAN, role_required
from attempts.models import Location
from attempts.tablet_forms import NOWHERE, TabletPlaceForm


@require_http_methods(["GET", "POST"])
@role_required(CLINICIAN)
def tablet_place(request):
    """Mark where the tablet stands: Start, the board and the header follow it."""
    locations = Location.objects.filter(staff=request.user, is_active=True)
    # An id that is not among the choices (another's or an inactive location) checks nothing.
    placed_id = tablet.placed_at(request)
    initial = str(placed_id) if placed_id is not None else None
    if initial is None and tablet.asked(request):
        initial = NOWHERE
    form = TabletPlaceForm(
        request.POST if request.method == "POST" else None,
        locations=locations,
        initial={"place": initial},
    )
    if request.method == "POST" and form.is_valid():
        location = form.chosen()
        response = redirect("attempts:home")
        if location is None:
            messages.success(request, "This tablet is not at a fixed place.")
            return tablet.place_nowhere(response)
        messages.success(request, f"This tablet is at {location}.")
        return tablet.place(response, location.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "attempts/tablet_place.html", {"form": form}, status=status)
