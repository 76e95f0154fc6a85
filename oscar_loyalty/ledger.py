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

No other module may create ``LedgerEntry`` rows or change balances.
"""

from __future__ import annotations

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_model

from . import keys
from .conf import loyalty_settings
from .exceptions import InsufficientPoints, LedgerError
from .models import Account, LedgerEntry, LotConsumption, PendingAward, PointsLot

Kind = LedgerEntry.Kind

# One entry never moves more points than this: far above any real purchase,
# far below what overflows the database's integer column.
MAX_POINTS = 1_000_000_000
MAX_KEY_LENGTH = LedgerEntry._meta.get_field("idempotency_key").max_length
MAX_REASON_LENGTH = LedgerEntry._meta.get_field("reason").max_length


def get_account(user) -> Account:
    """The customer's account, created on first need."""
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        raise LedgerError(_("Only signed-in customers have a points account."))
    account, _created = Account.objects.get_or_create(user=user)
    return account


def default_expiry(earned_at):
    """When points earned at ``earned_at`` expire under the configured policy."""
    if loyalty_settings.EXPIRY_POLICY == "lifetime":
        return earned_at + relativedelta(months=loyalty_settings.EXPIRY_MONTHS)
    return None


# The verbs ---------------------------------------------------------------------


def earn(account, points: int, *, key: str, reason: str, order=None, earned_at=None):
    """Credit ``points`` in a new lot expiring by the configured policy."""
    _check_points(points)
    earned_at = earned_at or timezone.now()

    def post(acct):
        entry = _write(acct, Kind.EARN, points, key, reason, order=order, activity=True)
        _new_lot(entry, points, earned_at, default_expiry(earned_at))
        return entry

    return _post(account, Kind.EARN, key, reason, post)


def spend(account, points: int, *, key: str, reason: str, order=None, voucher=None):
    """Debit ``points``, soonest-expiring lots first; never overdraws."""
    _check_points(points)

    def post(acct):
        _require(acct, points)
        entry = _write(
            acct, Kind.SPEND, -points, key, reason, order=order, voucher=voucher, activity=True
        )
        _consume(entry, points)
        return entry

    return _post(account, Kind.SPEND, key, reason, post)


def restore(spend_entry: LedgerEntry, *, key: str, reason: str, points: int | None = None):
    """Give back what a spend took (all of it, or ``points`` of it), once.

    The points come back with the expiry dates they had, so spending and
    un-spending never extends their life. Restoring more than is left of the
    spend is refused.
    """
    if not isinstance(spend_entry, LedgerEntry) or spend_entry.kind != Kind.SPEND:
        raise LedgerError(_("Only a spend can be restored."))
    if points is not None:
        _check_points(points)

    def post(acct):
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
        return entry

    return _post(spend_entry.account_id, Kind.RESTORE, key, reason, post)


def expire(lot: PointsLot, *, reason: str = "", key: str | None = None):
    """Expire what is left of ``lot``. Returns None if nothing is left."""
    if not isinstance(lot, PointsLot) or lot.pk is None:
        raise LedgerError(_("Only a saved points lot can expire."))
    key = key or keys.lot_expire(lot.pk)
    reason = reason or str(_("Expired"))

    def post(acct):
        fresh = PointsLot.objects.get(pk=lot.pk)
        if fresh.remaining == 0:
            return None
        entry = _write(acct, Kind.EXPIRE, -fresh.remaining, key, reason)
        _take(entry, [fresh], fresh.remaining)
        return entry

    return _post(lot.account_id, Kind.EXPIRE, key, reason, post)


