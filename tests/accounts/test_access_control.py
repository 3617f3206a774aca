"""Every URL name has a row: who may open it. Anonymous → login, wrong role → 403, right role → 200.

A URL added without a row here fails `test_every_url_name_has_an_access_row`.
"""

from dataclasses import dataclass, field
from urllib.parse import urlparse
from uuid import uuid4

import pytest
import reversion
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.converters import IntConverter
from reversion.models import Version

from accounts.roles import CLINICIAN, CONTENT_EDITOR, SUPERVISOR, group_for
from attempts.models import Attempt
from ioaccess.converters import IdConverter
from tests.factories import (
    ChecklistVersionFactory,
    EpisodeFactory,
    LocationFactory,
    ProcedureFactory,
    SectionFactory,
    SourceFactory,
    UserFactory,
    started_attempt,
)

ANY_SIGNED_IN = "any-signed-in"
SUPERUSER = "superuser"


@dataclass(frozen=True)
class Row:
    """Who gets the page: a role key, ANY_SIGNED_IN, SUPERUSER, or public."""

    allowed: str | tuple | None
    method: str = "get"
    public: bool = False
    ok_status: int = 200
    # What a signed-in staff user of another role gets; non-staff always get 403.
    wrong_staff_status: int = 403
    # Builds URL kwargs and a query string from the test database (objects made by factories).
    make: object = field(default=None, compare=False)
    # POST data, built fresh for each request.
    data: object = field(default=None, compare=False)


