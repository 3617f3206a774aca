from django.utils.functional import SimpleLazyObject

from accounts.roles import CLINICIAN, SUPERVISOR
from checklists.models import ChecklistVersion


def content_notice(request):
    """On clinician and supervisor pages: whether the published checklist is still unapproved
    reference content.

    Lazy: a partial that does not show the notice (an htmx swap) costs no query.
    """
    role = getattr(request, "role", None)
    if role is None or role.key not in {CLINICIAN.key, SUPERVISOR.key}:
        return {}
    return {
        "is_reference_content": SimpleLazyObject(
            lambda: (
                ChecklistVersion.objects.published()
                .filter(is_reference_content=True)
                .exists()
            )
        )
    }
