"""What a store gets when it installs the plugin the way Django users write it."""

from django.apps import AppConfig

from oscar_loyalty.apps import LoyaltyConfig
from oscar_loyalty.dashboard.apps import LoyaltyDashboardConfig


def test_the_bare_app_name_picks_the_plugin_config():
    config = AppConfig.create("oscar_loyalty")
    assert type(config) is LoyaltyConfig
    assert config.urls  # what the bare name lacked: Oscar's urls


def test_the_bare_dashboard_name_picks_the_dashboard_config():
    assert type(AppConfig.create("oscar_loyalty.dashboard")) is LoyaltyDashboardConfig
