"""Render a page, or only its named partial when htmx asks for it."""

from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def render_page(request, template_name, context, *, partial, status=200):
    """The whole page, or `template_name#partial` for an htmx request that is not a history restore.

    Adds `Vary: HX-Request` so no cache and no back button ever shows a fragment as a page.
    """
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        template_name = f"{template_name}#{partial}"
    response = render(request, template_name, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response
