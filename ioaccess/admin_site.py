from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.roles import CONTENT_EDITOR


class IoAccessAdminSite(admin.AdminSite):
    """The admin is the content editors' tool: staff *and* the content-editor permission."""

    site_header = "ioaccess content"
    site_title = "ioaccess content"
    index_title = "Checklist content"
    # The sidebar halves the width of a version's inlines on a tablet.
    enable_nav_sidebar = False

    def has_permission(self, request):
        user = request.user
        return (
            user.is_active
            and user.is_staff
            and user.has_perm(CONTENT_EDITOR.permission)
        )

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def guarded(request, *args, **kwargs):
            # A signed-in user of another role gets the same 403 page as everywhere else,
            # not the admin's own login form asking them to sign in again.
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied(CONTENT_EDITOR.label)
            return inner(request, *args, **kwargs)

        return guarded

    def login(self, request, extra_context=None):
        # One login page for everyone, so throttling and its messages are the same everywhere.
        next_url = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(
            next_url,
            allowed_hosts={request.get_host()},
            require_https=request.is_secure(),
        ):
            next_url = resolve_url("admin:index")
        if request.user.is_authenticated:
            if not self.has_permission(request):
                raise PermissionDenied(CONTENT_EDITOR.label)
            return redirect(next_url)
        return redirect(
            f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': next_url})}"
        )
