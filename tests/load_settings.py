"""Settings for `make bench-load`'s gunicorn: production's (ioaccess.settings), with one change.

Each simulated tablet signs in once; with the production hasher (PBKDF2, 1.5 million
iterations: seconds of CPU each on a busy 2-core machine) 150 sign-ins would take the CPU the
taps are measured on. The benchmark's clinicians get MD5 hashes, and MD5 comes first here so
that Django does not upgrade them at sign-in. Nothing else differs.
"""

from django.conf import global_settings

from ioaccess.settings import *  # noqa: F403

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    *global_settings.PASSWORD_HASHERS,
]
