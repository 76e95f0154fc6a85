"""What a store gets when it installs the plugin the way Django users write it."""

from types import SimpleNamespace

import pytest
from django.apps import AppConfig, apps
from django.conf import settings
from django.test import override_settings

from oscar_loyalty import checks
from oscar_loyalty.apps import LoyaltyConfig
from oscar_loyalty.dashboard.apps import LoyaltyDashboardConfig


def test_the_bare_app_name_picks_the_plugin_config():
    config = AppConfig.create("oscar_loyalty")
    assert type(config) is LoyaltyConfig
    assert config.namespace == "oscar_loyalty"  # the URLs the bare name used to lack


def test_the_bare_dashboard_name_picks_the_dashboard_config():
    assert type(AppConfig.create("oscar_loyalty.dashboard")) is LoyaltyDashboardConfig


# System checks for a broken install ----------------------------------------------


def ids(messages):
    return [m.id for m in messages]


def test_the_sandbox_install_passes_every_check():
    from django.core.management import call_command

    call_command("check", fail_level="WARNING")  # raises SystemCheckError otherwise


def test_the_plugin_listed_after_oscar_is_an_error(monkeypatch):
    configs = list(apps.get_app_configs())
    ours = apps.get_app_config("oscar_loyalty")
    after = [c for c in configs if c is not ours] + [ours]
    monkeypatch.setattr(apps, "get_app_configs", lambda: after)
    assert ids(checks.check_app_order()) == ["oscar_loyalty.E301"]
    monkeypatch.setattr(apps, "get_app_configs", lambda: configs)
    assert checks.check_app_order() == []


def store_templates(tmp_path, name, source):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    templates = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    return override_settings(TEMPLATES=templates)


def test_a_store_template_replacing_one_we_extend_is_reported(tmp_path):
    with store_templates(tmp_path, "oscar/checkout/thank_you.html", "<h1>Thanks!</h1>"):
        (warning,) = checks.check_template_overrides()
    assert warning.id == "oscar_loyalty.W302"
    assert "oscar/checkout/thank_you.html" in warning.msg
    assert "oscar_loyalty/partials/order_points.html" in warning.msg
    assert "extends" in warning.hint


@pytest.mark.parametrize(
    "source",
    [
        '{% extends "oscar/checkout/thank_you.html" %}{% block title %}Thanks{% endblock %}',
        '<h1>Thanks!</h1>{% include "oscar_loyalty/partials/order_points.html" %}',
    ],
    ids=["extends-it", "keeps-our-part"],
)
def test_a_store_template_that_extends_or_keeps_our_part_is_fine(tmp_path, source):
    with store_templates(tmp_path, "oscar/checkout/thank_you.html", source):
        assert checks.check_template_overrides() == []


def test_missing_middleware_is_reported():
    middleware = [m for m in settings.MIDDLEWARE if "BasketCheck" not in m]
    with override_settings(MIDDLEWARE=middleware):
        assert ids(checks.check_middleware()) == ["oscar_loyalty.W303"]


def test_urls_left_out_are_reported():
    with override_settings(ROOT_URLCONF="tests.unit.urls_without_loyalty"):
        assert ids(checks.check_urls()) == ["oscar_loyalty.E304", "oscar_loyalty.E305"]


def test_no_celery_app_is_an_error(monkeypatch):
    from celery import _state

    monkeypatch.setattr(_state._tls, "current_app", None)
    monkeypatch.setattr(_state, "default_app", None)  # Celery then makes its fallback app
    assert ids(checks.check_celery()) == ["oscar_loyalty.E306"]


def test_a_beat_schedule_without_our_jobs_is_reported(monkeypatch):
    from celery import current_app

    monkeypatch.setitem(current_app.conf, "beat_schedule", {})
    (warning,) = checks.check_celery()
    assert warning.id == "oscar_loyalty.W307"
    assert "oscar_loyalty.reconcile_orders" in warning.msg


def test_deploy_check_eager_tasks_are_reported():
    assert ids(checks.check_celery_workers()) == ["oscar_loyalty.W308"]  # the test settings


def test_mysql_and_old_mariadb_are_refused(monkeypatch):
    def db(vendor, mariadb, version):
        return SimpleNamespace(vendor=vendor, mysql_is_mariadb=mariadb, mysql_version=version)

    monkeypatch.setattr(
        checks,
        "connections",
        {
            "pg": SimpleNamespace(vendor="postgresql"),
            "maria": db("mysql", True, (10, 11, 6)),
            "old": db("mysql", True, (10, 5, 2)),
            "mysql": db("mysql", False, (8, 4, 0)),
        },
    )
    monkeypatch.setattr(checks, "_has_time_zone_tables", lambda connection: True)
    errors = checks.check_database(databases=["pg", "maria", "old", "mysql"])
    assert [e.msg.split("'")[1] for e in errors] == ["old", "mysql"]
    assert set(ids(errors)) == {"oscar_loyalty.E311"}


class _Cursor:
    def __init__(self, answer):
        self.answer = answer

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql):
        assert "CONVERT_TZ" in sql

    def fetchone(self):
        return (self.answer,)


def test_mariadb_without_time_zone_tables_is_refused(monkeypatch):
    def maria(answer):
        return SimpleNamespace(
            vendor="mysql",
            mysql_is_mariadb=True,
            mysql_version=(10, 11, 6),
            cursor=lambda: _Cursor(answer),
        )

    monkeypatch.setattr(checks, "connections", {"bare": maria(None), "loaded": maria("x")})
    errors = checks.check_database(databases=["bare", "loaded"])
    assert ids(errors) == ["oscar_loyalty.E312"]
    assert "'bare'" in errors[0].msg and "mysql_tzinfo_to_sql" in errors[0].hint
    with override_settings(USE_TZ=False):
        assert checks.check_database(databases=["bare"]) == []


def test_the_dashboard_pages_follow_the_stores_dashboard_path():
    from django.urls import reverse

    with override_settings(ROOT_URLCONF="tests.unit.urls_own_dashboard_path"):
        assert reverse("loyalty-dashboard:coupon-list") == "/shop-admin/loyalty/coupons/"
        assert checks.check_urls() == []
