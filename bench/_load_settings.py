"""The sandbox's settings as ``bench/load.py`` serves them with gunicorn.

Everything comes from ``sandbox.settings`` (PostgreSQL from ``DATABASE_URL``,
the broker from ``CELERY_BROKER_URL``); only what a served store differs in,
or what would add noise to both runs alike, changes here:

* ``LOYALTY_HOOKS=0`` in the environment sets ``OSCAR_LOYALTY_HOOKS = False``:
  the same store with the plugin's hooks off, the benchmark's baseline;
* no DEBUG (Django would keep every query in memory, and a store does not run so);
* the cache, which the coupon guessing limit counts in, is Redis (``REDIS_URL``),
  shared by the gunicorn workers as a store with several processes needs it;
* the Celery tasks go to a queue of their own, ``bench-load``, so a test's
  worker on the same Redis database never takes them (nor the bench's worker a test's);
* emails (Oscar's order confirmation) go nowhere: the sandbox prints them;
* allauth's limits on logins per address are off: every simulated customer
  comes from 127.0.0.1, which no store sees from real customers;
* passwords are hashed with a fast hasher: each simulated customer logs in once,
  and a real hasher's half-second of CPU per login would only add noise to
  both runs; logging in is not a step that is measured.
"""

import os

from sandbox.settings import *  # noqa: F403

DEBUG = False
OSCAR_LOYALTY_HOOKS = os.environ.get("LOYALTY_HOOKS", "1") == "1"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "KEY_PREFIX": "bench-load",
    }
}
SILENCED_SYSTEM_CHECKS = []
CELERY_TASK_DEFAULT_QUEUE = "bench-load"
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
ACCOUNT_RATE_LIMITS = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
