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