def clawback(
    account, points: int, *, key: str, reason: str, order=None, reverses: LedgerEntry | None = None
):
    """Take back up to ``points`` (for a refund after the points were earned).

    If the customer already spent some of them, only what is left is taken:
    the balance never goes below zero. Points still in the lot(s) that
    ``reverses`` created go first. Returns None if the balance is zero.
    """
    _check_points(points)

    def post(acct):
        amount = min(points, acct.balance)
        if amount == 0:
            return None
        entry = _write(acct, Kind.CLAWBACK, -amount, key, reason, order=order, reverses=reverses)
        _consume(entry, amount, prefer_entry=reverses)
        return entry

    return _post(account, Kind.CLAWBACK, key, reason, post)


def adjust(account, points: int, *, key: str, reason: str, staff_user):
    """A staff member's correction, up or down, with the reason the customer will read."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise LedgerError(_("Points must be a non-zero whole number."))
    _check_points(abs(points))
    if staff_user is None or not getattr(staff_user, "is_staff", False):
        raise LedgerError(_("Only staff can adjust points."))

    def post(acct):
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


# Set-based verbs, for the periodic tasks ----------------------------------------
#
# These post many entries in a few statements. The caller runs them inside a
# transaction; they lock the accounts they touch (in id order, like every other
# writer) and skip what was already posted, so running twice posts once.


def order_reason(number) -> str:
    return f"Order {number}"


REFERRAL_REASON = "Referral: a friend's first order"


def earn_awards(award_ids, now) -> int:
    """Post the earn entries of these pending awards and mark them earned.

    A customer's award earns under ``earn:order:<number>``, for that order; a
    referrer's under ``earn:referral:<id>``, pointing at no order (it is
    someone else's). Each goes in a new lot expiring by policy from ``now``.
    Returns the number of entries posted.
    """
    award_ids = list(award_ids)
    if not award_ids:
        return 0
    t = _Tables()
    ids = _in(award_ids)
    key = (
        "CASE WHEN a.referral_id IS NULL THEN %s || o.number "
        "ELSE %s || CAST(a.referral_id AS VARCHAR(20)) END"
    )
    key_params = [keys.ORDER_EARN, keys.REFERRAL_EARN]
    _lock_accounts(
        PendingAward.objects.filter(pk__in=award_ids).values_list("account_id", flat=True)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {t.entry} (account_id, kind, points, balance_after, reason,
                                   idempotency_key, created_at, order_id)
            SELECT a.account_id, %s, a.points,
                   acc.balance + SUM(a.points) OVER (PARTITION BY a.account_id ORDER BY a.id),
                   CASE WHEN a.referral_id IS NULL THEN %s || o.number ELSE %s END,
                   {key}, %s,
                   CASE WHEN a.referral_id IS NULL THEN a.order_id END
            FROM {t.award} a
            JOIN {t.account} acc ON acc.id = a.account_id
            JOIN {t.order} o ON o.id = a.order_id
            WHERE a.id IN ({ids}) AND a.status = %s AND a.points > 0
              AND NOT EXISTS (SELECT 1 FROM {t.entry} e WHERE e.idempotency_key = {key})
            RETURNING id
            """,
            [
                Kind.EARN,
                order_reason(""),
                REFERRAL_REASON,
                *key_params,
                _db(now),
                *award_ids,
                PendingAward.Status.PENDING,
                *key_params,
            ],
        )
        posted = cursor.fetchall()
        cursor.execute(
            f"UPDATE {t.award} SET status = %s WHERE id IN ({ids}) AND status = %s",
            [PendingAward.Status.EARNED, *award_ids, PendingAward.Status.PENDING],
        )
        if posted:
            entry_ids = [row[0] for row in posted]
            cursor.execute(
                f"""
                INSERT INTO {t.lot} (account_id, entry_id, points, remaining, earned_at,
                                     expires_at)
                SELECT account_id, id, points, points, %s, %s FROM {t.entry}
                WHERE id IN ({_in(entry_ids)})
                """,
                [_db(now), _db(default_expiry(now)), *entry_ids],
            )
            _add_to_balances(cursor, t, entry_ids, now)
    return len(posted)


