"""Production settings: `check --deploy` is clean, and a missing secret key stops the app."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "prod-like-" + "k3y-with-enough-entropy-" * 3,
    "DJANGO_ALLOWED_HOSTS": "ioaccess.hospital.example",
    "DATABASE_URL": "sqlite:///:memory:",
}


def manage(*args, env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "IOACCESS_"))
    }
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_deploy_check_is_clean_with_production_like_variables():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_app_refuses_to_start_without_a_secret_key_when_debug_is_off():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_is_off_unless_asked_for():
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.DEBUG)",
        env=PRODUCTION_ENV,
    )
    assert result.stdout.strip() == "False", result.stderr


def test_production_defaults_are_secure():
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS > 0, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE,"
        " s.MAILERS['default']['BACKEND'])"
    )
    result = manage("shell", "--no-imports", "-c", code, env=PRODUCTION_ENV)
    assert result.stdout.split() == [
        "True",
        "True",
        "True",
        "True",
        "True",
        "Lax",
        "django.core.mail.backends.smtp.EmailBackend",
    ], result.stderr


def test_prepared_statements_can_be_turned_off_for_a_pooler():
    """PgBouncer in transaction mode (before 1.21) cannot keep prepared statements."""
    code = (
        "from django.conf import settings; "
        "options = settings.DATABASES['default']['OPTIONS']; "
        "print(options.get('server_side_binding'), options.get('prepare_threshold'))"
    )
    postgres = {**PRODUCTION_ENV, "DATABASE_URL": "postgres://io@db.example/io"}
    default = manage("shell", "--no-imports", "-c", code, env=postgres)
    assert default.stdout.split() == ["True", "5"], default.stderr
    off = manage(
        "shell",
        "--no-imports",
        "-c",
        code,
        env={**postgres, "DJANGO_DB_PREPARED_STATEMENTS": "0"},
    )
    assert off.stdout.split() == ["None", "None"], off.stderr
