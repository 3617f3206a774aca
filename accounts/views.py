from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts.roles import roles_of

LOCKED_OUT_MESSAGE = (
    "Too many failed sign-ins. This account is locked for {minutes} minutes. "
    "Wait, then try again, or ask the nurse in charge to sign in."
)


@require_GET
def home(request):
    """After login: straight to the role's home, or a choice when the user holds several."""
    roles = roles_of(request.user)
    if len(roles) == 1:
        return redirect(roles[0].home_url_name)
    return render(request, "accounts/home.html", {"roles": roles})


def login_locked_out(request, original_response=None, credentials=None):
    """django-axes lockout response: the login page again, with the cooldown in words.

    The same page for a real and an unknown username, so it tells nothing about which exists.
    """
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        "form": AuthenticationForm(request),
        "locked_out_message": LOCKED_OUT_MESSAGE.format(minutes=minutes),
        "next": request.POST.get("next", ""),
    }
    return render(request, "registration/login.html", context, status=429)