def earn_due_awards(now, limit, after=None):
    """Post the next ``limit`` due awards, in (``matures_at``, id) order after ``after``.

    Awards another transaction has locked are skipped. Returns ``(posted,
    last)``: the entries posted and the (``matures_at``, id) of the chunk's
    last award, the ``after`` of the next chunk (``None``: nothing was due).
    On PostgreSQL this is one statement, so a chunk costs one round trip and
    no ids travel through Python; elsewhere the chunk is read, then posted
    by ``earn_awards``.
    """
    if connection.vendor == "postgresql":
        return _earn_due_awards_pg(now, limit, after)
    return _earn_due_awards_portable(now, limit, after)


def _earn_due_awards_portable(now, limit, after):
    due = PendingAward.objects.filter(status=PendingAward.Status.PENDING, matures_at__lte=now)
    if after is not None:
        due = due.filter(Q(matures_at__gt=after[0]) | Q(matures_at=after[0], id__gt=after[1]))
    rows = list(
        due.select_for_update(skip_locked=True)
        .order_by("matures_at", "id")
        .values_list("matures_at", "id")[:limit]
    )
    if not rows:
        return 0, None
    return earn_awards([pk for _at, pk in rows], now), rows[-1]


def _earn_due_awards_pg(now, limit, after):
    """``earn_due_awards`` as one data-modifying statement.

    Locks as the other writers do: the chunk's awards (skipping locked ones),
    then their accounts in id order, whose locked rows give the balances the
    entries run from. The CTEs see one snapshot, which is why each reads what
    an earlier one locked or returned, never the tables again.
    """
    t = _Tables()
    after_sql = "AND (a.matures_at, a.id) > (%(after_at)s, %(after_id)s)" if after else ""
    key = (
        "CASE WHEN c.referral_id IS NULL THEN %(order_key)s || o.number "
        "ELSE %(referral_key)s || CAST(c.referral_id AS VARCHAR(20)) END"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH chunk AS MATERIALIZED (
                SELECT a.id, a.account_id, a.points, a.order_id, a.referral_id, a.matures_at
                FROM {t.award} a
                WHERE a.status = %(pending)s AND a.matures_at <= %(now)s {after_sql}
                ORDER BY a.matures_at, a.id
                LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
            ), accounts AS MATERIALIZED (
                SELECT id, balance FROM {t.account}
                WHERE id IN (SELECT account_id FROM chunk)
                ORDER BY id
                FOR UPDATE
            ), due AS (
                SELECT c.id, c.account_id, c.points, c.order_id, c.referral_id, o.number,
                       {key} AS key
                FROM chunk c JOIN {t.order} o ON o.id = c.order_id
                WHERE c.points > 0
            ), entries AS (
                INSERT INTO {t.entry} (account_id, kind, points, balance_after, reason,
                                       idempotency_key, created_at, order_id)
                SELECT d.account_id, %(kind)s, d.points,
                       acc.balance
                       + SUM(d.points) OVER (PARTITION BY d.account_id ORDER BY d.id),
                       CASE WHEN d.referral_id IS NULL THEN %(order_reason)s || d.number
                            ELSE %(referral_reason)s END,
                       d.key, %(now)s,
                       CASE WHEN d.referral_id IS NULL THEN d.order_id END
                FROM due d JOIN accounts acc ON acc.id = d.account_id
                WHERE NOT EXISTS (SELECT 1 FROM {t.entry} e WHERE e.idempotency_key = d.key)
                RETURNING id, account_id, points
            ), lots AS (
                INSERT INTO {t.lot} (account_id, entry_id, points, remaining, earned_at,
                                     expires_at)
                SELECT account_id, id, points, points, %(now)s, %(expires)s FROM entries
            ), balances AS (
                UPDATE {t.account} SET balance = {t.account}.balance + new.points,
                                       last_activity_at = %(now)s
                FROM (SELECT account_id, SUM(points) AS points FROM entries
                      GROUP BY account_id) AS new
                WHERE {t.account}.id = new.account_id
            ), earned AS (
                UPDATE {t.award} SET status = %(earned)s
                FROM chunk WHERE {t.award}.id = chunk.id
            )
            SELECT (SELECT COUNT(*) FROM entries), last.matures_at, last.id
            FROM (SELECT matures_at, id FROM chunk
                  ORDER BY matures_at DESC, id DESC LIMIT 1) AS last
            """,
            {
                "pending": PendingAward.Status.PENDING,
                "earned": PendingAward.Status.EARNED,
                "now": now,
                "after_at": after and after[0],
                "after_id": after and after[1],
                "limit": limit,
                "order_key": keys.ORDER_EARN,
                "referral_key": keys.REFERRAL_EARN,
                "kind": Kind.EARN,
                "order_reason": order_reason(""),
                "referral_reason": REFERRAL_REASON,
                "expires": default_expiry(now),
            },
        )
        row = cursor.fetchone()
    if row is None:
        return 0, None
    posted, last_at, last_id = row
    return posted, (last_at, last_id)


def expire_lots(lot_ids, now, reason) -> int:
    """Expire what is left of these lots, under the keys ``expire:lot:<id>``."""
    lot_ids = list(lot_ids)
    if not lot_ids:
        return 0
    t = _Tables()
    ids = _in(lot_ids)
    _lock_accounts(PointsLot.objects.filter(pk__in=lot_ids).values_list("account_id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {t.entry} (account_id, kind, points, balance_after, reason,
                                   idempotency_key, created_at)
            SELECT l.account_id, %s, -l.remaining,
                   acc.balance - SUM(l.remaining) OVER (PARTITION BY l.account_id ORDER BY l.id),
                   %s, %s || l.id, %s
            FROM {t.lot} l JOIN {t.account} acc ON acc.id = l.account_id
            WHERE l.id IN ({ids}) AND l.remaining > 0
              AND NOT EXISTS (SELECT 1 FROM {t.entry} e
                              WHERE e.idempotency_key = %s || l.id)
            RETURNING id
            """,
            [Kind.EXPIRE, str(reason), keys.LOT_EXPIRE, _db(now), *lot_ids, keys.LOT_EXPIRE],
        )
        posted = cursor.fetchall()
        if not posted:
            return 0
        entry_ids = [row[0] for row in posted]
        cursor.execute(
            f"""
            INSERT INTO {t.consumption} (entry_id, lot_id, points)
            SELECT e.id, l.id, -e.points FROM {t.entry} e
            JOIN {t.lot} l ON e.idempotency_key = %s || l.id
            WHERE e.id IN ({_in(entry_ids)})
            """,
            [keys.LOT_EXPIRE, *entry_ids],
        )
        cursor.execute(
            f"""
            UPDATE {t.lot} SET remaining = 0 WHERE id IN (
                SELECT lot_id FROM {t.consumption} WHERE entry_id IN ({_in(entry_ids)}))
            """,
            entry_ids,
        )
        _add_to_balances(cursor, t, entry_ids, None)
    return len(posted)


