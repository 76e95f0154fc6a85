"""A demo Oscar store with oscar_loyalty installed.

SQLite and eager Celery by default, so it needs no services. Set
``DATABASE_URL`` (e.g. ``postgres://postgres@127.0.0.1:5432/sandbox``) and
``CELERY_BROKER_URL`` (e.g. ``redis://127.0.0.1:6379/0``) to use real ones.
"""

import os
import warnings
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _
from oscar import INSTALLED_APPS as OSCAR_APPS
from oscar.defaults import *  # noqa: F403

from oscar_loyalty.api import LOYALTY_API_APPS
from oscar_loyalty.dashboard.navigation import LOYALTY_NAVIGATION
from oscar_loyalty.schedule import BEAT_SCHEDULE as LOYALTY_BEAT_SCHEDULE

BASE_DIR = Path(__file__).resolve().parent

DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "sandbox-only-not-a-secret")
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    # Before Oscar's apps, so that its template additions (the Rewards tab) apply.
    "oscar_loyalty",
    "oscar_loyalty.dashboard",
    *OSCAR_APPS,
    "sorl.thumbnail",
    "allauth",
    "allauth.account",
    "sandbox.demo",
    *LOYALTY_API_APPS,
]
SITE_ID = 1

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "oscar_loyalty.middleware.BasketCheckMiddleware",
    "oscar_loyalty.middleware.CouponLimitMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
]

ROOT_URLCONF = "sandbox.urls"

# One process (runserver): Django's per-process cache is enough for the limit on
# guessing coupon codes. A store with several processes needs a shared cache.
SILENCED_SYSTEM_CHECKS = ["oscar_loyalty.W101"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oscar.apps.search.context_processors.search_form",
                "oscar.apps.checkout.context_processors.checkout",
                "oscar.apps.communication.notifications.context_processors.notifications",
                "oscar.core.context_processors.metadata",
            ],
        },
    },
]

AUTHENTICATION_BACKENDS = [
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/accounts/"

# Sign-up and login by django-allauth, by email; oscar_loyalty's form asks for
# marketing consent and records referrals.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SIGNUP_FORM_CLASS = "oscar_loyalty.forms.SignupForm"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
# After signing up or in, the customer stays in the language they used.
ACCOUNT_ADAPTER = "oscar_loyalty.accounts.AccountAdapter"

# Oscar browses its catalogue through Haystack: Whoosh needs no search server.
HAYSTACK_CONNECTIONS = {
    "default": {
        "ENGINE": "haystack.backends.whoosh_backend.WhooshEngine",
        "PATH": os.environ.get("WHOOSH_PATH", str(BASE_DIR / "whoosh_index")),
    }
}
HAYSTACK_SIGNAL_PROCESSOR = "haystack.signals.RealtimeSignalProcessor"
# Whoosh's regular expressions are older than Python 3.12's warnings about them,
# and it cannot facet by query (Oscar's price ranges): it says so on every search.
warnings.filterwarnings("ignore", category=SyntaxWarning, module="whoosh")
warnings.filterwarnings("ignore", message="Whoosh does not handle query faceting")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# Celery: eager (in-process) unless a broker is named.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_TIMEZONE = TIME_ZONE
# The plugin's periodic jobs; LOYALTY_BEAT_SECONDS runs both every N seconds instead.
if os.environ.get("LOYALTY_BEAT_SECONDS"):
    CELERY_BEAT_SCHEDULE = {
        name: {**entry, "schedule": float(os.environ["LOYALTY_BEAT_SECONDS"])}
        for name, entry in LOYALTY_BEAT_SCHEDULE.items()
    }
else:
    CELERY_BEAT_SCHEDULE = LOYALTY_BEAT_SCHEDULE

# Oscar
OSCAR_DASHBOARD_NAVIGATION = [*OSCAR_DASHBOARD_NAVIGATION, *LOYALTY_NAVIGATION]  # noqa: F405
OSCAR_SHOP_NAME = "Loyalty sandbox"
OSCAR_DEFAULT_CURRENCY = "USD"
OSCAR_ALLOW_ANON_CHECKOUT = True
OSCAR_INITIAL_ORDER_STATUS = "Pending"
OSCAR_INITIAL_LINE_STATUS = "Pending"
OSCAR_ORDER_STATUS_PIPELINE = {
    "Pending": ("Being processed", "Cancelled"),
    "Being processed": ("Complete", "Cancelled"),
    "Complete": ("Cancelled",),
    "Cancelled": (),
}
OSCAR_LINE_STATUS_PIPELINE = {
    "Pending": ("Being processed", "Shipped", "Cancelled", "Refunded"),
    "Being processed": ("Shipped", "Cancelled", "Refunded"),
    "Shipped": ("Returned", "Refunded"),
    "Returned": ("Refunded",),
    "Refunded": (),
    "Cancelled": (),
}
