from django.contrib.admin.apps import AdminConfig
from django.urls import register_converter

from ioaccess.converters import IdConverter


class IoAccessAdminConfig(AdminConfig):
    """The Django admin, served by our site that only content editors may enter. The first app
    to be ready, it also registers the project's URL converter."""

    default_site = "ioaccess.admin_site.IoAccessAdminSite"

    def ready(self):
        # Before any module that builds URL patterns with it is imported: the admin's (by
        # super().ready()) and the apps' URL modules, which code may import before the URLconf.
        register_converter(IdConverter, "id")
        super().ready()
