"""The strict Content-Security-Policy header is on every kind of page."""

import re

import pytest
from django.urls import reverse

EXPECTED = [
    "default-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "style-src 'self'",
]


def assert_strict_csp(response):
    header = response["Content-Security-Policy"]
    for directive in EXPECTED:
        assert directive in header, (directive, header)
    script = next(part.strip() for part in header.split(";") if "script-src" in part)
    # Django adds the nonce only to pages that use it (those with a script tag).
    assert re.fullmatch(r"script-src 'self'( 'nonce-[^']+')?", script), script
    assert "unsafe" not in header


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "url_name", "status"),
    [
        (None, "accounts:login", 200),
        ("clinician", "attempts:home", 200),
        ("supervisor", "review:home", 200),
        ("editor", "checklists:home", 200),
        ("editor", "admin:index", 200),
        ("clinician", "review:home", 403),
        ("clinician", "accounts:home", 302),
    ],
)
def test_every_kind_of_page_carries_the_strict_csp(
    client, request, who, url_name, status
):
    if who:
        client.force_login(request.getfixturevalue(who))
    response = client.get(reverse(url_name))
    assert response.status_code == status
    assert_strict_csp(response)


@pytest.mark.django_db
def test_htmx_script_tag_carries_the_pages_nonce(client, clinician):
    client.force_login(clinician)
    response = client.get(reverse("attempts:home"))
    nonce = response["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in response.text
    assert "htmx" in response.text
