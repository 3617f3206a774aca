from django.utils.functional import SimpleLazyObject

from accounts.roles import CLINICIAN
from checklists.models import ChecklistVersion


def content_notice(request):
    """On clinician pages: whether the published checklist is still unapproved reference content.

    Lazy: a partial that does not show the notice (an htmx swap) costs no query.
    """
    role = getattr(request, "role", None)
    if role is None or role.key != CLINICIAN.key:
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
