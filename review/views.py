from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.roles import SUPERVISOR, role_required


@require_GET
@role_required(SUPERVISOR)
def home(request):
    """The supervisor's home."""
    return render(request, "review/home.html", {})
