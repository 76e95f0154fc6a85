"""A new Oscar store, made as Oscar's "Building your own shop" says, with the
plugin's wheel installed into a fresh virtualenv as docs/install.rst says.

Slow (a virtualenv and its packages, about a minute): ``-m "not slow"`` leaves
it out; CI runs it.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import oscar
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

# Oscar's "Building your own shop", on top of Django's startproject settings.
OSCAR_SETTINGS = """
import os

from oscar.defaults import *  # noqa

INSTALLED_APPS = [
    # oscar_loyalty, as docs/install.rst says: before Oscar's apps
    "oscar_loyalty",
    "oscar_loyalty.dashboard",
{oscar_apps}
    "sorl.thumbnail",
]
SITE_ID = 1
MIDDLEWARE += [
    "oscar.apps.basket.middleware.BasketMiddleware",
    "oscar_loyalty.middleware.BasketCheckMiddleware",
    "oscar_loyalty.middleware.CouponLimitMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
]
# A shared cache, as docs/install.rst asks for production: the test's own Redis.
CACHES = {{
    "default": {{
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
    }}
}}
AUTHENTICATION_BACKENDS = (
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
)
TEMPLATES[0]["OPTIONS"]["context_processors"] += [
    "oscar.apps.search.context_processors.search_form",
    "oscar.apps.checkout.context_processors.checkout",
    "oscar.apps.communication.notifications.context_processors.notifications",
    "oscar.core.context_processors.metadata",
]
HAYSTACK_CONNECTIONS = {{"default": {{"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}}}
DATABASES["default"]["ATOMIC_REQUESTS"] = True  # as Oscar recommends
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# The store's own change to the dashboard menu, which the plugin's line keeps.
OSCAR_DASHBOARD_NAVIGATION = [
    *OSCAR_DASHBOARD_NAVIGATION,
    {{"label": "Store notes", "icon": "fas fa-book", "url_name": "dashboard:index"}},
]

# oscar_loyalty, as docs/install.rst says
from oscar_loyalty.dashboard.navigation import LOYALTY_NAVIGATION  # noqa: E402
from oscar_loyalty.schedule import BEAT_SCHEDULE as LOYALTY_BEAT_SCHEDULE  # noqa: E402

OSCAR_DASHBOARD_NAVIGATION = [*OSCAR_DASHBOARD_NAVIGATION, *LOYALTY_NAVIGATION]
CELERY_BEAT_SCHEDULE = {{**LOYALTY_BEAT_SCHEDULE}}
CELERY_TASK_ALWAYS_EAGER = True  # no worker in this test: tasks run where they are queued
"""

URLS = """
from django.apps import apps
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("dashboard/loyalty/", apps.get_app_config("oscar_loyalty_dashboard").urls),
    path("", include("oscar_loyalty.urls")),
    path("", include(apps.get_app_config("oscar").urls[0])),
]
"""

# docs/celery.rst
CELERY_APP = """
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "frobshop.settings")
app = Celery("frobshop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
"""


def run(*args, cwd=None):
    """Run a command as the store's developer would: none of this test run's settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{' '.join(map(str, args))}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("new-store")
    # Built from a clean copy: a clone's own build/ folder may hold stale files.
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", "artifacts"))  # fmt: skip
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", tmp / "dist", source)  # fmt: skip
    (wheel,) = (tmp / "dist").glob("oscar_loyalty-*.whl")
    base = Path(getattr(sys, "_base_executable", sys.executable))
    run(base, "-m", "venv", tmp / "venv")
    python = tmp / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", f"{wheel}[redis]", "django-oscar[sorl-thumbnail]")
    project = tmp / "store"
    project.mkdir()
    run(tmp / "venv" / "bin" / "django-admin", "startproject", "frobshop", project)
    package = project / "frobshop"
    oscar_apps = "\n".join(f'    "{name}",' for name in oscar.INSTALLED_APPS)
    with open(package / "settings.py", "a") as settings:
        settings.write(OSCAR_SETTINGS.format(oscar_apps=oscar_apps))
    (package / "urls.py").write_text(URLS)
    (package / "celery.py").write_text(CELERY_APP)
    (package / "__init__.py").write_text("from .celery import app as celery_app\n")
    shutil.copy(Path(__file__).with_name("store_scenario.py"), project)
    run(python, "manage.py", "migrate", "-v0", cwd=project)
    return python, project


def test_the_installed_wheel_passes_every_system_check(store):
    python, project = store
    run(python, "manage.py", "check", "--fail-level", "WARNING", cwd=project)
    where = run(python, "-c", "import oscar_loyalty; print(oscar_loyalty.__file__)", cwd=project)
    assert "site-packages" in where  # the wheel's copy, not this clone's


def test_a_customer_sees_rewards_uses_a_coupon_and_earns_points(store):
    python, project = store
    assert "SCENARIO OK" in run(python, "store_scenario.py", cwd=project)
