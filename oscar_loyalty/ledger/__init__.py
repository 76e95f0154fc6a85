"""The only writer of points.

Every change of a balance goes through one of the verbs below: ``earn``,
``spend``, ``restore``, ``expire``, ``clawback`` and ``adjust``. Each one

* runs in one transaction holding a lock on the account row, so checks and
  writes cannot interleave (two tabs cannot spend the same points);
* is idempotent: the caller names the cause in ``key`` (``earn:order:100023``),
  and the same key twice posts once and returns the first entry;
* keeps ``Account.balance`` and the lots' ``remaining`` equal to the sum of the
  entries;
* raises ``LedgerError`` (``InsufficientPoints`` when overdrawing) for bad
  input, having written nothing.

``reason`` is a ``reasons.Reason`` (a code and its parameters), so every
reader sees it in their own language (docs/ledger.rst lists the codes). Plain
text is stored as it is, and shown to everyone as written: a staff member's
adjustment is that, and becomes ``staff_adjustment`` with the text.

No other module may create ``LedgerEntry`` rows or change balances; the
periodic jobs post many entries at once through ``ledger.bulk``, which keeps
the same rules in a few set-based statements.

``LedgerError`` and ``InsufficientPoints`` are importable from here, their
home is ``oscar_loyalty.exceptions``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias, TypeVar, cast

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.db.models import F, OrderBy, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import keys, reasons, signals
from ..conf import loyalty_settings
from ..exceptions import InsufficientPoints, LedgerError
from ..models import Account, LedgerEntry, LotConsumption, PointsLot, Shortfall

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django_stubs_ext import StrOrPromise
    from oscar.apps.order.abstract_models import AbstractOrder
    from oscar.apps.voucher.abstract_models import AbstractVoucher

Kind = LedgerEntry.Kind

# One entry never moves more points than this: far above any real purchase,
# far below what overflows the database's integer column.
__all__ = [
    "InsufficientPoints",
    "LedgerError",
    "adjust",
    "balance_from_entries",
    "clawback",
    "close_account",
    "default_expiry",
    "earn",
    "expire",
    "get_account",
    "restore",
    "spend",
]

# An account, or its id: every verb takes either; the same for an entry's order and voucher.
AccountRef = Account | int
OrderRef: TypeAlias = "AbstractOrder | int | None"
VoucherRef: TypeAlias = "AbstractVoucher | int | None"
# What the customer reads: a coded reason (rendered in the reader's language),
# or text, shown as written.
Reason: TypeAlias = "reasons.Reason | StrOrPromise"
_Posted = TypeVar("_Posted", LedgerEntry, LedgerEntry | None)

MAX_POINTS = 1_000_000_000
# Both are CharFields, so both have a max_length.
MAX_KEY_LENGTH = cast(int, LedgerEntry._meta.get_field("idempotency_key").max_length)
MAX_REASON_LENGTH = cast(int, LedgerEntry._meta.get_field("reason").max_length)


def get_account(user: AbstractBaseUser | AnonymousUser | None) -> Account:
    """The customer's account, created on first need."""
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        raise LedgerError(_("Only signed-in customers have a points account."))
    account, _created = Account.objects.get_or_create(user_id=user.pk)
    return account


def default_expiry(earned_at: datetime) -> datetime | None:
    """When points earned at ``earned_at`` expire under the configured policy."""
    if loyalty_settings.EXPIRY_POLICY == "lifetime":
        return earned_at + relativedelta(months=loyalty_settings.EXPIRY_MONTHS)
    return None


# The verbs ---------------------------------------------------------------------


def earn(
    account: AccountRef,
    points: int,
    *,
    key: str,
    reason: Reason,
    order: OrderRef = None,
    earned_at: datetime | None = None,
    staff_user: AbstractBaseUser | None = None,
) -> LedgerEntry:
    """Credit ``points`` in a new lot expiring by the configured policy.

    ``earned_at`` (default now) is an aware date and time, not in the future.

    ``staff_user``: the staff member who gave them (at the till), for the audit.
    """
    _check_points(points)
    earned_at = _check_earned_at(earned_at or timezone.now())

    def post(acct: Account) -> LedgerEntry:
        entry = _write(
            acct, Kind.EARN, points, key, reason, order=order, activity=True, staff_user=staff_user
        )
        _new_lot(entry, points, earned_at, default_expiry(earned_at))
        return entry

    return _post(account, Kind.EARN, key, reason, post)


