"""The REST API is an extra: without Django REST framework the plugin works, and says so."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from django.core import checks
from django.test import override_settings

from oscar_loyalty.api.checks import check_installed_apps

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter where Django REST framework and drf-spectacular
# cannot be imported, with the sandbox's settings less (or with) the API apps.
SCRIPT = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"rest_framework", "drf_spectacular"}:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    sys.meta_path.insert(0, NotInstalled())
    import django
    from django.conf import settings
    import sandbox.settings as base
    from oscar_loyalty.api import LOYALTY_API_APPS

    conf = {k: getattr(base, k) for k in dir(base) if k.isupper()}
    if sys.argv[1] == "without":
        conf["INSTALLED_APPS"] = [a for a in conf["INSTALLED_APPS"] if a not in LOYALTY_API_APPS]
    else:
        conf["INSTALLED_APPS"] = [a for a in conf["INSTALLED_APPS"] if a == LOYALTY_API_APPS[0]
                                  or a not in LOYALTY_API_APPS]
    settings.configure(**conf)
    django.setup()
    import oscar_loyalty
    for module in pkgutil.walk_packages(oscar_loyalty.__path__, "oscar_loyalty."):
        if not module.name.startswith("oscar_loyalty.api."):
            importlib.import_module(module.name)
    from django.core.management import call_command
    call_command("check", fail_level="ERROR")
    from django.urls import reverse
    print(reverse("oscar_loyalty:rewards"))
    """
)


def run(which):
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, which],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": "sqlite:///:memory:", "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def test_without_the_api_every_module_imports_and_the_checks_pass():
    done = run("without")
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout
    assert done.stdout.strip().endswith("/accounts/rewards/")


def test_the_api_installed_without_its_extra_says_how_to_install_it():
    done = run("with")
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert "pip install 'oscar-loyalty[api]'" in done.stderr


def test_a_missing_api_app_is_reported_with_the_fix(monkeypatch):
    from django.apps import apps

    installed = apps.is_installed
    monkeypatch.setattr(
        apps, "is_installed", lambda name: name != "rest_framework.authtoken" and installed(name)
    )
    (error,) = check_installed_apps()
    assert error.id == "oscar_loyalty_api.E001"
    assert "rest_framework.authtoken" in error.msg
    assert "LOYALTY_API_APPS" in error.hint


def test_the_installed_api_passes_its_check():
    assert check_installed_apps() == []
    with override_settings(OSCAR_LOYALTY_API_THROTTLE_RATES={"customer": "120/minute"}):
        mine = [e for e in checks.run_checks() if e.id == "oscar_loyalty.E041"]
    assert len(mine) == 1
