import os
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes
from django.core.management import call_command
from django.db import connection

from accounts.roles import CLINICIAN, CONTENT_EDITOR, SUPERVISOR
from attempts.stages import _frozen_version_content
from tests.factories import (
    ClinicianFactory,
    ContentEditorFactory,
    SuperuserFactory,
    SupervisorFactory,
    UserFactory,
)

# Playwright's sync API runs an event loop in the test thread; Django would refuse ORM calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def put_back_migrated_data():
    """Recreate the rows the data migrations made (role groups, editors' grants); idempotent.

    A test that commits (live server, threads) empties every table afterwards; Django recreates
    content types and permissions, but not these.
    """
    for config in apps.get_app_configs():
        create_contenttypes(config, verbosity=0)
        create_permissions(config, verbosity=0)
    import_module("accounts.migrations.0002_role_groups").create_role_groups(apps, None)
    import_module("checklists.migrations.0002_content_editor_permissions").grant(
        apps, None
    )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Each worker's test database starts with migrated data and the reference checklist.

    The reference checklist (~80 rows, loaded as `make run` loads it) goes in once per
    database instead of once per test: reference_version() then only finds it. Tests that
    commit empty every table afterwards; reference_version() loads it again (the loader is
    idempotent). A database kept with --reuse-db may have been emptied that way: put back
    the migrated data too.
    """
    with django_db_blocker.unblock():
        put_back_migrated_data()
        call_command("load_io_checklist", verbosity=0)


@pytest.fixture(autouse=True)
def fresh_content_cache():
    """Each test starts with no published content cached (ids repeat between tests)."""
    _frozen_version_content.cache_clear()
    yield
    _frozen_version_content.cache_clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Tests make many users; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def migrated_data(transactional_db):
    """Put back the rows the data migrations made, for tests that commit (live server, threads)."""
    put_back_migrated_data()


@pytest.fixture
def clinician(db):
    return ClinicianFactory()


@pytest.fixture
def supervisor(db):
    return SupervisorFactory()


@pytest.fixture
def editor(db):
    return ContentEditorFactory()


@pytest.fixture
def superuser(db):
    return SuperuserFactory()


@pytest.fixture
def user_without_role(db):
    return UserFactory()


@pytest.fixture
def role_users(clinician, supervisor, editor, superuser):
    """One user per role key, plus the superuser (IT)."""
    return {
        CLINICIAN.key: clinician,
        SUPERVISOR.key: supervisor,
        CONTENT_EDITOR.key: editor,
        "superuser": superuser,
    }


@pytest.fixture
def expected_vendor():
    """The database engine `make test` meant this leg to run on."""
    return os.environ.get("IOACCESS_EXPECT_DB")


@pytest.fixture
def vendor():
    return connection.vendor