def spend(
    account: AccountRef,
    points: int,
    *,
    key: str,
    reason: Reason,
    order: OrderRef = None,
    voucher: VoucherRef = None,
    staff_user: AbstractBaseUser | None = None,
) -> LedgerEntry:
    """Debit ``points``, soonest-expiring lots first; never overdraws."""
    _check_points(points)

    def post(acct: Account) -> LedgerEntry:
        _require(acct, points)
        entry = _write(
            acct,
            Kind.SPEND,
            -points,
            key,
            reason,
            order=order,
            voucher=voucher,
            activity=True,
            staff_user=staff_user,
        )
        _consume(entry, points)
        return entry

    return _post(account, Kind.SPEND, key, reason, post)


def restore(
    spend_entry: LedgerEntry, *, key: str, reason: Reason, points: int | None = None
) -> LedgerEntry:
    """Give back what a spend took (all of it, or ``points`` of it), once.

    The points come back with the expiry dates they had, so spending and
    un-spending never extends their life. Restoring more than is left of the
    spend is refused. What a refund's clawback could not take while these
    points were spent is taken from them at once (see ``clawback``).
    """
    if not isinstance(spend_entry, LedgerEntry) or spend_entry.kind != Kind.SPEND:
        raise LedgerError(_("Only a spend can be restored."))
    if points is not None:
        _check_points(points)

    def post(acct: Account) -> LedgerEntry:
        restorable = -spend_entry.points - _restored(spend_entry)
        amount = restorable if points is None else points
        if amount <= 0 or amount > restorable:
            raise LedgerError(
                _("Cannot restore %(points)s points: %(left)d left to restore.")
                % {"points": amount, "left": restorable}
            )
        entry = _write(
            acct,
            Kind.RESTORE,
            amount,
            key,
            reason,
            order=spend_entry.order_id,
            voucher=spend_entry.voucher_id,
            reverses=spend_entry,
        )
        _relot(entry, spend_entry, amount, already=(-spend_entry.points - restorable))
        _settle_shortfalls(acct, entry, spend_entry, amount)
        _forfeit_if_closed(acct)
        return entry

    return _post(spend_entry.account_id, Kind.RESTORE, key, reason, post)


def expire(lot: PointsLot, *, reason: Reason = "", key: str | None = None) -> LedgerEntry | None:
    """Expire what is left of ``lot``. Returns None if nothing is left."""
    if not isinstance(lot, PointsLot) or lot.pk is None:
        raise LedgerError(_("Only a saved points lot can expire."))
    key = key or keys.lot_expire(lot.pk)
    reason = reason or reasons.Reason(reasons.EXPIRED)

    def post(acct: Account) -> LedgerEntry | None:
        fresh = PointsLot.objects.get(pk=lot.pk)
        if fresh.remaining == 0:
            return None
        entry = _write(acct, Kind.EXPIRE, -fresh.remaining, key, reason)
        _take(entry, [fresh], fresh.remaining)
        return entry

    return _post(lot.account_id, Kind.EXPIRE, key, reason, post)


def clawback(
    account: AccountRef,
    points: int,
    *,
    key: str,
    reason: Reason,
    order: OrderRef = None,
    reverses: LedgerEntry | None = None,
) -> LedgerEntry | None:
    """Take back up to ``points`` (for a refund after the points were earned).

    If the customer already spent some of them, only what is left is taken:
    the balance never goes below zero. Points still in the lot(s) that
    ``reverses`` created go first. Returns None if the balance is zero.

    What could not be taken waits, as a ``Shortfall``, on the account's spends
    that could still give points back (newest first, each up to what is left
    to restore of it): when one is restored, ``restore`` takes it then. What no
    spend can bring back is forgiven.
    """
    _check_points(points)

    def post(acct: Account) -> LedgerEntry | None:
        if Shortfall.objects.filter(clawback_key=key).exists():
            return None  # replayed: it took nothing and left its shortfall waiting
        amount = min(points, acct.balance)
        entry = None
        if amount:
            entry = _write(
                acct, Kind.CLAWBACK, -amount, key, reason, order=order, reverses=reverses
            )
            _consume(entry, amount, prefer_entry=reverses)
        if amount < points:
            _park_shortfall(acct, points - amount, key, reason, order, reverses)
        return entry

    return _post(account, Kind.CLAWBACK, key, reason, post)


