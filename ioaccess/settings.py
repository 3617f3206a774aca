"""Settings for ioaccess, read from the environment with safe defaults.

Every variable is listed in `.env.example`. Missing variables fail closed: debug off, secure cookies
and HSTS on, and no secret key means no start.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_list(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random value, "
            "or set DJANGO_DEBUG=1 for local development only."
        )
    SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "ioaccess.apps.IoAccessAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django_htmx",
    "axes",
    "reversion",
    "accounts",
    "checklists",
    "attempts",
    "review",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "ioaccess.middleware.NoStoreMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the CSRF check, the first to read a form's body.
    "ioaccess.middleware.UnreadableFormMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Before the login check, which is the first to read the session from the database.
    "ioaccess.middleware.DatabaseUnavailableMiddleware",
    "ioaccess.middleware.HtmxAwareLoginRequiredMiddleware",
    "ioaccess.middleware.IdleLockMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires, so it sees every login attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ioaccess.urls"
WSGI_APPLICATION = "ioaccess.wsgi.application"

# Widgets render through TEMPLATES, so a project template can correct one of Django's.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
                "checklists.context_processors.content_notice",
                "attempts.context_processors.removal_banner",
                "attempts.tablet_context.tablet_place",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DJANGO_DB_CONN_MAX_AGE", 60),
        # A kept connection that died with a database restart is replaced at the next
        # request, not used for it (which would answer that request 503).
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DJANGO_DB_PREPARED_STATEMENTS", True
):
    # A tap's few statements are the same text every time: bound on the server, each is
    # planned once per kept connection (psycopg prepares it on its fifth use) instead of at
    # every request, where planning cost PostgreSQL more than running them. Set to 0 behind a
    # pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 5}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Two tablets writing at once must wait for each other, not fail with "database is locked".
    # WAL lets the tablets read while the sweeper writes; NORMAL sync is what WAL is designed
    # for (a power cut may lose the last commit, never corrupt the file).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests run on a file, like production, not on shared-cache memory, whose table locks
    # fail at once instead of waiting: concurrent-tablet tests must see real locking.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # HTML that depends on the code alone, such as an unbound form's fields ({% cache %} in the
    # attempt page): drawn once per process. Always in the process, never a shared cache, which
    # would go on serving the previous release's drawing after a deploy.
    "fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "fragments",
        "TIMEOUT": None,
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# A checklist version is saved from one admin page with every item inline (~1,000 fields).
DATA_UPLOAD_MAX_NUMBER_FIELDS = 5000

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out account is refused before its password is checked.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading the permissions with the user (no query per role check).
    "accounts.backends.RoleBackend",
    # After axes' backend, so a PIN is throttled like a password.
    "accounts.backends.PinBackend",
]

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Failed-login throttling (django-axes): lock by username, so that the same number of failures
# locks a real and an unknown username alike and the response tells nothing about which exists.
AXES_FAILURE_LIMIT = env_int("IOACCESS_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("IOACCESS_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
# The cooldown runs from the lockout: retrying during it must not keep a clinician locked out.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.views.login_locked_out"
AXES_VERBOSE = False
# Failed sign-ins are logged with their form data: never a PIN.
AXES_SENSITIVE_PARAMETERS = ["pin", "new_pin", "new_pin_again", "current_password"]
SILENCED_SYSTEM_CHECKS = [
    # axes.W006 asks to lock by IP address too. Ward tablets share one address behind the
    # hospital's NAT: five typos by one nurse would lock every colleague out mid-resuscitation.
    "axes.W006",
]

# Hours before the 24-hour removal deadline that a needle shows as "due soon" and the first
# reminder goes out. The deadline itself is fixed in code (attempts.models.REMOVAL_DEADLINE).
IOACCESS_REMOVAL_WARNING_HOURS = env_int("IOACCESS_REMOVAL_WARNING_HOURS", 4)
# The address people reach the app at, for links in reminder emails.
IOACCESS_SITE_URL = os.environ.get("IOACCESS_SITE_URL", "http://127.0.0.1:8000")
# Seconds between two passes of `send_removal_reminders --loop`.
IOACCESS_REMINDER_INTERVAL_SECONDS = env_int("IOACCESS_REMINDER_INTERVAL_SECONDS", 60)

LANGUAGE_CODE = "en-gb"
USE_I18N = False
FORMAT_MODULE_PATH = ["ioaccess.formats"]
USE_TZ = True
# Stored in UTC; TIME_ZONE is the hospital's zone, used only for display.
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "Europe/London")

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env_bool("IOACCESS_STATIC_FINDERS")
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Tests and `make run` serve static files straight from the finders, without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG or env_bool("IOACCESS_STATIC_FINDERS")
if WHITENOISE_USE_FINDERS and not STATIC_ROOT.is_dir():
    STATIC_ROOT = None

# Security headers. Plain http is only for DEBUG (make run) and the test client / live_server.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe over plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# In the database: one primary-key read per request, and the same session in every gunicorn
# worker. Not signed cookies: logout, the idle lock and the hand-over must end or lock a
# session on the server, and an old cookie replayed would bring back an unlocked session. Not
# cached_db while CACHES is the default per-process LocMem: a worker's cached copy would still
# show a session that another worker logged out or locked (worth it only with a cache the
# workers share, such as Redis).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_SAMESITE = "Lax"
# A shared tablet at the bay: a session ends after a shift, not after weeks. The idle lock saves
# the session as the user taps, which slides the cookie's age: the session's absolute lifetime
# is IOACCESS_SESSION_HOURS, counted from the sign-in (ioaccess.middleware.IdleLockMiddleware).
IOACCESS_SESSION_HOURS = env_int("IOACCESS_SESSION_HOURS", 12)
SESSION_COOKIE_AGE = env_int(
    "DJANGO_SESSION_COOKIE_AGE", IOACCESS_SESSION_HOURS * 60 * 60
)
# Minutes without a tap before the tablet locks to the PIN screen.
IOACCESS_IDLE_LOCK_MINUTES = env_int("IOACCESS_IDLE_LOCK_MINUTES", 10)
# Hours after a sign-in with the password during which the personal PIN may sign in.
IOACCESS_SHIFT_HOURS = env_int("IOACCESS_SHIFT_HOURS", 12)
# Seconds a worker keeps a published checklist's content before reading it again: its items
# never change, but a source corrected in the admin (its key) reaches the bay within this.
IOACCESS_CONTENT_REFRESH_SECONDS = env_int("IOACCESS_CONTENT_REFRESH_SECONDS", 300)
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# Email: SMTP unless debug; the console in development so nothing leaves the machine.
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "ioaccess@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
MAILERS = {
    "default": {
        "BACKEND": os.environ.get(
            "DJANGO_EMAIL_BACKEND",
            "django.core.mail.backends.console.EmailBackend"
            if DEBUG
            else "django.core.mail.backends.smtp.EmailBackend",
        ),
    }
}
if MAILERS["default"]["BACKEND"].endswith("smtp.EmailBackend"):
    MAILERS["default"]["OPTIONS"] = {
        "host": os.environ.get("DJANGO_EMAIL_HOST", "localhost"),
        "port": env_int("DJANGO_EMAIL_PORT", 587),
        "username": os.environ.get("DJANGO_EMAIL_HOST_USER", ""),
        "password": os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("DJANGO_EMAIL_USE_TLS", True),
        "timeout": env_int("DJANGO_EMAIL_TIMEOUT", 10),
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {
        "handlers": ["console"],
        "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO"),
    },
    # axes logs every login at INFO; failures and lockouts still reach WARNING.
    "loggers": {"axes": {"level": "WARNING"}},
}
