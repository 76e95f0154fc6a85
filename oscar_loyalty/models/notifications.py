"""Emails to customers: their consent to marketing, and every email claimed or sent.

``consent`` writes the consents (the customer answers at sign-up, on the
Rewards page, in an app or through an unsubscribe link); ``notifications``
writes the sent messages.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class MarketingConsent(models.Model):
    """Whether the customer agreed to marketing emails, when, and where they said so.

    Transactional messages (about points the customer already has) need no
    consent; marketing ones are sent only while ``marketing`` is on. The
    customer's language is kept here too, so emails sent by a periodic job
    speak it. Changed only through ``consent.set_marketing_consent``.
    """

    class Source(models.TextChoices):
        SIGNUP = "signup", _("Sign-up form")
        ACCOUNT = "account", _("Rewards page")
        API = "api", _("App")
        UNSUBSCRIBE = "unsubscribe", _("Unsubscribe link")
        IMPORT = "import", _("Import")
        STAFF = "staff", _("Staff")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="loyalty_consent",
        verbose_name=_("Customer"),
    )
    marketing = models.BooleanField(_("Marketing emails"), default=False)
    changed_at = models.DateTimeField(_("Changed"), default=timezone.now)
    source = models.CharField(
        _("Where it was given"), max_length=16, choices=Source.choices, default=Source.SIGNUP
    )
    language = models.CharField(_("Language"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("Marketing consent")
        verbose_name_plural = _("Marketing consents")

    def __str__(self):
        return f"{self.user}: {self.marketing}"


class SentMessage(models.Model):
    """An email to a customer, claimed before it is sent, so it is never sent twice.

    ``key`` names what the email is about (``statement:2026-11``,
    ``expiring:2027-03-01``...): one row per customer and key. ``sent_at`` stays
    empty if the worker died between claiming and sending; that email is then
    not sent at all, rather than risk sending it twice.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="loyalty_messages",
        verbose_name=_("Customer"),
    )
    message = models.CharField(_("Message"), max_length=32)
    key = models.CharField(_("About"), max_length=64)
    claimed_at = models.DateTimeField(_("Claimed"), default=timezone.now)
    sent_at = models.DateTimeField(_("Sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("Sent message")
        verbose_name_plural = _("Sent messages")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="loyalty_message_once"),
        ]

    def __str__(self):
        return f"{self.key} to {self.user}"
