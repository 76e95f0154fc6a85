"""Set-based posting, for the periodic jobs and imports: many ledger entries in a few
statements.

The same rules as the verbs in ``ledger`` (this package is the only other
writer of entries): the caller runs each function inside a transaction; the
accounts touched are locked in id order, like every other writer does, and what
was already posted is skipped by its key, so running twice posts once. Keys
are built from the prefixes in ``keys``, in SQL.

On PostgreSQL a chunk of due awards matures in one statement
(``_earn_due_awards_pg``), which is what keeps ``bench/maturation.py`` fast;
elsewhere the chunk is read, then posted by ``earn_awards``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Q
from oscar.core.loading import get_model

from .. import keys, reasons, signals
from ..models import Account, LedgerEntry, LotConsumption, PendingAward, PointsLot
from . import default_expiry

Kind = LedgerEntry.Kind
# Where a chunk of due awards ends: its last award's (matures_at, id).
Position = tuple[datetime, int]


# The reasons' codes and source texts; an order's number goes in the text and
# in the parameters (``{"number": ...}``), built in SQL.
ORDER_REASON = reasons.Reason(reasons.ORDER, {"number": ""})
REFERRAL_REASON = reasons.Reason(reasons.REFERRAL)


def order_reason(number: str) -> str:
    """The source text of an order's earn (what the SQL below builds)."""
    return str(reasons.order(number))


IMPORT_REASON = reasons.Reason(reasons.IMPORTED)


class ImportedLot(NamedTuple):
    """A lot brought from another program: ``points`` for ``account_id``, under ``key``
    (``keys.import_lot``), expiring at ``expires_at`` (None: never)."""

    account_id: int
    points: int
    expires_at: datetime | None
    key: str


def import_lots(lots: Sequence[ImportedLot], now: datetime) -> set[str]:
    """Post each lot as an earn entry with its own lot and expiry; returns the keys posted.

    Keys already in the ledger are skipped (the same file imported twice posts
    once), and so are closed accounts (a customer erased while the file was
    being read); the caller passes each key once. The accounts are locked in id order
    first, in a statement of their own, so the insert's snapshot sees any entry
    committed by a writer we waited for. On PostgreSQL entries, lots and
    balances are written by one statement from arrays (no model instances);
    elsewhere through the ORM's bulk inserts.
    """
    if not lots:
        return set()
    _lock_accounts(sorted({lot.account_id for lot in lots}))
    if connection.vendor == "postgresql":
        return _import_lots_pg(lots, now)
    return _import_lots_portable(lots, now)


