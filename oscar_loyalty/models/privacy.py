"""Customers' data: who exported or erased whose loyalty data, and imports from another
program with the rows they refused.

``privacy`` writes the requests; ``importing`` writes the import runs and their
rejected rows. None of these rows holds a customer's email or name but a
rejected row (the merchant needs it to fix the file), and erasing a customer
deletes those (``privacy.erase``).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .ledger import Account


class DataRequest(models.Model):
    """An export or an erasure of a customer's loyalty data: who asked, for whom, when.

    The customer is named by their user (for a customer without an account
    too) and their points account (the member number), which outlives them:
    erasing empties the user, so an erased customer's log says "account #42,
    erased by staff member X", never who they were.
    """

    class Action(models.TextChoices):
        EXPORT = "export", _("Export")
        ERASE = "erase", _("Erasure")

    action = models.CharField(_("Action"), max_length=16, choices=Action.choices)
    account = models.ForeignKey(
        Account,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Account"),
    )
    # Whose data, while they are a customer: erasing them empties it, so an erased
    # customer's log names their account number only.
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Customer"),
    )
    # Who asked: the customer themselves, or a staff member (null once deleted).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Requested by"),
    )
    by_staff = models.BooleanField(_("By staff"), default=False)
    created_at = models.DateTimeField(_("Date"), default=timezone.now)

    class Meta:
        verbose_name = _("Data request")
        verbose_name_plural = _("Data requests")
        ordering = ["-id"]

    def __str__(self):
        return f"{self.action} #{self.account_id} ({self.created_at:%Y-%m-%d})"


class ImportRun(models.Model):
    """One file of balances, lots and consents brought from another program.

    The dashboard's upload stores the file and a Celery task imports it,
    recording its progress here for the page to poll; the file is deleted once
    imported (it is full of customers' emails).
    """

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    name = models.CharField(_("File name"), max_length=255)
    file = models.FileField(_("File"), upload_to="loyalty_imports/", blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Uploaded by"),
    )
    status = models.CharField(
        _("Status"), max_length=16, choices=Status.choices, default=Status.WAITING
    )
    header = models.JSONField(_("Columns"), default=list, blank=True)
    size = models.BigIntegerField(_("Size in bytes"), default=0)
    done_bytes = models.BigIntegerField(_("Bytes read"), default=0)
    rows = models.PositiveIntegerField(_("Rows read"), default=0)
    imported = models.PositiveIntegerField(_("Rows imported"), default=0)
    unchanged = models.PositiveIntegerField(_("Rows already imported"), default=0)
    rejected = models.PositiveIntegerField(_("Rows rejected"), default=0)
    points = models.BigIntegerField(_("Points imported"), default=0)
    error = models.TextField(_("Error"), blank=True)
    created_at = models.DateTimeField(_("Uploaded"), default=timezone.now)
    finished_at = models.DateTimeField(_("Finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("Import")
        verbose_name_plural = _("Imports")
        ordering = ["-id"]

    def __str__(self):
        return f"{self.name} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, self.done_bytes * 100 // self.size) if self.size else 0


class ImportRejection(models.Model):
    """A row of an import file that was not imported, and why (the downloadable report)."""

    run = models.ForeignKey(
        ImportRun, on_delete=models.CASCADE, related_name="rejections", verbose_name=_("Import")
    )
    line = models.PositiveIntegerField(_("Line"))
    # Lower-cased, so erasing a customer finds the rows that name them.
    email = models.CharField(_("Email"), max_length=254, blank=True, db_index=True)
    cells = models.JSONField(_("Row"), default=list)
    reason = models.CharField(_("Why"), max_length=255)

    class Meta:
        verbose_name = _("Rejected import row")
        verbose_name_plural = _("Rejected import rows")
        ordering = ["run", "line"]

    def __str__(self):
        return f"{self.run_id}:{self.line} {self.reason}"
