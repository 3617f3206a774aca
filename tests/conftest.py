import os
from importlib import import_module
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes
from django.core.management import call_command
from django.db import connection

from accounts.roles import CLINICIAN, CONTENT_EDITOR, SUPERVISOR
from attempts.stages import (
    _frozen_troubleshooting,
    _frozen_version_content,
    _frozen_version_ids,
)
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


def put_back_starting_rows():
    """The rows every test starts from: migrated data and the reference checklist; idempotent."""
    put_back_migrated_data()
    call_command("load_io_checklist", verbosity=0, stdout=StringIO())


# The session's database blocker and test database name, for the teardown hook below.
TEST_DATABASE = pytest.StashKey()


@pytest.fixture(scope="session")
def django_db_setup(request, django_db_setup, django_db_blocker):
    """Each worker's test database starts with migrated data and the reference checklist.

    The reference checklist (~80 rows, loaded as `make run` loads it) goes in once per
    database instead of once per test: reference_version() then only finds it. A database
    kept with --reuse-db may have been emptied by a committing test of the last run.
    """
    request.config.stash[TEST_DATABASE] = (
        django_db_blocker,
        connection.settings_dict["NAME"],
    )
    with django_db_blocker.unblock():
        put_back_starting_rows()


def database_use(item):
    """How a test uses the database: None, "rollback" or "commit" (pytest-django's rule)."""
    marker = item.get_closest_marker("django_db")
    names = set(item.fixturenames)
    marked_to_commit = marker is not None and any(
        marker.kwargs.get(key) for key in ("transaction", "reset_sequences")
    )
    if marked_to_commit or names & {"transactional_db", "live_server"}:
        return "commit"
    if marker or "db" in names:
        return "rollback"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Before a rolled-back test that follows one that committed, put the starting rows back.

    A committing test empties every table. pytest-django runs those tests last, but a plugin
    that reorders tests must not leave the tests after them without role grants or the
    reference checklist. (Committing tests put back what they need: migrated_data,
    reference_version().)
    """
    result = yield
    blocker, test_name = item.config.stash.get(TEST_DATABASE, (None, None))
    # With no next test the test databases are gone: never write to the real one.
    if (
        blocker is not None
        and nextitem is not None
        and database_use(item) == "commit"
        and database_use(nextitem) == "rollback"
        and connection.settings_dict["NAME"] == test_name
    ):
        with blocker.unblock():
            put_back_starting_rows()
            # Leave no connection open: PostgreSQL refuses to drop a test database in use.
            connection.close()
    return result


@pytest.fixture(autouse=True)
def fresh_content_cache():
    """Each test starts with no published content cached (ids repeat between tests)."""
    forget_content()
    yield
    forget_content()


def forget_content():
    _frozen_version_content.cache_clear()
    _frozen_troubleshooting.cache_clear()
    _frozen_version_ids.clear()


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
