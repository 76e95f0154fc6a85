"""The points ledger: accounts, their entries, the lots the points sit in, and
what refunds could not take yet.

Only ``oscar_loyalty.ledger`` writes these rows: ``Account.balance`` and
``PointsLot.remaining`` are caches of the entries, kept in the same
transaction (``Account`` rows themselves are also created on first need by
the modules that record awards).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import reasons


class Account(models.Model):
    """A customer's points account, created the first time it is needed.

    When the customer is deleted the account and its entries stay, for the
    shop's books: ``user`` is emptied and ``closed_at`` set (see
    ``ledger.close_account``).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="loyalty_account",
        verbose_name=_("Customer"),
    )
    balance = models.BigIntegerField(_("Balance"), default=0)
    created_at = models.DateTimeField(_("Created"), default=timezone.now)
    # Last time points were earned or spent: the "inactivity" expiry policy reads it.
    last_activity_at = models.DateTimeField(_("Last activity"), null=True, blank=True)
    closed_at = models.DateTimeField(_("Customer deleted"), null=True, blank=True)

    class Meta:
        verbose_name = _("Points account")
        verbose_name_plural = _("Points accounts")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance__gte=0), name="loyalty_account_balance_gte_0"
            ),
        ]

    def __str__(self):
        customer = self.user if self.user_id else _("Deleted customer %(id)s") % {"id": self.pk}
        return f"{customer} ({self.balance})"


