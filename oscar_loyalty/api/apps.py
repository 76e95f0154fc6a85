import importlib

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class LoyaltyApiConfig(AppConfig):
    name = "oscar_loyalty.api"
    label = "oscar_loyalty_api"
    verbose_name = _("Loyalty API")

    def ready(self):
        missing = [m for m in ("rest_framework", "drf_spectacular") if not _importable(m)]
        if missing:
            raise ImproperlyConfigured(
                f"oscar_loyalty.api needs {', '.join(missing)}: pip install 'oscar-loyalty[api]'"
            )
        from . import checks  # noqa: F401  (registers the installation check)


def _importable(module):
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
