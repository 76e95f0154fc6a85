"""Recomputing every customer's tier: ``tiers.recompute_all`` against hand-written SQL.

    python bench/tiers.py                                   # 100,000 customers, 1,000,000 entries
    python bench/tiers.py --customers 10000 --entries 100000

Builds users, accounts and ledger entries with set-based SQL: earns for
orders spread over the last 700 days, one in twenty taken back in part by a
refund (a clawback reversing it), and entries that never count toward a tier
(welcome bonuses, spends). Four tiers count points earned: three over the
last 365 days and a hidden one over all time, all downgrading at once (a grace
period of 0 days), so a customer's tier is the one they qualify for. Then

1. "ours": the real ``recompute_all(now=...)`` (chunks of TIER_CHUNK_SIZE),
   timed, with the process's peak memory before and after; then again, to
   show that a second run changes nothing;
2. the statuses and changes are emptied;
3. "baseline": the same work as ONE hand-written statement over all
   customers (the counts of both periods in one pass over the ledger, the
   clawbacks joined to the earns they reverse, the highest tier reached, the
   statuses upserted and the changes inserted): the lower bound of the work.

Peak memory must not grow with the number of customers: run it with
``--customers 10000`` and ``--customers 100000`` to compare. The final line is
``RATIO tiers <ours seconds / baseline seconds>``.
"""

import argparse
import sys
from decimal import Decimal

from _setup import (
    Timer,
    bootstrap,
    code_version,
    machine,
    maxrss_mb,
    ratio_line,
    server_settings,
    warn_open_transactions,
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000, help="ledger entries")
    parser.add_argument("--chunk-size", type=int, default=None)
    args = parser.parse_args()
    if args.customers < 1 or args.entries < args.customers:
        parser.error("need 1 <= customers <= entries")
    return args


def main():
    args = parse_args()
    print(f"Setting up the bench database ({args.customers:,} customers, {args.entries:,} entries)")
    with Timer() as t:
        dbname = bootstrap(suffix="tiers")
    print(f"  database {dbname} created and migrated in {t.seconds:.1f} s")
    print(f"  {server_settings()}")
    print(f"  {code_version()}")
    print(f"  {machine()}")

    from django.utils import timezone

    from oscar_loyalty import tiers
    from oscar_loyalty.conf import loyalty_settings
    from oscar_loyalty.models import Tier

    t = Tables()
    now = timezone.now()
    with Timer() as timer:
        create_data(t, args.customers, args.entries, now)
        for name, level, threshold, period, hidden in [
            ("Silver", 1, "100", "rolling", False),
            ("Gold", 2, "250", "rolling", False),
            ("Platinum", 3, "400", "rolling", False),
            ("Black", 4, "900", "lifetime", True),
        ]:
            Tier.objects.create(
                name=name,
                level=level,
                threshold=Decimal(threshold),
                period=period,
                hidden=hidden,
                downgrade="grace",
                grace_days=0,
            )
    print(f"  data created in {timer.seconds:.1f} s")
    prepare(t)

    chunk = args.chunk_size or loyalty_settings.TIER_CHUNK_SIZE
    print(f"\nours: tiers.recompute_all(now=..., chunk_size={chunk})")
    warn_open_transactions("before ours")
    rss_before = maxrss_mb()
    with Timer() as timer:
        changed = tiers.recompute_all(now=now, chunk_size=args.chunk_size)
    ours = timer.seconds
    rss_after = maxrss_mb()
    print(f"  {changed:,} changes in {ours:.2f} s: {args.customers / ours:,.0f} customers/s")
    print(
        f"  peak memory (maxrss): {rss_after:.1f} MB; {rss_before:.1f} MB before the run, "
        f"growth {rss_after - rss_before:.1f} MB"
    )
    ours_result = fingerprint(t)
    with Timer() as timer:
        again = tiers.recompute_all(now=now, chunk_size=args.chunk_size)
    print(f"  run again: {again} changes in {timer.seconds:.2f} s (idempotent)")
    ok = again == 0

    print("\nbaseline: hand-written set-based SQL, one statement, all customers")
    execute(f"TRUNCATE {t.change}, {t.status}")
    prepare(t)
    with Timer() as timer:
        base_changed = baseline(t, now)
    base = timer.seconds
    print(f"  {base_changed:,} changes in {base:.2f} s")
    same = fingerprint(t) == ours_result and base_changed == changed
    ok &= same
    print(f"  same tiers and changes as ours: {'yes' if same else 'NO'}")
    print(f"  tiers: {ours_result[1]}")

    print("\nsummary")
    print(f"  ours     {ours:8.2f} s")
    print(f"  baseline {base:8.2f} s")
    print(f"  ours / baseline = {ours / base:.3f}  (target <= 2.0)")
    print(f"  peak memory of the process through ours = {rss_after:.1f} MB (flat in customers)")
    print(f"  correctness checks: {'all passed' if ok else 'FAILED (see above)'}")
    print(ratio_line("tiers", ours, base))
    return 0 if ok else 1