def adjust(
    account: AccountRef,
    points: int,
    *,
    key: str,
    reason: Reason,
    staff_user: AbstractBaseUser | None,
) -> LedgerEntry:
    """A staff member's correction, up or down, with the reason the customer will read.

    Text is the staff member's own words (``staff_adjustment``), shown as written.
    """
    if not isinstance(reason, reasons.Reason):
        reason = reasons.staff_adjustment(str(reason or ""))
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise LedgerError(_("Points must be a non-zero whole number."))
    _check_points(abs(points))
    if staff_user is None or not getattr(staff_user, "is_staff", False):
        raise LedgerError(_("Only staff can adjust points."))

    def post(acct: Account) -> LedgerEntry:
        if points < 0:
            _require(acct, -points)
        entry = _write(acct, Kind.ADJUSTMENT, points, key, reason, staff_user=staff_user)
        if points > 0:
            now = entry.created_at
            _new_lot(entry, points, now, default_expiry(now))
        else:
            _consume(entry, -points)
        return entry

    return _post(account, Kind.ADJUSTMENT, key, reason, post)


def _forfeit_if_closed(acct: Account) -> None:
    """Points coming back to a closed account (an order that used its points voucher,
    cancelled after the customer left) are forfeited at once: the shop owes nobody."""
    if acct.closed_at is None:
        return
    for lot in PointsLot.objects.filter(account_id=acct.pk, remaining__gt=0).order_by("id"):
        expire(lot, reason=reasons.Reason(reasons.ACCOUNT_DELETED), key=keys.lot_close(lot.pk))
    acct.refresh_from_db(fields=["balance"])


def close_account(account: AccountRef) -> int:
    """The customer was deleted: keep the account's entries, but no longer theirs.

    What is left of the balance is forfeited (an expiry per open lot, key
    ``close:lot:<id>``), so the shop owes nobody; the free-text reasons staff
    wrote on adjustments, which may name the customer, become the kind's label
    (code ``adjustment``: the only change ever made to a posted entry); and the
    account is detached
    from the customer. Returns the points forfeited. Closing twice forfeits once.
    """
    pk = account.pk if isinstance(account, Account) else account
    with transaction.atomic():
        acct = Account.objects.select_for_update().filter(pk=pk).first()
        if acct is None:
            raise LedgerError(_("Unknown points account %(account)r.") % {"account": account})
        forfeited = 0
        for lot in PointsLot.objects.filter(account_id=pk, remaining__gt=0).order_by("id"):
            entry = expire(
                lot, reason=reasons.Reason(reasons.ACCOUNT_DELETED), key=keys.lot_close(lot.pk)
            )
            forfeited -= entry.points if entry else 0
        adjusted = reasons.Reason(reasons.ADJUSTMENT)
        LedgerEntry.objects.filter(account_id=pk, kind=Kind.ADJUSTMENT).update(
            reason=str(adjusted), reason_code=adjusted.code, reason_params={}
        )
        Account.objects.filter(pk=pk).update(user=None, closed_at=acct.closed_at or timezone.now())
    return forfeited


# Reading -----------------------------------------------------------------------


def balance_from_entries(account: AccountRef) -> int:
    """The balance recomputed from the entries: what ``Account.balance`` caches."""
    pk = account.pk if isinstance(account, Account) else account
    return LedgerEntry.objects.filter(account_id=pk).aggregate(s=Sum("points"))["s"] or 0


# Internals ---------------------------------------------------------------------


def _check_points(points: object) -> None:
    if isinstance(points, bool) or not isinstance(points, int):
        raise LedgerError(_("Points must be a whole number, got %(value)r.") % {"value": points})
    if points <= 0:
        raise LedgerError(_("Points must be more than zero, got %(value)d.") % {"value": points})
    if points > MAX_POINTS:
        raise LedgerError(
            _("Points must be at most %(max)d, got %(value)d.")
            % {"max": MAX_POINTS, "value": points}
        )


def _check_earned_at(earned_at: object) -> datetime:
    """An aware datetime, not in the future, whose expiry can be written: else ``LedgerError``."""
    if not isinstance(earned_at, datetime) or timezone.is_naive(earned_at):
        raise LedgerError(_("A date of earning must be an aware date and time."))
    if earned_at > timezone.now():
        raise LedgerError(_("Points cannot be earned in the future."))
    try:
        default_expiry(earned_at)
    except (OverflowError, ValueError):
        raise LedgerError(_("The points would expire after the last date there is.")) from None
    return earned_at


