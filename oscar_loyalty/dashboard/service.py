"""Customer service: finding a customer, what their points page shows staff, adjusting.

Plain functions the dashboard views call; points change only through
``ledger.adjust`` (audited with the staff user, the reason shown to the
customer).
"""

from __future__ import annotations

from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from .. import keys, ledger, reasons
from ..awards import pending_awards
from ..exceptions import InsufficientPoints, LedgerError
from ..models import Account, LedgerEntry, PointsLot, Referral


def search(text: str) -> Q:
    """Users whose email, name or username contains ``text``, or whose member number it is.

    A member number is the points account's number; "#42" and "42" both find it.
    """
    text = text.strip()
    found = (
        Q(email__icontains=text)
        | Q(username__icontains=text)
        | Q(first_name__icontains=text)
        | Q(last_name__icontains=text)
    )
    first, _sep, last = text.partition(" ")
    if last:
        found |= Q(first_name__icontains=first, last_name__icontains=last.strip())
    number = text.lstrip("#")
    if number.isdigit() and len(number) < 19:
        found |= Q(loyalty_account__pk=int(number))
    return found


def customer_page(user, history_size: int) -> dict:
    """What staff see of a customer's points, a constant number of queries."""
    account = Account.objects.filter(user=user).first()
    if account is None:
        return {"account": None, "referrals_made": _referrals(user), "referred_by": _referred(user)}
    entries = list(
        LedgerEntry.objects.filter(account=account)
        .select_related("order", "staff_user", "voucher__loyalty_redemption__order")
        .order_by("-id")[:history_size]
    )
    reasons.prefetch(entries)
    return {
        "account": account,
        "balance_checked": ledger.balance_from_entries(account) == account.balance,
        "pending": list(pending_awards(account)),
        "lots": list(
            PointsLot.objects.filter(account=account, remaining__gt=0).order_by("expires_at", "id")
        ),
        "entries": entries,
        "referrals_made": _referrals(user),
        "referred_by": _referred(user),
    }


HISTORY_CSV_HEADER = (
    _("Date"),
    _("Kind"),
    _("Points"),
    _("Balance after"),
    _("Reason the customer sees"),
    _("Order"),
    _("Staff user"),
)


def history_rows(account, language: str | None = None, chunk_size: int = 2000):
    """A customer's whole history for a CSV file, newest first, in ``language``.

    Read a chunk at a time (keyset on the id), each chunk's reasons rendered
    with one query for the rewards they name. The rows are made while the
    response streams, after the view returned: ``language`` is the request's.
    """
    with translation.override(language or translation.get_language()):
        yield from _history_rows(account, chunk_size)


def _history_rows(account, chunk_size):
    yield [str(title) for title in HISTORY_CSV_HEADER]
    if account is None:
        return
    entries = LedgerEntry.objects.filter(account=account).select_related(
        "order", "staff_user", "voucher__loyalty_redemption__order"
    )
    before = None
    while True:
        chunk = entries.filter(pk__lt=before) if before else entries
        page = list(chunk.order_by("-id")[:chunk_size])
        if not page:
            return
        reasons.prefetch(page)
        for entry in page:
            yield [
                entry.created_at.isoformat(),
                str(entry.get_kind_display()),
                entry.points,
                entry.balance_after,
                entry.customer_reason(),
                entry.order.number if entry.order_id else "",
                entry.staff_user.email if entry.staff_user_id else "",
            ]
        before = page[-1].pk


def _referrals(user):
    return list(
        Referral.objects.filter(referrer=user).select_related("referred").order_by("-created_at")
    )


def _referred(user):
    return Referral.objects.filter(referred=user).select_related("referrer").first()


def adjust(user, points: int, reason: str, token, staff_user) -> LedgerEntry:
    """Add (positive) or take away (negative) points, once per ``token``.

    Refused, with nothing written, for zero, a reason that is empty or too
    long, more points than the ledger allows, or taking more than the balance.
    """
    reason = (reason or "").strip()
    if not reason:
        raise LedgerError(_("Give the reason the customer will read."))
    if "\x00" in reason:
        raise LedgerError(_("The reason contains characters that cannot be stored."))
    account = Account.objects.filter(user=user).first()
    if account is None:
        if isinstance(points, int) and points < 0:
            raise InsufficientPoints(0, -points)  # not even an empty account is created
        account = ledger.get_account(user)
    return ledger.adjust(
        account,
        points,
        key=keys.staff_adjust(str(token)),
        reason=reason,
        staff_user=staff_user,
    )
