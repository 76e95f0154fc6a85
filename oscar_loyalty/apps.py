from django.utils.translation import gettext_lazy as _
from oscar.core.application import OscarConfig


class LoyaltyConfig(OscarConfig):
    name = "oscar_loyalty"
    label = "oscar_loyalty"
    verbose_name = _("Loyalty")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks, receivers  # noqa: F401  (registers checks and receivers)
