"""Render a page, or only its named partial when htmx asks for it."""

from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.http import push_url


def render_page(request, template_name, context, *, partial, status=200):
    """The whole page, or `template_name#partial` for an htmx request that is not a history restore.

    Adds `Vary: HX-Request` so no cache and no back button ever shows a fragment as a page.
    """
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        template_name = f"{template_name}#{partial}"
    response = render(request, template_name, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    if htmx and request.method == "POST":
        # A boosted form would put the tap's URL in the address bar (htmx 2 ignores
        # hx-push-url="false" on boosted elements); a reload must show the page, not repeat
        # or refuse a tap.
        response = push_url(response, False)
    return response
