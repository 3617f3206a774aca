from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.roles import CLINICIAN, role_required


@require_GET
@role_required(CLINICIAN)
def home(request):
    """The clinician's home at the bay."""
    return render(request, "attempts/home.html", {})