class _Tables:
    def __init__(self):
        qn = connection.ops.quote_name
        self.entry = qn(LedgerEntry._meta.db_table)
        self.lot = qn(PointsLot._meta.db_table)
        self.account = qn(Account._meta.db_table)
        self.award = qn(PendingAward._meta.db_table)
        self.consumption = qn(LotConsumption._meta.db_table)
        self.order = qn(get_model("order", "Order")._meta.db_table)


def _in(values):
    return ", ".join(["%s"] * len(values))


def _db(value):
    return connection.ops.adapt_datetimefield_value(value) if value else None


def _lock_accounts(account_ids):
    """Lock these accounts in id order (``account_ids`` may be a queryset: one statement)."""
    list(
        Account.objects.select_for_update()
        .filter(pk__in=account_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _add_to_balances(cursor, t, entry_ids, activity_at):
    """Add the new entries to their accounts' balances, in one statement.

    The entries are summed once per account and joined to the accounts: a
    correlated sub-select per account looks cheap to the planner only while
    the ledger is small (past ~100,000 entries PostgreSQL starts compiling it
    with JIT, at ~100 ms a chunk).
    """
    activity = ", last_activity_at = %s" if activity_at else ""
    cursor.execute(
        f"""
        UPDATE {t.account} SET balance = balance + new.points{activity}
        FROM (SELECT account_id, SUM(points) AS points FROM {t.entry}
              WHERE id IN ({_in(entry_ids)}) GROUP BY account_id) AS new
        WHERE {t.account}.id = new.account_id
        """,
        [*([_db(activity_at)] if activity_at else []), *entry_ids],
    )


# Reading -----------------------------------------------------------------------


def balance_from_entries(account) -> int:
    """The balance recomputed from the entries: what ``Account.balance`` caches."""
    pk = account.pk if isinstance(account, Account) else account
    return LedgerEntry.objects.filter(account_id=pk).aggregate(s=Sum("points"))["s"] or 0


# Internals ---------------------------------------------------------------------


def _check_points(points):
    if isinstance(points, bool) or not isinstance(points, int):
        raise LedgerError(_("Points must be a whole number, got %(value)r.") % {"value": points})
    if points <= 0:
        raise LedgerError(_("Points must be more than zero, got %(value)d.") % {"value": points})
    if points > MAX_POINTS:
        raise LedgerError(
            _("Points must be at most %(max)d, got %(value)d.")
            % {"max": MAX_POINTS, "value": points}
        )


def _check_text(key, reason):
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


def _post(account, kind, key, reason, post):
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
            return post(acct)
    except IntegrityError:
        # Another account's entry took the key between our check and insert.
        existing = LedgerEntry.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return _replay(existing, pk, kind)


def _replay(existing, pk, kind):
    if existing.account_id != pk or existing.kind != kind:
        raise LedgerError(
            _("The key %(key)r already names another entry.") % {"key": existing.idempotency_key}
        )
    return existing


def _require(acct, points):
    if acct.balance < points:
        raise InsufficientPoints(acct.balance, points)


def _write(acct, kind, points, key, reason, *, activity=False, order=None, voucher=None, **cause):
    now = timezone.now()
    acct.balance += points
    fields = ["balance"]
    if activity:
        acct.last_activity_at = now
        fields.append("last_activity_at")
    acct.save(update_fields=fields)
    return LedgerEntry.objects.create(
        account=acct,
        kind=kind,
        points=points,
        balance_after=acct.balance,
        reason=str(reason),
        idempotency_key=key,
        created_at=now,
        order_id=getattr(order, "pk", order),
        voucher_id=getattr(voucher, "pk", voucher),
        **cause,
    )


def _new_lot(entry, points, earned_at, expires_at):
    PointsLot.objects.create(
        account_id=entry.account_id,
        entry=entry,
        points=points,
        remaining=points,
        earned_at=earned_at,
        expires_at=expires_at,
    )


def _consume(entry, points, prefer_entry=None):
    lots = PointsLot.objects.filter(account_id=entry.account_id, remaining__gt=0)
    order = [F("expires_at").asc(nulls_last=True), "id"]
    if prefer_entry is not None:
        lots = lots.annotate(preferred=Q(entry_id=prefer_entry.pk))
        order.insert(0, F("preferred").desc())
    _take(entry, lots.order_by(*order), points)


def _take(entry, lots, points):
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


def _restored(spend_entry):
    return (
        LedgerEntry.objects.filter(reverses=spend_entry, kind=Kind.RESTORE).aggregate(
            s=Sum("points")
        )["s"]
        or 0
    )


def _relot(entry, spend_entry, amount, already):
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
