"""Test settings: the sandbox store, on PostgreSQL unless DATABASE_URL says otherwise."""

import os
import tempfile

import dj_database_url

from sandbox.settings import *  # noqa: F403

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/oscar_loyalty")
    )
}
# The Redis the Celery integration tests talk to; everything else runs eagerly.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"

HAYSTACK_CONNECTIONS["default"]["PATH"] = tempfile.mkdtemp(prefix="oscar-loyalty-whoosh-")  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEBUG = False
