from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.roles import CONTENT_EDITOR, role_required


@require_GET
@role_required(CONTENT_EDITOR)
def home(request):
    """The content editor's home: where the checklist content stands, and the way into the admin."""
    return render(request, "checklists/home.html", {})
