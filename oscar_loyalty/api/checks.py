"""The API's installation, checked at start-up."""

from django.apps import apps
from django.core.checks import Error, register

from . import LOYALTY_API_APPS


@register()
def check_installed_apps(app_configs=None, **kwargs):
    missing = [name for name in LOYALTY_API_APPS[1:] if not apps.is_installed(name)]
    if not missing:
        return []
    return [
        Error(
            f"oscar_loyalty.api needs {', '.join(missing)} in INSTALLED_APPS.",
            hint="from oscar_loyalty.api import LOYALTY_API_APPS; "
            "INSTALLED_APPS += LOYALTY_API_APPS",
            id="oscar_loyalty_api.E001",
        )
    ]