def _import_lots_pg(lots: Sequence[ImportedLot], now: datetime) -> set[str]:
    t = _Tables()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH input AS (
                SELECT * FROM unnest(%(accounts)s::bigint[], %(points)s::integer[],
                                     %(expires)s::timestamptz[], %(keys)s::varchar[])
                     WITH ORDINALITY AS i(account_id, points, expires_at, key, n)
            ), new AS MATERIALIZED (
                SELECT i.* FROM input i
                WHERE NOT EXISTS (SELECT 1 FROM {t.entry} e WHERE e.idempotency_key = i.key)
            ), entries AS (
                INSERT INTO {t.entry} (account_id, kind, points, balance_after, reason,
                                       reason_code, reason_params, idempotency_key, created_at)
                SELECT n.account_id, %(kind)s, n.points,
                       acc.balance
                       + SUM(n.points) OVER (PARTITION BY n.account_id ORDER BY n.n),
                       %(reason)s, %(code)s, '{{}}'::jsonb, n.key, %(now)s
                FROM new n JOIN {t.account} acc ON acc.id = n.account_id
                WHERE acc.closed_at IS NULL
                RETURNING id, account_id, points, idempotency_key
            ), lots AS (
                INSERT INTO {t.lot} (account_id, entry_id, points, remaining, earned_at,
                                     expires_at)
                SELECT e.account_id, e.id, e.points, e.points, %(now)s, n.expires_at
                FROM entries e JOIN new n ON n.key = e.idempotency_key
            ), balances AS (
                UPDATE {t.account} SET balance = {t.account}.balance + s.points,
                                       last_activity_at = %(now)s
                FROM (SELECT account_id, SUM(points) AS points FROM entries
                      GROUP BY account_id) AS s
                WHERE {t.account}.id = s.account_id
            )
            SELECT idempotency_key FROM entries
            """,
            {
                "accounts": [lot.account_id for lot in lots],
                "points": [lot.points for lot in lots],
                "expires": [lot.expires_at for lot in lots],
                "keys": [lot.key for lot in lots],
                "kind": Kind.EARN,
                "reason": str(IMPORT_REASON),
                "code": IMPORT_REASON.code,
                "now": now,
            },
        )
        return {row[0] for row in cursor.fetchall()}


def _import_lots_portable(lots: Sequence[ImportedLot], now: datetime) -> set[str]:
    """``import_lots`` for SQLite and MariaDB: the ORM's bulk inserts, in a few statements."""
    posted = set(
        LedgerEntry.objects.filter(idempotency_key__in=[lot.key for lot in lots]).values_list(
            "idempotency_key", flat=True
        )
    )
    balances = dict(
        Account.objects.filter(
            pk__in={lot.account_id for lot in lots}, closed_at__isnull=True
        ).values_list("pk", "balance")
    )
    new = [lot for lot in lots if lot.key not in posted and lot.account_id in balances]
    if not new:
        return set()
    entries = []
    for lot in new:
        balances[lot.account_id] += lot.points
        entries.append(
            LedgerEntry(
                account_id=lot.account_id,
                kind=Kind.EARN,
                points=lot.points,
                balance_after=balances[lot.account_id],
                reason=str(IMPORT_REASON),
                reason_code=IMPORT_REASON.code,
                reason_params={},
                idempotency_key=lot.key,
                created_at=now,
            )
        )
    LedgerEntry.objects.bulk_create(entries)
    if any(entry.pk is None for entry in entries):  # a backend that returns no ids
        ids = dict(
            LedgerEntry.objects.filter(idempotency_key__in=[lot.key for lot in new]).values_list(
                "idempotency_key", "pk"
            )
        )
        for entry in entries:
            entry.pk = ids[entry.idempotency_key]
    PointsLot.objects.bulk_create(
        PointsLot(
            account_id=lot.account_id,
            entry_id=entry.pk,
            points=lot.points,
            remaining=lot.points,
            earned_at=now,
            expires_at=lot.expires_at,
        )
        for lot, entry in zip(new, entries, strict=True)
    )
    with connection.cursor() as cursor:
        _add_to_balances(cursor, _Tables(), [entry.pk for entry in entries], now)
    return {lot.key for lot in new}