class LedgerEntry(models.Model):
    """One change of a balance, with its cause. Entries are never updated or deleted."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        SPEND = "spend", _("Spent")
        RESTORE = "restore", _("Restored")
        EXPIRE = "expire", _("Expired")
        CLAWBACK = "clawback", _("Taken back")
        ADJUSTMENT = "adjustment", _("Adjustment")

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", verbose_name=_("Account")
    )
    kind = models.CharField(_("Kind"), max_length=16, choices=Kind.choices)
    points = models.IntegerField(_("Points"), help_text=_("Positive adds, negative takes away."))
    balance_after = models.BigIntegerField(_("Balance after"))
    # Why, as a code and its parameters (``reasons``), read in the reader's
    # language; ``reason`` keeps the same text in the source language.
    reason_code = models.CharField(_("Reason code"), max_length=32, blank=True, default="")
    reason_params = models.JSONField(_("Reason parameters"), default=dict, blank=True)
    reason = models.CharField(_("Reason"), max_length=255)
    idempotency_key = models.CharField(_("Idempotency key"), max_length=128, unique=True)
    created_at = models.DateTimeField(_("Date"), default=timezone.now)

    # The cause, for audits and reversals.
    order = models.ForeignKey(
        "order.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="loyalty_entries",
        verbose_name=_("Order"),
    )
    voucher = models.ForeignKey(
        "voucher.Voucher",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="loyalty_entries",
        verbose_name=_("Voucher"),
    )
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Staff user"),
    )
    # The entry this one reverses (a restore of a spend, a clawback of an earn).
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
        verbose_name=_("Reverses"),
    )

    class Meta:
        verbose_name = _("Ledger entry")
        verbose_name_plural = _("Ledger entries")
        # Newest first. Entries are inserted as they happen, so the id is the
        # order of events, and history pages are keyset-paginated on it.
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "-id"], name="loyalty_entry_history_idx"),
            # The KPI page reads today's entries, the daily sums job a day's.
            models.Index(fields=["created_at"], name="loyalty_entry_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(points=0), name="loyalty_entry_points_not_0"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.points:+d}: {self.reason}"

    def customer_reason(self) -> str:
        """Why the balance changed, in the reader's language (the active one).

        Rendered from ``reason_code`` and ``reason_params`` (see ``reasons``);
        the stored text for an entry without a code the plugin knows. Points
        used at checkout say which order used them: select ``order`` and
        ``voucher__loyalty_redemption__order`` with the entries (a spend learns
        its order from its voucher once the order is placed, and entries are
        never updated), and call ``reasons.prefetch`` on a page of entries so
        rewards' names cost one query.
        """
        if self.kind == self.Kind.SPEND and self.reason_code in (reasons.CHECKOUT, ""):
            number = self._spend_order_number()
            if number:
                return _("Used in order %(number)s") % {"number": number}
        row = getattr(self, "_reason_row", None)
        return reasons.render(self.reason_code, self.reason_params, self.reason, row)

    def _spend_order_number(self) -> str | None:
        if self.order_id:
            return self.order.number
        if self.voucher_id:
            redemption = getattr(self.voucher, "loyalty_redemption", None)
            if redemption is not None and redemption.order_id:
                return redemption.order.number
        return None


class PointsLot(models.Model):
    """Points that arrived together and expire together.

    Spending consumes lots soonest-expiring first, so "120 points expire on
    1 March" is exact. ``remaining`` summed over an account's lots equals its
    balance, and only ever goes down: restored points come back as new lots.
    """

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="lots", verbose_name=_("Account")
    )
    # The entry that brought these points: an earn, a positive adjustment, or a
    # restore (which can bring back points of several expiry dates, one lot each).
    entry = models.ForeignKey(
        LedgerEntry, on_delete=models.PROTECT, related_name="lots", verbose_name=_("Entry")
    )
    points = models.IntegerField(_("Points"))
    remaining = models.IntegerField(_("Remaining"))
    earned_at = models.DateTimeField(_("Earned"))
    expires_at = models.DateTimeField(_("Expires"), null=True, blank=True)

    class Meta:
        verbose_name = _("Points lot")
        verbose_name_plural = _("Points lots")
        indexes = [
            models.Index(
                fields=["account", "expires_at", "id"],
                condition=models.Q(remaining__gt=0),
                name="loyalty_lot_open_idx",
            ),
            models.Index(
                fields=["expires_at"],
                condition=models.Q(remaining__gt=0),
                name="loyalty_lot_expiring_idx",
            ),
            # Lots by expiry day, spent or not: breakage on the KPI page.
            models.Index(fields=["expires_at", "id"], name="loyalty_lot_expires_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(remaining__gte=0) & models.Q(remaining__lte=models.F("points")),
                name="loyalty_lot_remaining_in_range",
            ),
        ]

    def __str__(self):
        return f"{self.remaining}/{self.points}"


class LotConsumption(models.Model):
    """How many points an entry (a spend, an expiry...) took from which lot.

    Restoring a spend gives the points back with the expiry dates of the lots
    they came from, so a customer cannot extend expiry by spending and
    un-spending.
    """

    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="consumptions")
    lot = models.ForeignKey(PointsLot, on_delete=models.PROTECT, related_name="consumptions")
    points = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("Lot consumption")
        verbose_name_plural = _("Lot consumptions")

    def __str__(self):
        return f"{self.points} from lot {self.lot_id}"


class Shortfall(models.Model):
    """Points a clawback could not take because they were in a spend.

    A refund's clawback takes what the balance holds; what it could not take
    waits here on the account's spends that could still come back (a points
    voucher not used yet, or used by an order that may be cancelled). When one
    of those spends is restored, ``ledger.restore`` takes what waits on it
    first, so refunded points never come back through a voucher. What finds no
    such spend is forgiven. Written only by ``oscar_loyalty.ledger``.
    """

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="shortfalls", verbose_name=_("Account")
    )
    spend = models.ForeignKey(
        LedgerEntry,
        on_delete=models.PROTECT,
        related_name="shortfalls",
        verbose_name=_("Spend it waits on"),
    )
    clawback_key = models.CharField(_("Clawback key"), max_length=128)
    reverses = models.ForeignKey(
        LedgerEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Reverses"),
    )
    order = models.ForeignKey(
        "order.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Order"),
    )
    reason = models.CharField(_("Reason"), max_length=255)
    # The clawback's reason, for the entries that take the shortfall later.
    reason_code = models.CharField(_("Reason code"), max_length=32, blank=True, default="")
    reason_params = models.JSONField(_("Reason parameters"), default=dict, blank=True)
    points = models.PositiveIntegerField(_("Points"))
    taken = models.PositiveIntegerField(_("Taken since"), default=0)
    created_at = models.DateTimeField(_("Created"), default=timezone.now)

    class Meta:
        verbose_name = _("Clawback shortfall")
        verbose_name_plural = _("Clawback shortfalls")
        constraints = [
            models.UniqueConstraint(
                fields=["clawback_key", "spend"], name="loyalty_shortfall_once_per_spend"
            ),
            models.CheckConstraint(
                condition=models.Q(points__gt=0) & models.Q(taken__lte=models.F("points")),
                name="loyalty_shortfall_taken_in_range",
            ),
        ]

    def __str__(self):
        return f"{self.taken}/{self.points} on spend {self.spend_id}"

    @property
    def open(self):
        return self.points - self.taken
