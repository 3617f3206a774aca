from django.db import models


class RoleAccess(models.Model):
    """Holds the three role permissions, which belong to no record model.

    No table: the model exists so the permissions have a content type and can be granted to
    the role groups (data migration 0002) and managed in the admin like any other permission.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = (
            ("work_at_bay", "Can use the clinician pages at the bay"),
            ("supervise", "Can use the supervisor pages"),
            ("edit_content", "Can edit checklist content in the admin"),
        )

    def __str__(self):
        return "Role access"
