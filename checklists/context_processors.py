from accounts.roles import CLINICIAN
from checklists.models import ChecklistVersion


def content_notice(request):
    """On clinician pages: whether the published checklist is still unapproved reference content."""
    role = getattr(request, "role", None)
    if role is None or role.key != CLINICIAN.key:
        return {}
    return {
        "is_reference_content": ChecklistVersion.objects.published()
        .filter(is_reference_content=True)
        .exists()
    }
