import time
from urllib.parse import parse_qs, urlencode, urlparse

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import lock, tablet
from accounts.backends import pin_allowed
from accounts.forms import PinSetForm, PinSignInForm, UnlockForm
from accounts.roles import roles_of

LOCKED_OUT_MESSAGE = (
    "Too many failed sign-ins. This account is locked for {minutes} minutes. "
    "Wait, then try again, or ask the nurse in charge to sign in."
)
TAP_NOT_SAVED_MESSAGE = (
    "Your last tap was NOT saved: the tablet was locked. Tap it again."
)


@require_GET
def home(request):
    """After login: straight to the role's home, or a choice when the user holds several."""
    roles = roles_of(request.user)
    if len(roles) == 1:
        return redirect(roles[0].home_url_name)
    return render(request, "accounts/home.html", {"roles": roles})


def login_locked_out(request, original_response=None, credentials=None):
    """django-axes lockout response: the page signed in from again, with the cooldown in words.

    The same page for a real and an unknown username, so it tells nothing about which exists.
    """
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = LOCKED_OUT_MESSAGE.format(minutes=minutes)
    page = getattr(request.resolver_match, "view_name", None)
    if page == "accounts:pin-login":
        form = PinSignInForm(request=request)
        return render_pin_login(request, form, message, status=429)
    if page == "accounts:locked":
        form = UnlockForm(request=request, use_pin=pin_allowed(request, request.user))
        return render_locked(request, form, message, status=429)
    if page == "accounts:pin":
        return render_pin_set(request, PinSetForm(request=request), message, status=429)
    context = {
        "form": AuthenticationForm(request),
        "locked_out_message": message,
        "next": request.POST.get("next", ""),
    }
    return render(request, "registration/login.html", context, status=429)


def safe_next(request):
    """The `next` page from the form or the query, when it is one of ours; else ""."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return next_url if allowed else ""


def behind_the_lock(next_url):
    """The page a lock screen URL stands in front of, or `next_url` itself."""
    parsed = urlparse(next_url)
    try:
        page = resolve(parsed.path).view_name
    except Resolver404:
        return next_url
    if page == "accounts:locked":
        return parse_qs(parsed.query).get("next", [""])[0]
    return next_url


def with_next(url_name, next_url):
    url = reverse(url_name)
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


@require_http_methods(["GET", "POST"])
def pin_set(request):
    """Set or change one's personal PIN (with the password)."""
    form = PinSetForm(
        request.POST if request.method == "POST" else None, request=request
    )
    if request.method == "POST":
        if not form.is_valid():
            return render_pin_set(request, form, status=422)
        form.save()
        messages.success(request, "Your PIN is set.")
        return redirect("accounts:home")
    return render_pin_set(request, form)


def render_pin_set(request, form, locked_out_message="", status=200):
    context = {"form": form, "locked_out_message": locked_out_message}
    return render(request, "accounts/pin_set.html", context, status=status)


@login_not_required
@require_http_methods(["GET", "POST"])
def pin_login(request):
    """Sign-in for the next clinician on a tablet at a bay: username and PIN."""
    next_url = safe_next(request)
    if request.user.is_authenticated:
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    if tablet.placed_at(request) is None and request.method == "GET":
        # Any other browser: the PIN is not accepted here; the password is.
        context = {"form": AuthenticationForm(request), "next": next_url}
        return render(request, "registration/login.html", context)
    form = PinSignInForm(
        request.POST if request.method == "POST" else None, request=request
    )
    if request.method == "POST":
        if not form.is_valid():
            return render_pin_login(request, form, status=422)
        login(request, form.user)
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    return render_pin_login(request, form)


def render_pin_login(request, form, locked_out_message="", status=200):
    next_url = safe_next(request)
    context = {
        "form": form,
        "next": next_url,
        "password_url": with_next("accounts:login", next_url),
        "locked_out_message": locked_out_message,
    }
    return render(request, "accounts/pin_login.html", context, status=status)


@require_POST
def switch_user(request):
    """Hand the tablet over: sign the current user out and ask the next one in.

    The tablet's place is its own cookie and stays; the next user comes back to the same page.
    """
    next_url = behind_the_lock(safe_next(request))
    logout(request)
    return redirect(with_next("accounts:pin-login", next_url))


@require_POST
def still_here(request):
    """Typing counts as activity: the page's timer (static/js/lock.js) says so now and then,
    so a long note or an admin form is not locked away while it is being written. Answered
    after the idle-lock middleware has counted it."""
    return HttpResponse(status=204)


@require_http_methods(["GET", "POST"])
def locked(request):
    """The lock screen: nothing about the patient; the same user's PIN (or password) unlocks it."""
    lock.lock(request.session)
    form = UnlockForm(
        request.POST if request.method == "POST" else None,
        request=request,
        use_pin=pin_allowed(request, request.user),
    )
    if request.method == "POST":
        if not form.is_valid():
            return render_locked(request, form, status=422)
        login(request, form.user)
        if lock.unlock(request.session, now=time.time()) == "lost":
            messages.warning(request, TAP_NOT_SAVED_MESSAGE)
        return redirect(safe_next(request) or settings.LOGIN_REDIRECT_URL)
    return render_locked(request, form)


def render_locked(request, form, locked_out_message="", status=200):
    context = {
        "form": form,
        "next": safe_next(request),
        "tap_not_saved": request.session.get(lock.TAP_NOT_SAVED),
        "locked_out_message": locked_out_message,
        "shift_hours": settings.IOACCESS_SHIFT_HOURS,
    }
    return render(request, "accounts/locked.html", context, status=status)
