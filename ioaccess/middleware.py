from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import resolve_url
from django.utils.cache import patch_cache_control
from django_htmx.http import HttpResponseClientRedirect


def redirect_to_login_page(request, login_url=None, redirect_field_name="next"):
    """To the login page, and back here afterwards; for htmx, a whole-page redirect.

    A plain 302 to an htmx request would be followed by htmx and the login form painted
    inside a card.
    """
    login_url = resolve_url(login_url or settings.LOGIN_URL)
    if getattr(request, "htmx", False):
        # The page the user is on, not the fragment URL, is where to come back to.
        next_url = request.htmx.current_url_abs_path or "/"
        login = redirect_to_login(next_url, login_url, redirect_field_name)
        return HttpResponseClientRedirect(login["Location"])
    return redirect_to_login(request.get_full_path(), login_url, redirect_field_name)


class HtmxAwareLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Login required everywhere but login and /healthz; htmx requests get `HX-Redirect`."""

    def handle_no_permission(self, request, view_func):
        return redirect_to_login_page(
            request,
            self.get_login_url(view_func),
            self.get_redirect_field_name(view_func),
        )


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every dynamic response that did not set its own.

    Patient pages and partials must not outlive a logout in the browser's cache or behind the
    back button on a shared tablet; telling pages that show a patient from those that do not
    is easy to get wrong, and a page of ours is cheap to fetch again. Static files never get
    here: whitenoise answers them first, with their long caching.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True)
        return response
