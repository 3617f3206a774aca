import pytest
from django.urls import reverse

from accounts.roles import CLINICIAN, CONTENT_EDITOR, SUPERVISOR
from tests.factories import UserFactory


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "home"),
    [
        ("clinician", "attempts:home"),
        ("supervisor", "review:home"),
        ("editor", "checklists:home"),
    ],
)
def test_each_role_lands_on_its_own_home(client, request, who, home):
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse("accounts:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse(home)


@pytest.mark.django_db
def test_user_with_several_roles_chooses(client):
    user = UserFactory(roles=[CLINICIAN, SUPERVISOR])
    client.force_login(user)
    response = client.get(reverse("accounts:home"))
    assert response.status_code == 200
    assert "Choose your role" in response.text
    assert f'href="{reverse("attempts:home")}"' in response.text
    assert f'href="{reverse("review:home")}"' in response.text
    assert f'href="{reverse("checklists:home")}"' not in response.text


@pytest.mark.django_db
def test_user_without_a_role_is_told_whom_to_ask(client, user_without_role):
    client.force_login(user_without_role)
    response = client.get(reverse("accounts:home"))
    assert "Your account has no role" in response.text


@pytest.mark.django_db
def test_header_shows_the_user_the_role_and_a_logout_button(client, clinician):
    client.force_login(clinician)
    response = client.get(reverse("attempts:home"))
    assert clinician.get_full_name() in response.text
    assert '<span class="role-badge">Clinician</span>' in response.text
    assert f'action="{reverse("accounts:logout")}"' in response.text


@pytest.mark.django_db
def test_logout_is_post_only(client, clinician):
    client.force_login(clinician)
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert client.get(reverse("attempts:home")).status_code == 302


@pytest.mark.django_db
def test_only_content_editors_are_admin_staff(client, editor):
    user = UserFactory(is_staff=True, roles=[SUPERVISOR])
    client.force_login(user)
    assert client.get(reverse("admin:index")).status_code == 403
    client.force_login(editor)
    assert client.get(reverse("admin:index")).status_code == 200
    assert CONTENT_EDITOR.permission == "accounts.edit_content"
