"""Points for what customers do besides buying, and their guest orders credited later.

``bonus`` writes ``BonusAction`` settings (staff, in the dashboard) and
``Birthday`` rows (the customer, on the Rewards page); ``guests`` writes
``GuestOrderCredit``. The points themselves move through the ledger only.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BonusAction(models.Model):
    """The merchant's settings for one action that earns points.

    A row exists once the merchant saved it in the dashboard; until then
    ``bonus.action_settings`` gives the defaults (joining: the
    ``WELCOME_BONUS_POINTS`` setting; the others: off). Caps count the times
    a customer earned the bonus (a day, in the shop's time zone, and ever);
    empty means no cap.
    """

    class Action(models.TextChoices):
        JOIN = "join", _("Joining")
        BIRTHDAY = "birthday", _("Birthday")
        REVIEW = "review", _("Approved product review")
        PROFILE = "profile", _("Completed profile")

    action = models.CharField(_("Action"), max_length=16, choices=Action.choices, unique=True)
    enabled = models.BooleanField(_("On"), default=False)
    points = models.PositiveIntegerField(_("Points"), default=0)
    daily_cap = models.PositiveIntegerField(
        _("At most a day"),
        null=True,
        blank=True,
        help_text=_("How many times a customer may earn it in one day. Empty: no limit."),
    )
    lifetime_cap = models.PositiveIntegerField(
        _("At most ever"),
        null=True,
        blank=True,
        help_text=_("How many times a customer may ever earn it. Empty: no limit."),
    )

    class Meta:
        verbose_name = _("Bonus action")
        verbose_name_plural = _("Bonus actions")

    def __str__(self):
        return str(self.get_action_display())


class Birthday(models.Model):
    """A customer's birthday, given with their consent, for the yearly birthday bonus.

    Only the day and month are kept (no year: the shop needs no age). Once
    given it cannot be changed by the customer, only removed, so moving it
    cannot earn a second bonus in a year (the ledger key has the year too).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="loyalty_birthday",
        verbose_name=_("Customer"),
    )
    month = models.PositiveSmallIntegerField(_("Month"))
    day = models.PositiveSmallIntegerField(_("Day"))
    consented_at = models.DateTimeField(_("Consent given"), default=timezone.now)

    class Meta:
        verbose_name = _("Birthday")
        verbose_name_plural = _("Birthdays")
        indexes = [models.Index(fields=["month", "day"], name="loyalty_birthday_day_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(month__gte=1, month__lte=12, day__gte=1, day__lte=31),
                name="loyalty_birthday_valid_day",
            ),
        ]

    def __str__(self):
        return f"{self.user}: {self.day}/{self.month}"


class GuestOrderCredit(models.Model):
    """A guest order claimed by the customer who verified its email address.

    One row per order (a unique order): the same order is never credited
    twice, whether the address is verified again or by a second account
    with the same normalised address.
    """

    order = models.OneToOneField(
        "order.Order",
        on_delete=models.CASCADE,
        related_name="loyalty_guest_credit",
        verbose_name=_("Order"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("Customer"),
    )
    created_at = models.DateTimeField(_("Credited"), default=timezone.now)

    class Meta:
        verbose_name = _("Guest order credited")
        verbose_name_plural = _("Guest orders credited")

    def __str__(self):
        return f"{self.order_id} to {self.user_id}"
