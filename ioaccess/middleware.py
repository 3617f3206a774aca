import logging
import time
from urllib.parse import urlparse

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import resolve_url
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

from accounts import lock

logger = logging.getLogger(__name__)


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


class UnreadableFormMiddleware:
    """400 for a form body Django will not read: a urlencoded body declared in a charset
    other than UTF-8.

    Reading it raises BadRequest, first in the CSRF check and then again in the CSRF check of
    Django's own error views, which turns the 400 into a 500. No browser sends such a body;
    the answer says why it was refused, and nothing was recorded.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST":
            try:
                request.POST  # noqa: B018 - read here, where a refusal can be answered
            except BadRequest:
                return HttpResponseBadRequest(
                    "This form was not sent as UTF-8 and could not be read. "
                    "Nothing was recorded.",
                    content_type="text/plain; charset=utf-8",
                )
        return self.get_response(request)


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


class DatabaseUnavailableMiddleware:
    """A database that is not answering (restarting, failing over) answers 503, never a 500.

    A 503 with `Retry-After` tells the tablet to keep the tap and send it again with the same
    client token; the record then keeps it once (`Attempt.record_event`). A 500 would read as a
    fault in the tap itself. The broken connection is not reused: Django closes a connection
    that errored when the request ends, and CONN_HEALTH_CHECKS replaces a persistent one that
    died between requests.
    """

    RETRY_AFTER_SECONDS = 5

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # The session and the user are read lazily, first by the login check in its own
        # process_view, where an error never reaches process_exception: read them here.
        if not getattr(view_func, "login_required", True):
            return None
        try:
            request.user.is_authenticated  # noqa: B018 (loads the session and the user)
        except (OperationalError, InterfaceError) as error:
            return self.process_exception(request, error)
        return None

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.error(
            "Database not answering; %s %s answered 503",
            request.method,
            request.path,
            exc_info=exception,
        )
        return database_unavailable_response(request, self.RETRY_AFTER_SECONDS)


def database_unavailable_response(request, retry_after):
    """503 with a message that says whether anything was saved; no template, no query."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        heading = "The record store is not answering"
        message = "Nothing was changed. Try again in a few seconds."
    elif getattr(request, "htmx", False):
        # The tablet's queue keeps an htmx tap that answers 503 and sends it again.
        heading = "Not saved"
        message = "The record store is not answering; this tap is kept and will be sent again."
    else:
        heading = "Not saved"
        message = "The record store is not answering. Go back and send it again in a few seconds."
    if getattr(request, "htmx", False):
        body = format_html(
            '<p class="form-error" role="alert">{}: {}</p>', heading, message
        )
    else:
        body = format_html(
            '<!doctype html>\n<html lang="en-GB">\n<head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<title>{} · ioaccess</title><link rel="icon" href="data:,"></head>\n'
            "<body>\n<main>\n  <h1>{}</h1>\n  <p>{}</p>\n</main>\n</body>\n</html>\n",
            heading,
            heading,
            message,
        )
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(retry_after)
    # About this moment only: nothing may keep it and show it again later.
    add_never_cache_headers(response)
    return response


class IdleLockMiddleware:
    """Locks a signed-in session after IOACCESS_IDLE_LOCK_MINUTES without a tap.

    A shared tablet left on a patient's card must not show it to the next passer-by, nor let
    the next clinician record under the last one's name. A locked session reaches only the lock
    screen, the ways out of it and the passive views (the board and the polls, which neither
    count as activity nor are locked). A tap that reaches a locked session is not recorded: it
    is flagged, and the lock screen says so. Also ends a session IOACCESS_SESSION_HOURS after
    its sign-in, however busy.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.user.is_authenticated:
            return None
        session = request.session
        now = time.time()
        if lock.lifetime_over(session, now=now):
            logout(request)
            return redirect_to_login_page(request)
        name = request.resolver_match.view_name
        if lock.idle_too_long(session, now=now):
            lock.lock(session)
        if lock.is_locked(session) and name not in lock.OPEN_WHEN_LOCKED:
            if request.method not in {"GET", "HEAD", "OPTIONS"}:
                session[lock.TAP_NOT_SAVED] = lock.tap_fate(request, name)
            return redirect_to_lock_screen(request)
        if name not in lock.PASSIVE_VIEWS and name != "accounts:locked":
            lock.touch(session, now=now)
            # For the page's own timer (static/js/lock.js), which locks without a request.
            request.idle_lock_minutes = settings.IOACCESS_IDLE_LOCK_MINUTES
        return None


def redirect_to_lock_screen(request):
    """To the lock screen, and back to the page the user was on once unlocked."""
    if getattr(request, "htmx", False) or request.method in {"GET", "HEAD"}:
        return redirect_to_login_page(request, "accounts:locked")
    # A plain form POST (no JS): its URL only takes POSTs, so come back to the page it was on.
    referer = urlparse(request.headers.get("Referer", ""))
    next_url = (
        referer.path
        if url_has_allowed_host_and_scheme(
            request.headers.get("Referer", ""),
            allowed_hosts={request.get_host()},
            require_https=request.is_secure(),
        )
        and referer.path
        else resolve_url("accounts:home")
    )
    return redirect_to_login(next_url, resolve_url("accounts:locked"))
