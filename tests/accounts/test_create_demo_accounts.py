import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from accounts.roles import CLINICIAN, CONTENT_EDITOR, SUPERVISOR


def staff_usernames():
    return (
        get_user_model()
        .objects.filter(is_staff=True)
        .values_list("username", flat=True)
    )


@pytest.mark.django_db
def test_demo_accounts_are_refused_when_debug_is_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG is off"):
        call_command("create_demo_accounts")
    assert not get_user_model().objects.filter(username="clinician").exists()


@pytest.mark.django_db
def test_demo_accounts_log_in_with_their_roles_and_a_second_run_loses_nothing(settings):
    settings.DEBUG = True
    staff_before = set(staff_usernames())
    call_command("create_demo_accounts")
    clinician = get_user_model().objects.get(username="clinician")
    clinician.set_password("changed-by-the-user-123")
    clinician.save()
    call_command("create_demo_accounts")

    request = RequestFactory().post("/accounts/login/")
    roles = {
        "supervisor": SUPERVISOR,
        "editor": CONTENT_EDITOR,
        "editor2": CONTENT_EDITOR,
    }
    for username, role in roles.items():
        user = authenticate(request, username=username, password="ioaccess-demo")
        assert user is not None, username
        assert user.has_perm(role.permission)
    assert authenticate(
        request, username="clinician", password="changed-by-the-user-123"
    )
    assert (
        get_user_model()
        .objects.get(username="clinician")
        .has_perm(CLINICIAN.permission)
    )
    assert set(staff_usernames()) - staff_before == {"editor", "editor2"}


@pytest.mark.django_db
def test_demo_clinician_works_at_the_demo_locations(settings):
    from attempts.models import Location

    settings.DEBUG = True
    call_command("create_demo_accounts")
    call_command("create_demo_accounts")
    clinician = get_user_model().objects.get(username="clinician")
    assert set(
        Location.objects.filter(staff=clinician).values_list("name", flat=True)
    ) == {
        "Resus 1",
        "Resus 2",
        "Emergency department",
    }
