"""Roles are read with the user at each request: no query of their own, never out of date."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.backends import BACKEND_PATH, _permission_names, user_with_permissions
from accounts.roles import CLINICIAN, group_for
from attempts.models import Attempt
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HOME = reverse("attempts:home")


def permission_reads(queries):
    """Queries that read permissions apart from the user's own row."""
    return [
        q["sql"]
        for q in queries
        if "auth_permission" in q["sql"] and 'FROM "auth_user"' not in q["sql"]
    ]


@pytest.mark.parametrize("backend", [None, BACKEND_PATH], ids=["password", "pin"])
def test_clinician_page_reads_no_permissions_apart_from_the_user(
    client, clinician, backend
):
    client.force_login(clinician, backend=backend)
    # The permissions' names are read on the process's first sign-in check.
    assert client.get(HOME).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(HOME).status_code == 200
    assert any('FROM "auth_user"' in q["sql"] for q in queries.captured_queries)
    assert permission_reads(queries.captured_queries) == []


@pytest.mark.parametrize("backend", [None, BACKEND_PATH], ids=["password", "pin"])
def test_clinician_taken_out_of_the_group_is_refused_at_the_next_request(
    client, clinician, backend
):
    client.force_login(clinician, backend=backend)
    assert client.get(HOME).status_code == 200
    clinician.groups.remove(group_for(CLINICIAN))
    assert client.get(HOME).status_code == 403


def test_user_put_in_the_group_is_let_in_at_the_next_request(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get(HOME).status_code == 403
    user.groups.add(group_for(CLINICIAN))
    assert client.get(HOME).status_code == 200


def test_permission_taken_from_the_group_is_refused_at_the_next_request(
    client, clinician
):
    client.force_login(clinician)
    assert client.get(HOME).status_code == 200
    app_label, codename = CLINICIAN.permission.split(".")
    permission = Permission.objects.get(
        content_type__app_label=app_label, codename=codename
    )
    group_for(CLINICIAN).permissions.remove(permission)
    try:
        assert client.get(HOME).status_code == 403
    finally:
        group_for(CLINICIAN).permissions.add(permission)


def test_permission_granted_to_the_user_alone_counts(client):
    user = UserFactory()
    app_label, codename = CLINICIAN.permission.split(".")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )
    client.force_login(user)
    assert client.get(HOME).status_code == 200


def test_inactive_user_is_signed_out(client, clinician):
    client.force_login(clinician)
    clinician.is_active = False
    clinician.save(update_fields=["is_active"])
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_session_of_a_deleted_user_reads_no_user(client, clinician):
    client.force_login(clinician)
    clinician.delete()
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_two_users_read_each_their_own_roles(client, clinician):
    other = UserFactory()
    client.force_login(other)
    assert client.get(HOME).status_code == 403
    client.force_login(clinician)
    assert client.get(HOME).status_code == 200


def test_a_permission_made_after_the_names_were_read_counts(client, clinician):
    client.force_login(clinician)
    assert client.get(HOME).status_code == 200
    made = Permission.objects.create(
        content_type=ContentType.objects.get_for_model(Attempt),
        codename="view_attempt_for_audit_test",
        name="Can view attempts for an audit (test)",
    )
    clinician.user_permissions.add(made)
    try:
        user = user_with_permissions(clinician.pk)
        assert user.has_perm("attempts.view_attempt_for_audit_test")
        assert user.has_perm(CLINICIAN.permission)
    finally:
        # Rolled back with the test, its id may be made again by another (SQLite).
        _permission_names.pop(made.pk, None)