class Tables:
    def __init__(self):
        from django.contrib.auth import get_user_model
        from django.db import connection

        from oscar_loyalty.models import Account, LedgerEntry, Tier, TierChange, TierStatus

        qn = connection.ops.quote_name
        self.user = qn(get_user_model()._meta.db_table)
        self.account = qn(Account._meta.db_table)
        self.entry = qn(LedgerEntry._meta.db_table)
        self.tier = qn(Tier._meta.db_table)
        self.status = qn(TierStatus._meta.db_table)
        self.change = qn(TierChange._meta.db_table)


def execute(sql, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def fetchall(sql, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def create_data(t, customers, entries, now):
    """Entry i belongs to customer i mod C. Nine in ten are earns for an order, of 1..50
    points, 0..699 days old; one earn in twenty has a clawback of half its points;
    the rest are welcome bonuses and spends (which never count)."""
    from django.db import transaction

    with transaction.atomic():
        execute(
            f"""
            INSERT INTO {t.user} (password, last_login, is_superuser, username, first_name,
                                  last_name, email, is_staff, is_active, date_joined)
            SELECT '!', NULL, false, 'bench' || i, '', '', 'bench' || i || '@example.com',
                   false, true, %(now)s
            FROM generate_series(1, %(customers)s) AS i
            """,
            {"now": now, "customers": customers},
        )
        execute(
            f"""
            INSERT INTO {t.account} (user_id, balance, created_at)
            SELECT id, 0, %(now)s FROM {t.user} ORDER BY id
            """,
            {"now": now},
        )
        ((first,),) = fetchall(f"SELECT MIN(id) FROM {t.account}")
        earns = entries * 9 // 10
        clawbacks = earns // 20
        others = entries - earns - clawbacks
        execute(
            f"""
            INSERT INTO {t.entry} (account_id, kind, points, balance_after, reason, reason_code,
                                   reason_params, idempotency_key, created_at)
            SELECT %(first)s + i %% %(customers)s, 'earn', 1 + (i::bigint * 7919) %% 50, 0,
                   'Order', '', '{{}}'::jsonb, 'earn:order:' || i,
                   %(now)s - ((i::bigint * 104729) %% 700) * interval '1 day'
                           - (i %% 86400) * interval '1 second'
            FROM generate_series(1, %(earns)s) AS i
            """,
            {"first": first, "customers": customers, "earns": earns, "now": now},
        )
        execute(
            f"""
            INSERT INTO {t.entry} (account_id, kind, points, balance_after, reason, reason_code,
                                   reason_params, idempotency_key, created_at, reverses_id)
            SELECT e.account_id, 'clawback', -GREATEST(e.points / 2, 1), 0, 'Refund', '',
                   '{{}}'::jsonb, 'clawback:' || e.idempotency_key || ':to:0',
                   e.created_at + interval '1 day', e.id
            FROM {t.entry} e WHERE e.kind = 'earn' AND e.id %% 20 = 0
            ORDER BY e.id LIMIT %(clawbacks)s
            """,
            {"clawbacks": clawbacks},
        )
        execute(
            f"""
            INSERT INTO {t.entry} (account_id, kind, points, balance_after, reason, reason_code,
                                   reason_params, idempotency_key, created_at)
            SELECT %(first)s + i %% %(customers)s,
                   CASE WHEN i %% 2 = 0 THEN 'earn' ELSE 'spend' END,
                   CASE WHEN i %% 2 = 0 THEN 500 ELSE -5 END, 0, 'Other', '', '{{}}'::jsonb,
                   CASE WHEN i %% 2 = 0 THEN 'earn:welcome:' ELSE 'spend:redemption:' END || i,
                   %(now)s - (i %% 300) * interval '1 day'
            FROM generate_series(1, %(others)s) AS i
            """,
            {"first": first, "customers": customers, "others": others, "now": now},
        )


def prepare(t):
    execute(f"VACUUM ANALYZE {t.entry}, {t.account}, {t.status}, {t.change}, {t.user}")
    execute("CHECKPOINT")


def baseline(t, now):
    """The recompute as one statement: counts, the tier reached, statuses and changes."""
    from datetime import timedelta

    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH earned AS (
                SELECT e.account_id,
                       SUM(e.points) FILTER (WHERE e.created_at >= %(start)s) AS rolling,
                       SUM(e.points) AS lifetime
                FROM {t.entry} e
                WHERE e.kind = 'earn' AND e.created_at <= %(now)s
                  AND (e.idempotency_key LIKE 'earn:order:%%'
                       OR e.idempotency_key LIKE 'earn:till:%%')
                GROUP BY e.account_id
            ), taken AS (
                SELECT c.account_id,
                       SUM(c.points) FILTER (WHERE r.created_at >= %(start)s) AS rolling,
                       SUM(c.points) AS lifetime
                FROM {t.entry} c JOIN {t.entry} r ON r.id = c.reverses_id
                WHERE c.kind = 'clawback' AND r.kind = 'earn' AND r.created_at <= %(now)s
                  AND (r.idempotency_key LIKE 'earn:order:%%'
                       OR r.idempotency_key LIKE 'earn:till:%%')
                GROUP BY c.account_id
            ), counts AS (
                SELECT a.id,
                       COALESCE(e.rolling, 0) + COALESCE(k.rolling, 0) AS rolling,
                       COALESCE(e.lifetime, 0) + COALESCE(k.lifetime, 0) AS lifetime
                FROM {t.account} a
                LEFT JOIN earned e ON e.account_id = a.id
                LEFT JOIN taken k ON k.account_id = a.id
                WHERE a.user_id IS NOT NULL
            ), reached AS (
                SELECT c.id AS account_id,
                       (SELECT tr.id FROM {t.tier} tr
                        WHERE tr.threshold <= CASE tr.period WHEN 'rolling' THEN c.rolling
                                                             ELSE c.lifetime END
                        ORDER BY tr.level DESC LIMIT 1) AS tier_id
                FROM counts c
            ), changed AS (
                SELECT r.account_id, s.tier_id AS from_id, r.tier_id AS to_id
                FROM reached r LEFT JOIN {t.status} s ON s.account_id = r.account_id
                WHERE r.tier_id IS DISTINCT FROM s.tier_id
            ), statuses AS (
                INSERT INTO {t.status} (account_id, tier_id, since, below_since, held_level)
                SELECT account_id, to_id, %(now)s, NULL, NULL FROM changed
                ON CONFLICT (account_id) DO UPDATE
                SET tier_id = EXCLUDED.tier_id, since = EXCLUDED.since, below_since = NULL
            )
            INSERT INTO {t.change} (account_id, from_tier_id, to_tier_id, cause, reason,
                                    created_at)
            SELECT account_id, from_id, to_id, 'reached', '', %(now)s FROM changed
            """,
            {"now": now, "start": now - timedelta(days=365)},
        )
        return cursor.rowcount


def fingerprint(t):
    """Every customer's tier, and how many customers each tier has."""
    rows = fetchall(f"SELECT account_id, tier_id FROM {t.status} ORDER BY account_id")
    tiers = fetchall(
        f"SELECT tr.name, COUNT(*) FROM {t.status} s JOIN {t.tier} tr ON tr.id = s.tier_id "
        "GROUP BY tr.name ORDER BY tr.name"
    )
    return hash(tuple(rows)), dict(tiers)


if __name__ == "__main__":
    sys.exit(main())