def _check_text(key: object, reason: Reason | None) -> None:
    # PostgreSQL refuses NUL bytes in text: refuse them here, before any write.
    if (isinstance(key, str) and "\x00" in key) or "\x00" in str(reason or ""):
        raise LedgerError(_("An idempotency key or a reason cannot contain a NUL byte."))
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise LedgerError(
            _("An idempotency key must be a non-empty text of at most %(max)d characters.")
            % {"max": MAX_KEY_LENGTH}
        )
    reason = str(reason) if reason is not None else ""
    if not reason.strip() or len(reason) > MAX_REASON_LENGTH:
        raise LedgerError(
            _("A reason must be a non-empty text of at most %(max)d characters.")
            % {"max": MAX_REASON_LENGTH}
        )


def _post(
    account: AccountRef,
    kind: str,
    key: str,
    reason: Reason,
    post: Callable[[Account], _Posted],
) -> _Posted:
    """Run ``post(locked_account)`` once per key, in a transaction."""
    _check_text(key, reason)
    pk = account.pk if isinstance(account, Account) else account
    if isinstance(pk, bool) or not isinstance(pk, int):
        raise LedgerError(_("Unknown points account %(account)r.") % {"account": account})
    try:
        with transaction.atomic():
            try:
                acct = Account.objects.select_for_update().get(pk=pk)
            except Account.DoesNotExist:
                raise LedgerError(
                    _("Unknown points account %(account)r.") % {"account": account}
                ) from None
            existing = LedgerEntry.objects.filter(idempotency_key=key).first()
            if existing is not None:
                return _replay(existing, pk, kind)
            entry = post(acct)
            if entry is not None:
                signals.send_on_commit(signals.points_posted, LedgerEntry, entry=entry)
            return entry
    except IntegrityError:
        # Another account's entry took the key between our check and insert.
        existing = LedgerEntry.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return _replay(existing, pk, kind)


def _replay(existing: LedgerEntry, pk: int, kind: str) -> LedgerEntry:
    if existing.account_id != pk or existing.kind != kind:
        raise LedgerError(
            _("The key %(key)r already names another entry.") % {"key": existing.idempotency_key}
        )
    return existing


def _require(acct: Account, points: int) -> None:
    if acct.balance < points:
        raise InsufficientPoints(acct.balance, points)


def _write(
    acct: Account,
    kind: str,
    points: int,
    key: str,
    reason: Reason,
    *,
    activity: bool = False,
    order: OrderRef = None,
    voucher: VoucherRef = None,
    reverses: LedgerEntry | int | None = None,
    staff_user: AbstractBaseUser | None = None,
) -> LedgerEntry:
    now = timezone.now()
    acct.balance += points
    fields = ["balance"]
    if activity:
        acct.last_activity_at = now
        fields.append("last_activity_at")
    acct.save(update_fields=fields)
    code, params = _coded(reason)
    return LedgerEntry.objects.create(
        account=acct,
        kind=kind,
        points=points,
        balance_after=acct.balance,
        reason=str(reason),
        reason_code=code,
        reason_params=params,
        idempotency_key=key,
        created_at=now,
        order_id=getattr(order, "pk", order),
        voucher_id=getattr(voucher, "pk", voucher),
        reverses_id=getattr(reverses, "pk", reverses),
        staff_user_id=getattr(staff_user, "pk", None),
    )


def _coded(reason: Reason) -> tuple[str, dict]:
    """The code and parameters stored for ``reason`` (none for plain text)."""
    if isinstance(reason, reasons.Reason):
        return reason.code, dict(reason.params)
    return "", {}


def _new_lot(
    entry: LedgerEntry, points: int, earned_at: datetime, expires_at: datetime | None
) -> None:
    PointsLot.objects.create(
        account_id=entry.account_id,
        entry=entry,
        points=points,
        remaining=points,
        earned_at=earned_at,
        expires_at=expires_at,
    )