def earn_awards(award_ids: Iterable[int], now: datetime) -> int:
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
        f"CASE WHEN a.referral_id IS NULL THEN {_concat('%s', 'o.number')} "
        f"ELSE {_concat('%s', _text('a.referral_id'))} END"
    )
    key_params = [keys.ORDER_EARN, keys.REFERRAL_EARN]
    _lock_accounts(
        PendingAward.objects.filter(pk__in=award_ids).values_list("account_id", flat=True)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {t.entry} (account_id, kind, points, balance_after, reason,
                                   reason_code, reason_params, idempotency_key, created_at,
                                   order_id)
            SELECT a.account_id, %s, a.points,
                   acc.balance + SUM(a.points) OVER (PARTITION BY a.account_id ORDER BY a.id),
                   CASE WHEN a.referral_id IS NULL THEN {_concat("%s", "o.number")} ELSE %s END,
                   CASE WHEN a.referral_id IS NULL THEN %s ELSE %s END,
                   CASE WHEN a.referral_id IS NULL THEN {_json_number("o.number")}
                        ELSE {_json_empty()} END,
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
                str(REFERRAL_REASON),
                ORDER_REASON.code,
                REFERRAL_REASON.code,
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
            signals.send_on_commit(signals.award_matured, PendingAward, entry_ids=entry_ids)
    return len(posted)


def earn_due_awards(
    now: datetime, limit: int, after: Position | None = None, until: Position | None = None
) -> tuple[int, Position | None]:
    """Post the next ``limit`` due awards, in (``matures_at``, id) order after ``after``.

    ``until`` (included) ends the range: a task of the fanned-out job keeps
    to its own range (``awards.due_ranges``).

    Awards another transaction has locked are skipped. Returns ``(posted,
    last)``: the entries posted and the (``matures_at``, id) of the chunk's
    last award, the ``after`` of the next chunk (``None``: nothing was due).
    On PostgreSQL this is one statement, so a chunk costs one round trip and
    only the posted entries' ids come back (for ``signals.award_matured``);
    elsewhere the chunk is read, then posted by ``earn_awards``.
    """
    if connection.vendor == "postgresql":
        return _earn_due_awards_pg(now, limit, after, until)
    return _earn_due_awards_portable(now, limit, after, until)


def _earn_due_awards_portable(
    now: datetime, limit: int, after: Position | None, until: Position | None
) -> tuple[int, Position | None]:
    due = PendingAward.objects.filter(status=PendingAward.Status.PENDING, matures_at__lte=now)
    if after is not None:
        due = due.filter(Q(matures_at__gt=after[0]) | Q(matures_at=after[0], id__gt=after[1]))
    if until is not None:
        due = due.filter(Q(matures_at__lt=until[0]) | Q(matures_at=until[0], id__lte=until[1]))
    rows = list(
        due.select_for_update(skip_locked=True)
        .order_by("matures_at", "id")
        .values_list("matures_at", "id")[:limit]
    )
    if not rows:
        return 0, None
    return earn_awards([pk for _at, pk in rows], now), rows[-1]


def _earn_due_awards_pg(
    now: datetime, limit: int, after: Position | None, until: Position | None
) -> tuple[int, Position | None]:
    """``earn_due_awards`` as one data-modifying statement.

    Locks as the other writers do: the chunk's awards (skipping locked ones),
    then their accounts in id order, whose locked rows give the balances the
    entries run from. The CTEs see one snapshot, which is why each reads what
    an earlier one locked or returned, never the tables again.
    """
    t = _Tables()
    after_sql = "AND (a.matures_at, a.id) > (%(after_at)s, %(after_id)s)" if after else ""
    if until:
        after_sql += " AND (a.matures_at, a.id) <= (%(until_at)s, %(until_id)s)"
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
                                       reason_code, reason_params, idempotency_key,
                                       created_at, order_id)
                SELECT d.account_id, %(kind)s, d.points,
                       acc.balance
                       + SUM(d.points) OVER (PARTITION BY d.account_id ORDER BY d.id),
                       CASE WHEN d.referral_id IS NULL THEN %(order_reason)s || d.number
                            ELSE %(referral_reason)s END,
                       CASE WHEN d.referral_id IS NULL THEN %(order_code)s
                            ELSE %(referral_code)s END,
                       CASE WHEN d.referral_id IS NULL THEN jsonb_build_object('number', d.number)
                            ELSE '{{}}'::jsonb END,
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
            SELECT ARRAY(SELECT id FROM entries), last.matures_at, last.id
            FROM (SELECT matures_at, id FROM chunk
                  ORDER BY matures_at DESC, id DESC LIMIT 1) AS last
            """,
            {
                "pending": PendingAward.Status.PENDING,
                "earned": PendingAward.Status.EARNED,
                "now": now,
                "after_at": after and after[0],
                "after_id": after and after[1],
                "until_at": until and until[0],
                "until_id": until and until[1],
                "limit": limit,
                "order_key": keys.ORDER_EARN,
                "referral_key": keys.REFERRAL_EARN,
                "kind": Kind.EARN,
                "order_reason": order_reason(""),
                "referral_reason": str(REFERRAL_REASON),
                "order_code": ORDER_REASON.code,
                "referral_code": REFERRAL_REASON.code,
                "expires": default_expiry(now),
            },
        )
        row = cursor.fetchone()
    if row is None:
        return 0, None
    entry_ids, last_at, last_id = row
    if entry_ids:
        signals.send_on_commit(signals.award_matured, PendingAward, entry_ids=entry_ids)
    return len(entry_ids), (last_at, last_id)


def expire_lots(lot_ids: Iterable[int], now: datetime, reason: reasons.Reason) -> int:
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
                                   reason_code, reason_params, idempotency_key, created_at)
            SELECT l.account_id, %s, -l.remaining,
                   acc.balance - SUM(l.remaining) OVER (PARTITION BY l.account_id ORDER BY l.id),
                   %s, %s, {_json_literal()}, {_concat("%s", _text("l.id"))}, %s
            FROM {t.lot} l JOIN {t.account} acc ON acc.id = l.account_id
            WHERE l.id IN ({ids}) AND l.remaining > 0
              AND NOT EXISTS (SELECT 1 FROM {t.entry} e
                              WHERE e.idempotency_key = {_concat("%s", _text("l.id"))})
            RETURNING id
            """,
            [
                Kind.EXPIRE,
                str(reason),
                reason.code,
                json.dumps(dict(reason.params)),
                keys.LOT_EXPIRE,
                _db(now),
                *lot_ids,
                keys.LOT_EXPIRE,
            ],
        )
        posted = cursor.fetchall()
        if not posted:
            return 0
        entry_ids = [row[0] for row in posted]
        cursor.execute(
            f"""
            INSERT INTO {t.consumption} (entry_id, lot_id, points)
            SELECT e.id, l.id, -e.points FROM {t.entry} e
            JOIN {t.lot} l ON e.idempotency_key = {_concat("%s", _text("l.id"))}
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
    signals.send_on_commit(signals.points_expired, PointsLot, entry_ids=entry_ids)
    return len(posted)


class _Tables:
    def __init__(self) -> None:
        qn = connection.ops.quote_name
        self.entry = qn(LedgerEntry._meta.db_table)
        self.lot = qn(PointsLot._meta.db_table)
        self.account = qn(Account._meta.db_table)
        self.award = qn(PendingAward._meta.db_table)
        self.consumption = qn(LotConsumption._meta.db_table)
        self.order = qn(get_model("order", "Order")._meta.db_table)


def _json_number(column: str) -> str:
    """SQL building ``{"number": <column>}`` as the backend stores a JSONField."""
    if connection.vendor == "postgresql":
        return f"jsonb_build_object('number', {column})"
    return f"JSON_OBJECT('number', {column})"


def _json_empty() -> str:
    return "'{}'::jsonb" if connection.vendor == "postgresql" else "JSON_OBJECT()"


def _json_literal() -> str:
    """A JSON parameter (``%s``, a ``json.dumps`` text) as the backend stores a JSONField."""
    return "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"


def _in(values: Sequence[object]) -> str:
    return ", ".join(["%s"] * len(values))


def _db(value: datetime | None) -> datetime | str | None:
    """``value`` as the backend stores it (a string on SQLite)."""
    return connection.ops.adapt_datetimefield_value(value) if value else None


def _lock_accounts(account_ids: Iterable[int]) -> None:
    """Lock these accounts in id order (``account_ids`` may be a queryset: one statement)."""
    list(
        Account.objects.select_for_update()
        .filter(pk__in=account_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _add_to_balances(
    cursor: CursorWrapper, t: _Tables, entry_ids: list[int], activity_at: datetime | None
) -> None:
    """Add the new entries to their accounts' balances, in one statement.

    The entries are summed once per account and joined to the accounts: a
    correlated sub-select per account looks cheap to the planner only while
    the ledger is small (past ~100,000 entries PostgreSQL starts compiling it
    with JIT, at ~100 ms a chunk).
    """
    activity = ", last_activity_at = %s" if activity_at else ""
    activity_params = [_db(activity_at)] if activity_at else []
    new = f"""(SELECT account_id, SUM(points) AS points FROM {t.entry}
               WHERE id IN ({_in(entry_ids)}) GROUP BY account_id) AS new"""
    if connection.vendor == "mysql":  # MySQL and MariaDB: UPDATE ... JOIN, no UPDATE ... FROM
        cursor.execute(
            f"""
            UPDATE {t.account} JOIN {new} ON {t.account}.id = new.account_id
            SET balance = balance + new.points{activity}
            """,
            [*entry_ids, *activity_params],
        )
        return
    cursor.execute(
        f"""
        UPDATE {t.account} SET balance = balance + new.points{activity}
        FROM {new}
        WHERE {t.account}.id = new.account_id
        """,
        [*activity_params, *entry_ids],
    )


def _concat(*parts: str) -> str:
    """SQL joining strings: ``||`` is a logical OR on MySQL and MariaDB."""
    if connection.vendor == "mysql":
        return f"CONCAT({', '.join(parts)})"
    return " || ".join(parts)


def _text(column: str) -> str:
    """SQL casting a number to text (MySQL and MariaDB cast to CHAR, not VARCHAR)."""
    kind = "CHAR" if connection.vendor == "mysql" else "VARCHAR(20)"
    return f"CAST({column} AS {kind})"
