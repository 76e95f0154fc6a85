"""Daily sums of the ledger, so the KPI page never reads a year of entries.

``kpis.store_daily_figures`` (a periodic job) writes these rows, once a day is
over; nothing else does. Days are the shop's (``TIME_ZONE``) and stored days
run without gaps from the first one, so the page reads stored days from here
and the days after them from the ledger itself.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DailyPoints(models.Model):
    """The points that moved on one day, by what moved them (each a positive number)."""

    day = models.DateField(_("Day"), unique=True)
    issued = models.BigIntegerField(_("Issued"), default=0)
    spent = models.BigIntegerField(_("Spent"), default=0)
    restored = models.BigIntegerField(_("Restored"), default=0)
    expired = models.BigIntegerField(_("Expired"), default=0)
    taken_back = models.BigIntegerField(_("Taken back"), default=0)

    class Meta:
        verbose_name = _("Daily points")
        verbose_name_plural = _("Daily points")

    def __str__(self):
        return f"{self.day}: +{self.issued} -{self.spent}"


class DailyExpiry(models.Model):
    """The lots whose expiry date fell on one day: their points, and how many of those
    were spent or taken back before (the rest expired: breakage).

    Stored once every lot of that day has been expired, so the row never changes.
    """

    day = models.DateField(_("Day"), unique=True)
    points = models.BigIntegerField(_("Points of the lots"), default=0)
    used = models.BigIntegerField(_("Points used before expiry"), default=0)

    class Meta:
        verbose_name = _("Daily expiry")
        verbose_name_plural = _("Daily expiries")

    def __str__(self):
        return f"{self.day}: {self.used}/{self.points}"
