"""Refer-a-friend: each customer's code and who referred whom.

``referrals`` writes these rows; staff can void a referral in the admin.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ReferralCode(models.Model):
    """A customer's own code for their refer-a-friend link."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="loyalty_referral_code",
        verbose_name=_("Customer"),
    )
    code = models.CharField(_("Code"), max_length=16, unique=True)
    visits = models.PositiveIntegerField(_("Link visits"), default=0)
    created_at = models.DateTimeField(_("Created"), default=timezone.now)

    class Meta:
        verbose_name = _("Referral code")
        verbose_name_plural = _("Referral codes")

    def __str__(self):
        return self.code


class Referral(models.Model):
    """A customer who signed up through another customer's link."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Signed up")
        REJECTED = "rejected", _("Not eligible")
        VOID = "void", _("Voided by staff")

    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="loyalty_referrals_made",
        verbose_name=_("Referrer"),
    )
    referred = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="loyalty_referral",
        verbose_name=_("Referred customer"),
    )
    status = models.CharField(
        _("Status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    reason = models.CharField(_("Why"), max_length=255, blank=True)
    welcome_voucher = models.ForeignKey(
        "voucher.Voucher",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Welcome coupon"),
    )
    created_at = models.DateTimeField(_("Created"), default=timezone.now)

    class Meta:
        verbose_name = _("Referral")
        verbose_name_plural = _("Referrals")

    def __str__(self):
        return f"{self.referrer} -> {self.referred} ({self.status})"
