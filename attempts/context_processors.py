from django.utils import timezone

from accounts.roles import CLINICIAN, SUPERVISOR
from attempts.models import Attempt


def removal_banner(request):
    """On clinician and supervisor pages: overdue and due-soon needles at the user's locations."""
    role = getattr(request, "role", None)
    if role is None or role.key not in {CLINICIAN.key, SUPERVISOR.key}:
        return {}
    overdue, due_soon = Attempt.objects.visible_to(request.user).removal_counts(
        now=timezone.now()
    )
    return {"removal_banner": {"overdue": overdue, "due_soon": due_soon}}
