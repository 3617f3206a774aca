"""Factories: valid objects by default, one factory per role."""

import factory
from django.contrib.auth import get_user_model

from accounts.roles import CLINICIAN, CONTENT_EDITOR, SUPERVISOR, group_for

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@hospital.example")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or ():
            self.groups.add(group_for(role))


class ClinicianFactory(UserFactory):
    username = factory.Sequence(lambda n: f"clinician{n}")
    roles = factory.PostGeneration(
        lambda user, create, extracted, **kw: user.groups.add(group_for(CLINICIAN))
    )


class SupervisorFactory(UserFactory):
    username = factory.Sequence(lambda n: f"supervisor{n}")
    roles = factory.PostGeneration(
        lambda user, create, extracted, **kw: user.groups.add(group_for(SUPERVISOR))
    )


class ContentEditorFactory(UserFactory):
    username = factory.Sequence(lambda n: f"editor{n}")
    is_staff = True
    roles = factory.PostGeneration(
        lambda user, create, extracted, **kw: user.groups.add(group_for(CONTENT_EDITOR))
    )


class SuperuserFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True
