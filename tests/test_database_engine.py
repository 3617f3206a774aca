import pytest
from django.db import connection


@pytest.mark.django_db
def test_suite_runs_on_the_engine_make_test_asked_for(expected_vendor):
    if expected_vendor is None:
        pytest.skip(
            "IOACCESS_EXPECT_DB not set: run through `make test` to pin the engine"
        )
    assert connection.vendor == expected_vendor
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db
def test_postgresql_plans_a_repeated_statement_once_per_connection(vendor):
    """A tap's statements are the same text each time: PostgreSQL keeps their plan for the
    connection (prepared on the fifth use) instead of planning them at every request."""
    if vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    for user_id in range(1, 7):
        list(users.filter(pk=user_id))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "auth_user"' in statement for statement in prepared), prepared