def url_patterns():
    """{URL name: its pattern}, for every named pattern."""

    def walk(patterns, namespaces):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                ns = (
                    [*namespaces, pattern.namespace]
                    if pattern.namespace
                    else namespaces
                )
                yield from walk(pattern.url_patterns, ns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield ":".join([*namespaces, pattern.name]), pattern

    return dict(walk(get_resolver().url_patterns, []))


def url_names():
    return sorted(url_patterns())


def attempt_kwargs(**extra):
    """An attempt at a location every clinician of the test works at."""
    location = LocationFactory()
    location.staff.add(
        *get_user_model().objects.filter(groups__name=CLINICIAN.group_name)
    )
    attempt = started_attempt(episode=EpisodeFactory(location=location))
    return {"public_id": attempt.public_id, **extra}, ""


def operator_kwargs():
    """The operator of an attempt, for their procedure log."""
    kwargs, query = attempt_kwargs()
    attempt = Attempt.objects.get(public_id=kwargs["public_id"])
    return {"user_id": attempt.operator_id}, query


def failed_attempt_kwargs():
    """An attempt, as above, recorded as failed: the one Next attempt follows."""
    kwargs, query = attempt_kwargs()
    attempt = Attempt.objects.get(public_id=kwargs["public_id"])
    attempt.record_event(
        kind="outcome_recorded",
        by=attempt.operator,
        client_token=uuid4(),
        data={"outcome": "failed", "reason": "No flow"},
    )
    return kwargs, query


def draft_kwargs(name):
    return {name: ChecklistVersionFactory().pk}, ""


def draft_revision():
    with reversion.create_revision():
        draft = ChecklistVersionFactory()
    version = Version.objects.get_for_object(draft).get()
    return [draft.pk, version.pk], ""


def recover_revision():
    """A revision that exists: editors are refused its recovery, not told it is missing."""
    (_, version_pk), query = draft_revision()
    return [version_pk], query


# Apps whose admin pages belong to content editors; every other admin page is IT's (superuser).
EDITOR_APPS = {"checklists"}

AXES_FIELDS = {
    "user_agent": "test",
    "http_accept": "*/*",
    "path_info": "/accounts/login/",
}

# Objects for admin URLs that take an object id, one builder per registered model.
ADMIN_OBJECTS = {
    "auth.user": lambda: UserFactory(),
    # Made by a data migration, but a test that commits empties the table: make it if missing.
    "auth.group": lambda: group_for(CLINICIAN),
    "attempts.location": lambda: LocationFactory(),
    "checklists.source": lambda: SourceFactory(),
    "checklists.procedure": lambda: ProcedureFactory(),
    "checklists.checklistversion": lambda: ChecklistVersionFactory(),
    "checklists.section": lambda: SectionFactory(),
    "axes.accessattempt": lambda: AccessAttempt.objects.create(
        username=uuid4().hex,
        ip_address="127.0.0.1",
        failures_since_start=1,
        **AXES_FIELDS,
    ),
    "axes.accesslog": lambda: AccessLog.objects.create(
        username="someone", ip_address="127.0.0.1", **AXES_FIELDS
    ),
    "axes.accessfailurelog": lambda: AccessFailureLog.objects.create(
        username="someone", ip_address="127.0.0.1", **AXES_FIELDS
    ),
}


def admin_object(model, kwarg="object_id"):
    label = model._meta.label_lower

    def make():
        assert label in ADMIN_OBJECTS, (
            f"Add an object builder for {label} to ADMIN_OBJECTS"
        )
        obj = ADMIN_OBJECTS[label]()
        return {kwarg: str(obj.pk)}, ""

    return make


def view_on_site():
    draft = ChecklistVersionFactory()
    content_type = ContentType.objects.get_for_model(draft)
    return {"content_type_id": content_type.pk, "object_id": draft.pk}, ""


def autocomplete():
    SourceFactory(key="seed")
    return {}, "app_label=checklists&model_name=step&field_name=sources&term=se"


APP_ROWS = {
    "healthz": Row(allowed=None, public=True),
    "accounts:login": Row(allowed=None, public=True),
    "accounts:logout": Row(allowed=ANY_SIGNED_IN, method="post", ok_status=302),
    "accounts:home": Row(allowed=ANY_SIGNED_IN),
    # Hand-over at a shared tablet (#13). The PIN sign-in is for the next person, so public;
    # the lock screen belongs to a signed-in session and setting a PIN needs the password.
    "accounts:pin": Row(allowed=ANY_SIGNED_IN),
    "accounts:pin-login": Row(allowed=None, public=True),
    "accounts:switch-user": Row(allowed=ANY_SIGNED_IN, method="post", ok_status=302),
    "accounts:locked": Row(allowed=ANY_SIGNED_IN),
    "accounts:still-here": Row(allowed=ANY_SIGNED_IN, method="post", ok_status=204),
    "attempts:home": Row(allowed=CLINICIAN.key),
    "attempts:attempt-start": Row(allowed=CLINICIAN.key),
    # Where the shared tablet stands (#13); its POST is checked in test_tablet_place.py.
    "attempts:tablet": Row(allowed=CLINICIAN.key),
    "attempts:board": Row(allowed=(CLINICIAN.key, SUPERVISOR.key)),
    "attempts:removal-banner": Row(allowed=(CLINICIAN.key, SUPERVISOR.key)),
    "attempts:service-worker": Row(allowed=None, public=True),
    "attempts:attempt-removal": Row(
        allowed=CLINICIAN.key, make=lambda: attempt_kwargs()
    ),
    "attempts:attempt-label": Row(allowed=CLINICIAN.key, make=lambda: attempt_kwargs()),
    "attempts:attempt-transfer": Row(
        allowed=CLINICIAN.key, make=lambda: attempt_kwargs()
    ),
    "attempts:attempt-detail": Row(
        allowed=CLINICIAN.key, make=lambda: attempt_kwargs()
    ),
    # The cards drawn ahead for a network drop (#13): the attempt's record, like its page.
    "attempts:attempt-offline-cards": Row(
        allowed=CLINICIAN.key, make=lambda: attempt_kwargs()
    ),
    "attempts:attempt-summary": Row(
        allowed=CLINICIAN.key, make=lambda: attempt_kwargs()
    ),
    "attempts:attempt-record": Row(
        allowed=CLINICIAN.key,
        method="post",
        ok_status=302,
        make=lambda: attempt_kwargs(action="indication"),
        # A fresh attempt's card: revision 0.
        data=lambda: {"client_token": str(uuid4()), "revision": 0},
    ),
    "attempts:attempt-next": Row(
        allowed=CLINICIAN.key,
        method="post",
        ok_status=302,
        make=failed_attempt_kwargs,
        data=lambda: {"client_token": str(uuid4())},
    ),
    "review:home": Row(allowed=SUPERVISOR.key),
    "review:timeline": Row(allowed=SUPERVISOR.key, make=lambda: attempt_kwargs()),
    "review:sign-off": Row(
        allowed=SUPERVISOR.key,
        method="post",
        ok_status=302,
        # A finished attempt: one in progress cannot be signed off yet.
        make=failed_attempt_kwargs,
        data=lambda: {"token": str(uuid4()), "feedback": "Well done."},
    ),
    "review:audit": Row(allowed=SUPERVISOR.key),
    "review:numbers": Row(allowed=SUPERVISOR.key),
    "review:operators": Row(allowed=SUPERVISOR.key),
    "review:operator-log": Row(allowed=SUPERVISOR.key, make=lambda: operator_kwargs()),
    "review:operator-log-csv": Row(
        allowed=SUPERVISOR.key, make=lambda: operator_kwargs()
    ),
    "review:list-csv": Row(allowed=SUPERVISOR.key),
    "review:events-csv": Row(allowed=SUPERVISOR.key),
    "review:list-fhir": Row(allowed=SUPERVISOR.key),
    "review:attempt-fhir": Row(allowed=SUPERVISOR.key, make=lambda: attempt_kwargs()),
    "checklists:home": Row(allowed=CONTENT_EDITOR.key),
    "checklists:reference": Row(allowed=(CLINICIAN.key, SUPERVISOR.key)),
    "checklists:version-preview": Row(
        allowed=CONTENT_EDITOR.key, make=lambda: draft_kwargs("pk")
    ),
    "checklists:version-diff": Row(
        allowed=CONTENT_EDITOR.key, make=lambda: draft_kwargs("pk")
    ),
}

ADMIN_SITE_ROWS = {
    "admin:index": Row(allowed=CONTENT_EDITOR.key),
    # Our admin login hands over to the one login page; signed in, it goes on to the admin.
    "admin:login": Row(allowed=CONTENT_EDITOR.key, ok_status=302),
    "admin:logout": Row(allowed=CONTENT_EDITOR.key, method="post", ok_status=302),
    "admin:password_change": Row(allowed=CONTENT_EDITOR.key),
    "admin:password_change_done": Row(allowed=CONTENT_EDITOR.key),
    "admin:jsi18n": Row(allowed=CONTENT_EDITOR.key),
    # A staff user with no permission on an app is told the app does not exist.
    "admin:app_list": Row(
        allowed=SUPERUSER,
        wrong_staff_status=404,
        make=lambda: ({"app_label": "auth"}, ""),
    ),
    # A version's "view on site" is its preview.
    "admin:view_on_site": Row(
        allowed=CONTENT_EDITOR.key, ok_status=302, make=lambda: view_on_site()
    ),
    "admin:autocomplete": Row(allowed=CONTENT_EDITOR.key, make=lambda: autocomplete()),
    # The version workflow: POSTs that redirect back to the version with a message.
    **{
        f"admin:checklists_checklistversion_{name}": Row(
            allowed=CONTENT_EDITOR.key,
            method="post",
            ok_status=302,
            make=lambda: draft_kwargs("pk"),
        )
        for name in ("new_draft", "submit", "return_to_draft", "publish")
    },
    # One part of a draft (its sites, its needle sizes …) on a page of its own.
    "admin:checklists_checklistversion_part": Row(
        allowed=CONTENT_EDITOR.key,
        make=lambda: ({"pk": ChecklistVersionFactory().pk, "part": "needle-sizes"}, ""),
    ),
    # Versions are never added from an empty form, so there is nothing deleted to recover.
    "admin:checklists_checklistversion_recoverlist": Row(
        allowed=CONTENT_EDITOR.key, ok_status=403
    ),
    "admin:checklists_checklistversion_recover": Row(
        allowed=CONTENT_EDITOR.key, ok_status=403, make=lambda: recover_revision()
    ),
    "admin:checklists_checklistversion_revision": Row(
        allowed=CONTENT_EDITOR.key, make=lambda: draft_revision()
    ),
}

# What a content editor may do with each content model in the admin (their group's permissions).
EDITOR_ADMIN_STATUS = {
    "checklists.source": {"delete": 403},
    "checklists.procedure": {"add": 403, "delete": 403},
    "checklists.checklistversion": {"add": 403},
}


class SuperuserRequest:
    """Enough of a request for ModelAdmin.has_add_permission, which only asks the user."""

    class user:
        is_active = is_staff = is_superuser = True

        @staticmethod
        def has_perm(perm, obj=None):
            return True


def admin_model_rows():
    """Rows for every registered ModelAdmin: content models for editors, the rest for IT."""
    rows = {}
    for model in admin.site._registry:
        opts = model._meta
        allowed = CONTENT_EDITOR.key if opts.app_label in EDITOR_APPS else SUPERUSER
        prefix = f"admin:{opts.app_label}_{opts.model_name}"
        refused = EDITOR_ADMIN_STATUS.get(opts.label_lower, {})
        rows[f"{prefix}_changelist"] = Row(allowed=allowed)
        # Read-only admins (axes' logs, recorded events) refuse adding even to the right role.
        can_add = admin.site._registry[model].has_add_permission(SuperuserRequest())
        rows[f"{prefix}_add"] = Row(
            allowed=allowed, ok_status=refused.get("add", 200 if can_add else 403)
        )
        actions = ["change", "history", "delete"]
        if opts.label_lower == "auth.user":
            actions.append("password_change")
        for action in actions:
            rows[f"{prefix}_{action}"] = Row(
                allowed=allowed,
                ok_status=refused.get(action, 200),
                make=admin_object(
                    model, "id" if action == "password_change" else "object_id"
                ),
            )
    return rows


ROWS = {**APP_ROWS, **ADMIN_SITE_ROWS, **admin_model_rows()}
NAMES = url_names()
PROTECTED = [name for name in NAMES if name in ROWS and not ROWS[name].public]


def test_every_url_name_has_an_access_row():
    missing = [name for name in NAMES if name not in ROWS]
    assert missing == [], f"Add an access row for: {missing}"


def build_url(name):
    row = ROWS[name]
    kwargs, query = row.make() if row.make else ({}, "")
    # Some third-party URL patterns take positional arguments.
    url = (
        reverse(name, args=kwargs)
        if isinstance(kwargs, list)
        else reverse(name, kwargs=kwargs)
    )
    return f"{url}?{query}" if query else url


def send(client, name, **headers):
    row = ROWS[name]
    data = row.data() if row.data else None
    return getattr(client, row.method)(build_url(name), data, headers=headers)


@pytest.mark.django_db
@pytest.mark.parametrize("name", PROTECTED)
def test_anonymous_is_sent_to_login(client, name):
    response = send(client, name)
    assert response.status_code == 302
    target = urlparse(response["Location"]).path
    assert resolve(target).view_name in {"accounts:login", "admin:login"}


@pytest.mark.django_db
@pytest.mark.parametrize("name", PROTECTED)
def test_anonymous_htmx_request_gets_hx_redirect_not_a_login_page(client, name):
    response = send(
        client, name, HX_Request="true", HX_Current_URL="http://testserver/bay/"
    )
    assert response.status_code == 200
    target = urlparse(response["HX-Redirect"]).path
    assert resolve(target).view_name in {"accounts:login", "admin:login"}
    assert b"<form" not in response.content


def allowed_keys(row):
    return row.allowed if isinstance(row.allowed, tuple) else (row.allowed,)


def wrong_users(row, role_users):
    if row.allowed == ANY_SIGNED_IN:
        return []
    return [
        user
        for key, user in role_users.items()
        if key not in {*allowed_keys(row), SUPERUSER}
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PROTECTED)
def test_wrong_role_gets_403(client, role_users, name):
    row = ROWS[name]
    for user in wrong_users(row, role_users):
        client.force_login(user)
        response = send(client, name)
        expected = row.wrong_staff_status if user.is_staff else 403
        assert response.status_code == expected, (name, user.username)
        if expected == 403:
            assert b"Not allowed" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("name", PROTECTED)
def test_right_role_is_allowed(client, role_users, user_without_role, name):
    row = ROWS[name]
    if row.allowed == ANY_SIGNED_IN:
        users = [user_without_role]
    else:
        users = [role_users[key] for key in allowed_keys(row)]
    for user in users:
        client.force_login(user)
        response = send(client, name)
        assert response.status_code == row.ok_status, (name, user.username)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", [name for name in NAMES if ROWS.get(name, Row(None)).public]
)
def test_public_url_needs_no_login(client, name):
    response = send(client, name)
    assert response.status_code == 200


