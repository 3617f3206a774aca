from django.contrib.admin.apps import AdminConfig


class IoAccessAdminConfig(AdminConfig):
    """The Django admin, served by our site that only content editors may enter."""

    default_site = "ioaccess.admin_site.IoAccessAdminSite"