def _consume(entry: LedgerEntry, points: int, prefer_entry: LedgerEntry | None = None) -> None:
    lots = PointsLot.objects.filter(account_id=entry.account_id, remaining__gt=0)
    order: list[OrderBy | str] = [F("expires_at").asc(nulls_last=True), "id"]
    if prefer_entry is not None:
        lots = lots.annotate(preferred=Q(entry_id=prefer_entry.pk))
        order.insert(0, F("preferred").desc())
    _take(entry, lots.order_by(*order), points)


def _take(entry: LedgerEntry, lots: Iterable[PointsLot], points: int) -> None:
    """Take ``points`` from ``lots`` in their order, recording each take."""
    changed, takes = [], []
    for lot in lots:
        if points == 0:
            break
        n = min(lot.remaining, points)
        lot.remaining -= n
        points -= n
        changed.append(lot)
        takes.append(LotConsumption(entry=entry, lot=lot, points=n))
    if points:  # the cached balance and the lots disagree: never write that
        raise LedgerError(_("The account's points lots do not cover its balance."))
    PointsLot.objects.bulk_update(changed, ["remaining"])
    LotConsumption.objects.bulk_create(takes)


def _restored(spend_entry: LedgerEntry) -> int:
    return (
        LedgerEntry.objects.filter(reverses=spend_entry, kind=Kind.RESTORE).aggregate(
            s=Sum("points")
        )["s"]
        or 0
    )


def _park_shortfall(
    acct: Account,
    points: int,
    key: str,
    reason: Reason,
    order: OrderRef,
    reverses: LedgerEntry | None,
) -> None:
    """Leave ``points`` a clawback could not take waiting on spends that may come back."""
    restored = (
        LedgerEntry.objects.filter(reverses=OuterRef("pk"), kind=Kind.RESTORE)
        .values("reverses")
        .annotate(s=Sum("points"))
        .values("s")
    )
    waiting = (
        Shortfall.objects.filter(spend=OuterRef("pk"))
        .values("spend")
        .annotate(s=Sum(F("points") - F("taken")))
        .values("s")
    )
    spends = (
        LedgerEntry.objects.filter(account=acct, kind=Kind.SPEND)
        .annotate(
            free=-F("points") - Coalesce(Subquery(restored), 0) - Coalesce(Subquery(waiting), 0)
        )
        .filter(free__gt=0)
        .order_by("-id")
    )
    parked = []
    code, params = _coded(reason)
    for spend in spends:
        n = min(points, spend.free)
        parked.append(
            Shortfall(
                account=acct,
                spend=spend,
                clawback_key=key,
                reverses=reverses,
                order_id=getattr(order, "pk", order),
                reason=str(reason),
                reason_code=code,
                reason_params=params,
                points=n,
            )
        )
        points -= n
        if points == 0:
            break
    Shortfall.objects.bulk_create(parked)


def _settle_shortfalls(
    acct: Account, restore_entry: LedgerEntry, spend_entry: LedgerEntry, amount: int
) -> None:
    """Take what waits on ``spend_entry`` out of the ``amount`` points just restored."""
    for shortfall in Shortfall.objects.filter(spend=spend_entry, taken__lt=F("points")).order_by(
        "id"
    ):
        n = min(shortfall.open, amount)
        entry = _write(
            acct,
            Kind.CLAWBACK,
            -n,
            keys.shortfall_take(shortfall.pk, restore_entry.pk),
            reasons.Reason(shortfall.reason_code, shortfall.reason_params)
            if shortfall.reason_code
            else shortfall.reason,
            order=shortfall.order_id,
            reverses=shortfall.reverses_id,
        )
        _consume(entry, n, prefer_entry=restore_entry)
        signals.send_on_commit(signals.points_posted, LedgerEntry, entry=entry)
        shortfall.taken += n
        shortfall.save(update_fields=["taken"])
        amount -= n
        if amount == 0:
            return


def _relot(entry: LedgerEntry, spend_entry: LedgerEntry, amount: int, already: int) -> None:
    """New lots for restored points, with the dates of the lots they were taken from.

    Points are given back last-taken first; ``already`` of them were given back
    by earlier restores.
    """
    takes = spend_entry.consumptions.select_related("lot").order_by("-id")
    for take in takes:
        skip = min(already, take.points)
        already -= skip
        n = min(take.points - skip, amount)
        if n:
            _new_lot(entry, n, take.lot.earned_at, take.lot.expires_at)
            amount -= n
        if amount == 0:
            break