@pytest.mark.django_db
def test_403_page_names_the_role_needed_and_links_home(client, clinician):
    client.force_login(clinician)
    response = client.get(reverse("review:home"))
    assert response.status_code == 403
    assert "This page is for the <strong>Supervisor</strong> role" in response.text
    assert f'href="{reverse("accounts:home")}"' in response.text


PATTERNS = url_patterns()
ID_NAMES = sorted(
    name
    for name, pattern in PATTERNS.items()
    if any(isinstance(c, IdConverter) for c in pattern.pattern.converters.values())
)


def test_no_url_takes_an_id_the_database_cannot_hold():
    unbounded = [
        name
        for name, pattern in PATTERNS.items()
        if any(isinstance(c, IntConverter) for c in pattern.pattern.converters.values())
    ]
    assert unbounded == [], (
        f"Use <id:…> (ioaccess.converters), not <int:…>: {unbounded}"
    )
    assert {"review:operator-log", "checklists:version-preview"} <= set(ID_NAMES)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ID_NAMES)
def test_an_id_too_long_for_the_database_is_404_for_the_right_role(
    client, role_users, name
):
    row = ROWS[name]
    kwargs, query = row.make() if row.make else ({}, "")
    ids = {
        key
        for key, converter in PATTERNS[name].pattern.converters.items()
        if isinstance(converter, IdConverter)
    }
    # Reversed with a marker in place of each id, then the marker replaced: reverse()
    # itself refuses a number the pattern does not match.
    marker = 987654321987
    url = reverse(name, kwargs={**kwargs, **dict.fromkeys(ids, marker)})
    url = url.replace(str(marker), "9" * 20)
    client.force_login(role_users[allowed_keys(row)[0]])
    data = row.data() if row.data else None
    response = getattr(client, row.method)(
        f"{url}?{query}" if query else url, data, follow=True
    )
    if name.startswith("admin:"):
        # Not our pattern, so the admin's own for an object: it says none has that id.
        assert response.redirect_chain
        assert response.status_code == 200
        assert "doesn\u2019t exist" in response.text
    else:
        assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("object_id", ["1", "0", "x"])
def test_view_on_site_of_the_role_permissions_is_404_not_a_database_error(
    client, editor, object_id
):
    """The admin reaches a model through its content type, the role permissions' too."""
    content_type = ContentType.objects.get_by_natural_key("accounts", "roleaccess")
    client.force_login(editor)
    url = reverse("admin:view_on_site", args=[content_type.pk, object_id])
    assert client.get(url).status_code == 404
