"""The loyalty tables staff may read, one list page each: everything the Django admin shows.

Merchants on Oscar work in Oscar's dashboard, not in Django's admin, so each
table the admin lists (``admin.py``) is listed here too, with the admin's
search and filters: accounts, ledger entries, lots, pending awards,
referrals (with their **Void**), consents, sent emails and the log of data
requests. Bonus campaigns and imports have their own pages. ``ADMIN_PAGES``
names the dashboard page of every model the admin registers; a test keeps the
two in step.

Read-only, like the admin: points change only through the ledger's verbs.
A page is read in a constant number of queries (each list selects what it shows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from ..models import (
    Account,
    DataRequest,
    LedgerEntry,
    MarketingConsent,
    PendingAward,
    PointsLot,
    Referral,
    SentMessage,
)


@dataclass(frozen=True)
class Cell:
    """What one cell shows: text, a link to a customer's page, or a referral's Void button."""

    text: Any
    url: str = ""
    void: int | None = None


@dataclass(frozen=True)
class Filter:
    name: str
    label: Any
    lookup: str
    choices: list[tuple[str, Any]] | Callable[[], list[tuple[str, Any]]]

    def options(self) -> list[tuple[str, Any]]:
        return self.choices() if callable(self.choices) else self.choices


@dataclass(frozen=True)
class Record:
    slug: str
    title: Any
    queryset: Callable[[], QuerySet]
    columns: list[tuple[Any, Callable[[Any], Cell]]]
    search: list[str] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    # The member number (the account's id) also finds the rows of that account.
    account_lookup: str = ""

    def rows(self, objects) -> list[list[Cell]]:
        return [[cell(obj) for _label, cell in self.columns] for obj in objects]

    def filtered(self, params) -> QuerySet:
        rows = self.queryset()
        text = (params.get("q") or "").strip()[:128]
        if text and "\x00" not in text:
            found = Q()
            for lookup in self.search:
                found |= Q(**{f"{lookup}__icontains": text})
            number = text.lstrip("#")
            if self.account_lookup and number.isdigit() and len(number) < 19:
                found |= Q(**{self.account_lookup: int(number)})
            rows = rows.filter(found)
        for option in self.filters:
            value = params.get(option.name)
            if value and value in {choice for choice, _label in option.options()}:
                rows = rows.filter(**{option.lookup: _choice_value(value)})
        return rows


def _choice_value(value: str):
    return {"yes": True, "no": False}.get(value, value)


def _when(value) -> str:
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT") if value else ""


def _customer(user) -> Cell:
    if user is None:
        return Cell(_("(deleted customer)"))
    return Cell(
        user.email or user.get_username(),
        reverse("loyalty-dashboard:customer-detail", args=[user.pk]),
    )


def _yes_no(value) -> Cell:
    return Cell(_("Yes") if value else _("No"))


def _messages_sent() -> list[tuple[str, str]]:
    names = SentMessage.objects.order_by("message").values_list("message", flat=True).distinct()
    return [(name, name) for name in names]


YES_NO = [("yes", _("Yes")), ("no", _("No"))]

RECORDS = [
    Record(
        "entries",
        _("Ledger entries"),
        lambda: LedgerEntry.objects.select_related("account__user", "staff_user").order_by("-id"),
        [
            (_("Date"), lambda e: Cell(_when(e.created_at))),
            (_("Customer"), lambda e: _customer(e.account.user)),
            (_("Kind"), lambda e: Cell(e.get_kind_display())),
            (_("Points"), lambda e: Cell(f"{e.points:+d}")),
            (_("Balance after"), lambda e: Cell(e.balance_after)),
            (_("Reason"), lambda e: Cell(e.reason)),
            (_("Key"), lambda e: Cell(e.idempotency_key)),
            (_("Staff user"), lambda e: Cell(e.staff_user.email if e.staff_user else "")),
        ],
        search=["account__user__email", "idempotency_key", "reason"],
        filters=[Filter("kind", _("Kind"), "kind", list(LedgerEntry.Kind.choices))],
        account_lookup="account_id",
    ),
    Record(
        "accounts",
        _("Points accounts"),
        lambda: Account.objects.select_related("user").order_by("-id"),
        [
            (_("Member number"), lambda a: Cell(f"#{a.pk}")),
            (_("Customer"), lambda a: _customer(a.user)),
            (_("Balance"), lambda a: Cell(a.balance)),
            (_("Last activity"), lambda a: Cell(_when(a.last_activity_at))),
            (_("Created"), lambda a: Cell(_when(a.created_at))),
        ],
        search=["user__email", "user__username"],
        account_lookup="pk",
    ),
    Record(
        "lots",
        _("Points lots"),
        lambda: PointsLot.objects.select_related("account__user").order_by("-id"),
        [
            (_("Customer"), lambda lot: _customer(lot.account.user)),
            (_("Points"), lambda lot: Cell(lot.points)),
            (_("Remaining"), lambda lot: Cell(lot.remaining)),
            (_("Earned"), lambda lot: Cell(_when(lot.earned_at))),
            (_("Expires"), lambda lot: Cell(_when(lot.expires_at))),
        ],
        search=["account__user__email"],
        filters=[Filter("open", _("Points left"), "remaining__gt", [("0", _("Yes"))])],
        account_lookup="account_id",
    ),
    Record(
        "awards",
        _("Pending awards"),
        lambda: PendingAward.objects.select_related("order", "account__user").order_by("-id"),
        [
            (_("Order"), lambda a: Cell(a.order.number if a.order_id else "")),
            (_("Customer"), lambda a: _customer(a.account.user)),
            (_("Points"), lambda a: Cell(a.points)),
            (_("Points at first"), lambda a: Cell(a.original_points)),
            (_("Status"), lambda a: Cell(a.get_status_display())),
            (_("Available from"), lambda a: Cell(_when(a.matures_at))),
        ],
        search=["order__number", "account__user__email"],
        filters=[Filter("status", _("Status"), "status", list(PendingAward.Status.choices))],
        account_lookup="account_id",
    ),
    Record(
        "referrals",
        _("Referrals"),
        lambda: Referral.objects.select_related("referrer", "referred").order_by("-id"),
        [
            (_("Referrer"), lambda r: _customer(r.referrer)),
            (_("Friend"), lambda r: _customer(r.referred)),
            (_("Status"), lambda r: Cell(r.get_status_display())),
            (_("Why"), lambda r: Cell(r.reason)),
            (_("Created"), lambda r: Cell(_when(r.created_at))),
            (
                "",
                lambda r: Cell("", void=r.pk if r.status != Referral.Status.VOID else None),
            ),
        ],
        search=["referrer__email", "referred__email"],
        filters=[Filter("status", _("Status"), "status", list(Referral.Status.choices))],
    ),
    Record(
        "consents",
        _("Marketing consents"),
        lambda: MarketingConsent.objects.select_related("user").order_by("-changed_at", "-id"),
        [
            (_("Customer"), lambda c: _customer(c.user)),
            (_("Marketing emails"), lambda c: _yes_no(c.marketing)),
            (_("Changed"), lambda c: Cell(_when(c.changed_at))),
            (_("Where"), lambda c: Cell(c.get_source_display())),
            (_("Language"), lambda c: Cell(c.language)),
        ],
        search=["user__email"],
        filters=[
            Filter("marketing", _("Marketing emails"), "marketing", YES_NO),
            Filter("source", _("Where"), "source", list(MarketingConsent.Source.choices)),
        ],
    ),
    Record(
        "emails",
        _("Sent emails"),
        lambda: SentMessage.objects.select_related("user").order_by("-claimed_at", "-id"),
        [
            (_("Customer"), lambda m: _customer(m.user)),
            (_("Message"), lambda m: Cell(m.message)),
            (_("About"), lambda m: Cell(m.key)),
            (_("Claimed"), lambda m: Cell(_when(m.claimed_at))),
            (_("Sent"), lambda m: Cell(_when(m.sent_at))),
        ],
        search=["user__email", "key"],
        filters=[Filter("message", _("Message"), "message", _messages_sent)],
    ),
    Record(
        "data-requests",
        _("Data requests"),
        lambda: DataRequest.objects.select_related("account__user", "requested_by").order_by("-id"),
        [
            (_("Date"), lambda d: Cell(_when(d.created_at))),
            (_("Action"), lambda d: Cell(d.get_action_display())),
            (
                _("Customer"),
                lambda d: _customer(d.customer or (d.account.user if d.account else None)),
            ),
            (_("Requested by"), lambda d: Cell(d.requested_by.email if d.requested_by else "")),
            (_("By staff"), lambda d: _yes_no(d.by_staff)),
        ],
        filters=[
            Filter("action", _("Action"), "action", list(DataRequest.Action.choices)),
            Filter("by_staff", _("By staff"), "by_staff", YES_NO),
        ],
        account_lookup="account_id",
    ),
]
BY_SLUG = {record.slug: record for record in RECORDS}

# The dashboard page of each model the Django admin registers (admin.py).
ADMIN_PAGES = {
    "oscar_loyalty.Account": ("loyalty-dashboard:record-list", "accounts"),
    "oscar_loyalty.LedgerEntry": ("loyalty-dashboard:record-list", "entries"),
    "oscar_loyalty.PointsLot": ("loyalty-dashboard:record-list", "lots"),
    "oscar_loyalty.PendingAward": ("loyalty-dashboard:record-list", "awards"),
    "oscar_loyalty.Referral": ("loyalty-dashboard:record-list", "referrals"),
    "oscar_loyalty.MarketingConsent": ("loyalty-dashboard:record-list", "consents"),
    "oscar_loyalty.SentMessage": ("loyalty-dashboard:record-list", "emails"),
    "oscar_loyalty.DataRequest": ("loyalty-dashboard:record-list", "data-requests"),
    "oscar_loyalty.BonusCampaign": ("loyalty-dashboard:campaign-list", None),
    "oscar_loyalty.ImportRun": ("loyalty-dashboard:import", None),
}
