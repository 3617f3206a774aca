from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from accounts.roles import CLINICIAN, SUPERVISOR
from attempts.models import Attempt


def removal_banner(request):
    """On clinician and supervisor pages: overdue and due-soon needles at the user's locations.

    Lazy: a partial that does not show the banner (an htmx swap) costs no query.
    """
    role = getattr(request, "role", None)
    if role is None or role.key not in {CLINICIAN.key, SUPERVISOR.key}:
        return {}

    def counts():
        overdue, due_soon = Attempt.objects.visible_to(request.user).removal_counts(
            now=timezone.now()
        )
        return {"overdue": overdue, "due_soon": due_soon}

    return {"removal_banner": SimpleLazyObject(counts)}
