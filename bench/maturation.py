"""Maturing pending awards: ``awards.mature_due_awards`` against hand-written SQL.

    python bench/maturation.py                      # 1,000,000 awards, 100,000 customers
    python bench/maturation.py --awards 20000 --customers 2000

Builds users, accounts, orders and due pending awards with set-based SQL, then

1. "ours": the real ``mature_due_awards(now=...)`` (chunks of TASK_CHUNK_SIZE,
   one transaction each), timed, with the process's peak memory before and
   after, and checks the result;
2. resets the same data (ledger tables truncated, balances 0, awards pending,
   tables rewritten and analysed exactly as before step 1);
3. "baseline": the same work as two hand-written SQL statements in ONE
   transaction over all due awards (insert entries with running balances,
   their lots and the new balances in one data-modifying CTE; then mark the
   awards earned). It skips already posted keys like ours does, but takes no
   explicit locks and does not chunk: the lower bound of what the work costs;
4. optionally (``--chunked-baseline K``, by default the same chunk size as
   ours; 0 skips it) the same SQL again, one transaction per K awards by id
   range, for information only.

The final line is ``RATIO maturation <ours seconds / baseline seconds>``.
"""

import argparse
import re
import sys
import time
from collections import defaultdict
from contextlib import nullcontext

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
    parser.add_argument("--awards", type=int, default=1_000_000, help="pending awards (orders)")
    parser.add_argument("--customers", type=int, default=100_000, help="customers (accounts)")
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="chunk size passed to mature_due_awards (default: OSCAR_LOYALTY_TASK_CHUNK_SIZE)",
    )
    parser.add_argument(
        "--chunked-baseline",
        type=int,
        default=None,
        help="also time the baseline in chunks of this many awards (default: ours' chunk "
        "size; 0: skip)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="times ours and the baseline each run, in turns; the fastest of each counts",
    )
    parser.add_argument(
        "--no-breakdown",
        action="store_true",
        help="do not time ours' statements one by one (costs a few microseconds each)",
    )
    args = parser.parse_args()
    if args.awards < 1 or args.customers < 1 or args.customers > args.awards:
        parser.error("need 1 <= customers <= awards")
    if args.rounds < 1:
        parser.error("need 1 round or more")
    return args


def main():
    args = parse_args()
    print(f"Setting up the bench database ({args.awards:,} awards, {args.customers:,} customers)")
    with Timer() as t:
        dbname = bootstrap(suffix="maturation")
    print(f"  database {dbname} created and migrated in {t.seconds:.1f} s")
    print(f"  {server_settings()}")
    print(f"  {code_version()}")
    print(f"  {machine()}")

    from celery import current_app
    from django.db import connection, transaction
    from django.utils import timezone

    from oscar_loyalty import awards

    # Each chunk queues its "points available" email task, as in a shop; the
    # test settings run tasks eagerly, which would send every email inside
    # ours' timing. Queue them (in memory) instead: the job never waits for them.
    current_app.conf.task_always_eager = False
    from oscar_loyalty.conf import loyalty_settings

    chunk_size = args.chunk_size or loyalty_settings.TASK_CHUNK_SIZE
    chunked = chunk_size if args.chunked_baseline is None else args.chunked_baseline
    tables = Tables()
    now = timezone.now()

    with Timer() as t:
        create_data(tables, args.awards, args.customers, now)
    print(f"  data created in {t.seconds:.1f} s")
    with Timer() as t:
        prepare(tables)
    print(f"  tables vacuumed and analysed in {t.seconds:.1f} s")
    expected = expectations(tables, now)
    print(f"  due awards: {expected['awards']:,}, points due: {expected['points']:,}")

    # Ours and the baseline in turns (ours, baseline, ours, baseline, ...), each
    # from the same state: what the machine's other work does to one run, it
    # does to the other side's run next to it. Each side's figure is its
    # fastest run (the least disturbed).
    ours_runs, base_runs = [], []
    ok = True
    ours_print = None
    for round_ in range(1, args.rounds + 1):
        # 1. Ours ---------------------------------------------------------------
        print(
            f"\nours ({round_}/{args.rounds}): "
            f"awards.mature_due_awards(now=..., chunk_size={chunk_size})"
        )
        if round_ > 1:
            reset_and_prepare(tables)
        warn_open_transactions("before ours")
        rss_before = maxrss_mb()
        breakdown = Breakdown()
        with ServerActivity() as activity:
            with connection.execute_wrapper(breakdown) if not args.no_breakdown else nullcontext():
                with Timer() as t:
                    posted = awards.mature_due_awards(now=now, chunk_size=args.chunk_size)
                breakdown.end = time.perf_counter()
        ours_runs.append(t.seconds)
        rss_after = maxrss_mb()
        print(
            f"  posted {posted:,} entries in {t.seconds:.2f} s: {posted / t.seconds:,.0f} awards/s"
        )
        print(f"  {activity.report()}; {machine()}")
        print(
            f"  peak memory (maxrss): {rss_after:.1f} MB; {rss_before:.1f} MB before the run, "
            f"growth {rss_after - rss_before:.1f} MB"
        )
        if not args.no_breakdown:
            breakdown.report(t.seconds)
        warn_open_transactions("after ours")
        ok &= verify("ours", tables, expected, posted)
        ours_print = fingerprint(tables)

        # 2.-3. Baseline --------------------------------------------------------
        print(f"\nbaseline ({round_}/{args.rounds}): hand-written set-based SQL, one transaction")
        with Timer() as t:
            reset_and_prepare(tables)
        print(f"  data reset in {t.seconds:.1f} s")
        with ServerActivity() as activity, Timer() as t:
            with transaction.atomic():
                base_posted = baseline(tables, now)
        base_runs.append(t.seconds)
        print(
            f"  posted {base_posted:,} entries in {t.seconds:.2f} s: "
            f"{base_posted / t.seconds:,.0f} awards/s"
        )
        print(f"  {activity.report()}; {machine()}")
        warn_open_transactions("after baseline")
        ok &= verify("baseline", tables, expected, base_posted)
        same = fingerprint(tables) == ours_print
        ok &= same
        print(f"  same entries, lots, balances and statuses as ours: {'yes' if same else 'NO'}")
    ours, base = min(ours_runs), min(base_runs)

    # 4. Chunked baseline, for information ---------------------------------------
    if chunked:
        print(f"\nbaseline, chunked: the same SQL, one transaction per {chunked:,} awards")
        reset_and_prepare(tables)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MIN(id), MAX(id) FROM {tables.award}")
            low, high = cursor.fetchone()
        chunked_posted = 0
        with Timer() as t:
            for start in range(low, high + 1, chunked):
                with transaction.atomic():
                    chunked_posted += baseline(tables, now, (start, start + chunked))
        print(
            f"  posted {chunked_posted:,} entries in {t.seconds:.2f} s: "
            f"{chunked_posted / t.seconds:,.0f} awards/s (ours / this = {ours / t.seconds:.3f})"
        )
        ok &= verify("chunked baseline", tables, expected, chunked_posted)
        same = fingerprint(tables) == ours_print
        ok &= same
        print(f"  same entries, lots, balances and statuses as ours: {'yes' if same else 'NO'}")

    print("\nsummary")
    print(
        f"  ours     {ours:8.2f} s  {posted / ours:10,.0f} awards/s  (runs: {seconds(ours_runs)})"
    )
    print(
        f"  baseline {base:8.2f} s  {base_posted / base:10,.0f} awards/s  "
        f"(runs: {seconds(base_runs)})"
    )
    pairs = ", ".join(f"{o / b:.3f}" for o, b in zip(ours_runs, base_runs, strict=True))
    print(f"  ours / baseline, round by round: {pairs}")
    print(f"  ours / baseline = {ours / base:.3f}  (target <= 2.0)")
    print(f"  peak memory of the process through ours = {rss_after:.1f} MB  (target < 300 MB)")
    print(f"  correctness checks: {'all passed' if ok else 'FAILED (see above)'}")
    print(f"  {machine()}")
    print(ratio_line("maturation", ours, base))
    return 0 if ok else 1


class Breakdown:
    """An execute wrapper timing ours' statements by kind, and its chunks by quarter of the run.

    A chunk starts with the statement selecting due awards (FOR UPDATE SKIP LOCKED).
    """

    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)
        self.chunk_starts = []

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        if "SKIP LOCKED" in sql:
            self.chunk_starts.append(start)
        try:
            return execute(sql, params, many, context)
        finally:
            label = self.label(sql)
            self.seconds[label] += time.perf_counter() - start
            self.calls[label] += 1

    @staticmethod
    def label(sql):
        words = " ".join(sql.split())
        verb = words.split(" ", 1)[0]
        table = re.search(r'(?:FROM|INTO|UPDATE) "?(\w+)"?', words)
        detail = ""
        if verb == "SELECT" and "SKIP LOCKED" in words:
            detail = " (due awards, FOR UPDATE SKIP LOCKED)"
        elif verb == "SELECT" and "FOR UPDATE" in words:
            detail = " (lock accounts)"
        elif verb == "SELECT":
            detail = " (" + words[7:60] + "...)"
        return f"{verb} {table.group(1) if table else ''}{detail}"

    def report(self, total):
        print("  where ours' time goes (statement kind: calls, seconds, share of the run):")
        for label, seconds in sorted(self.seconds.items(), key=lambda kv: -kv[1]):
            print(f"    {seconds:8.2f} s {seconds / total:6.1%} {self.calls[label]:6d} x  {label}")
        rest = total - sum(self.seconds.values())
        print(f"    {rest:8.2f} s {rest / total:6.1%}          outside statements (Python, commit)")
        ends = [*self.chunk_starts[1:], self.end]
        chunks = [end - start for start, end in zip(self.chunk_starts, ends, strict=True)]
        quarters = [chunks[i * len(chunks) // 4 : (i + 1) * len(chunks) // 4] for i in range(4)]
        print(
            "  ms per chunk, by quarter of the run: "
            + ", ".join(f"{sum(q) / len(q) * 1000:.1f}" for q in quarters if q)
        )


class Tables:
    def __init__(self):
        from django.contrib.auth import get_user_model
        from django.db import connection
        from oscar.core.loading import get_model

        from oscar_loyalty.models import (
            Account,
            LedgerEntry,
            LotConsumption,
            PendingAward,
            PointsLot,
        )

        qn = connection.ops.quote_name
        self.user = qn(get_user_model()._meta.db_table)
        self.order = qn(get_model("order", "Order")._meta.db_table)
        self.account = qn(Account._meta.db_table)
        self.award = qn(PendingAward._meta.db_table)
        self.entry = qn(LedgerEntry._meta.db_table)
        self.lot = qn(PointsLot._meta.db_table)
        self.consumption = qn(LotConsumption._meta.db_table)


def execute(sql, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def fetchone(sql, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def create_data(t, awards, customers, now):
    """Customers, their accounts, one order each per award, and due pending awards.

    Order i belongs to customer i mod C, is worth 1..50 points, and was placed
    40 days before ``now`` plus i ms: every award matured 10 days ago, in order
    of id, so ours (oldest first) and the baseline (by id) post in one order.
    """
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
            INSERT INTO {t.account} (user_id, balance, created_at, last_activity_at)
            SELECT id, 0, %(now)s, NULL FROM {t.user} ORDER BY id
            """,
            {"now": now},
        )
        first_user, last_user = fetchone(f"SELECT MIN(id), MAX(id) FROM {t.user}")
        assert last_user - first_user + 1 == customers, "user ids are not contiguous"
        execute(
            f"""
            INSERT INTO {t.order} (number, site_id, basket_id, user_id, billing_address_id,
                                   currency, total_incl_tax, total_excl_tax, shipping_incl_tax,
                                   shipping_excl_tax, shipping_tax_code, shipping_address_id,
                                   shipping_method, shipping_code, status, guest_email,
                                   date_placed, analytics_tracked)
            SELECT (100000 + i)::text, NULL, NULL, %(first_user)s + i %% %(customers)s, NULL,
                   'USD', p * 10 + 5, p * 10 + 5, 0, 0, NULL, NULL,
                   'Free shipping', 'free-shipping', 'Complete', '',
                   %(now)s - interval '40 days' + i * interval '1 millisecond', false
            FROM (SELECT i, 1 + (i::bigint * 7919) %% 50 AS p
                  FROM generate_series(1, %(awards)s) AS i) AS s
            ORDER BY i
            """,
            {"now": now, "awards": awards, "customers": customers, "first_user": first_user},
        )
        execute(
            f"""
            INSERT INTO {t.award} (order_id, account_id, points, original_points, line_values,
                                   status, matures_at, created_at)
            SELECT o.id, acc.id, p.points, p.points, '{{}}'::jsonb, 'pending',
                   o.date_placed + interval '30 days', o.date_placed
            FROM {t.order} o
            JOIN {t.account} acc ON acc.user_id = o.user_id
            CROSS JOIN LATERAL (SELECT floor(o.total_incl_tax / 10)::int AS points) AS p
            ORDER BY o.id
            """
        )


def prepare(t):
    """The same starting state for every run: compact, analysed tables, a checkpoint.

    Autovacuum is off on these tables: started by the dead rows of the run
    before, it would otherwise sometimes run through the next run, sometimes
    not (the same for ours and the baseline).
    """
    ledger = [t.account, t.award, t.entry, t.lot, t.consumption]
    for table in [*ledger, t.order, t.user]:
        execute(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
    execute(f"VACUUM FULL {', '.join(ledger)}")
    execute(f"VACUUM ANALYZE {', '.join([*ledger, t.order, t.user])}")
    execute("CHECKPOINT")


def reset_and_prepare(t):
    reset(t)
    prepare(t)


def seconds(runs):
    return ", ".join(f"{r:.2f}" for r in runs)


class ServerActivity:
    """What the server did during a run besides it: checkpoints, and other sessions' work."""

    def __enter__(self):
        self.before = self.read()
        return self

    def __exit__(self, *exc):
        self.after = self.read()
        return False

    @staticmethod
    def read():
        return fetchone(
            """
            SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint,
                   (SELECT COUNT(*) FROM pg_stat_activity
                    WHERE state = 'active' AND pid <> pg_backend_pid()
                      AND backend_type = 'client backend')
            FROM pg_stat_bgwriter
            """
        )

    def report(self):
        checkpoints = self.after[0] - self.before[0]
        written = self.after[1] - self.before[1]
        busy = max(self.before[2], self.after[2])
        return (
            f"server: {checkpoints} checkpoint(s) during the run ({written:,} buffers written), "
            f"{busy} other active session(s)"
        )


def reset(t):
    # CASCADE: empties what refers to the entries too (shortfalls, redemptions), none here.
    execute(f"TRUNCATE {t.consumption}, {t.lot}, {t.entry} RESTART IDENTITY CASCADE")
    execute(f"UPDATE {t.account} SET balance = 0, last_activity_at = NULL")
    execute(f"UPDATE {t.award} SET status = 'pending'")


def expectations(t, now):
    awards, points = fetchone(
        f"""
        SELECT COUNT(*), COALESCE(SUM(points), 0) FROM {t.award}
        WHERE status = 'pending' AND matures_at <= %s AND points > 0
        """,
        [now],
    )
    return {"awards": awards, "points": points}


def baseline(t, now, id_range=None):
    """Post the due awards (those with ids in ``id_range``, if given) in two statements."""
    from oscar_loyalty import ledger
    from oscar_loyalty.ledger import bulk

    in_range = "AND a.id >= %(low)s AND a.id < %(high)s" if id_range else ""
    params = {
        "now": now,
        "expires": ledger.default_expiry(now),
        # What ours writes for a customer's own order (the bench makes no referral awards).
        "key": "earn:order:",
        "reason": "Order ",
        "code": bulk.ORDER_REASON.code,
        "low": id_range and id_range[0],
        "high": id_range and id_range[1],
    }
    (posted,) = fetchone(
        f"""
        WITH due AS (
            SELECT a.id, a.account_id, a.points, a.order_id, o.number
            FROM {t.award} a JOIN {t.order} o ON o.id = a.order_id
            WHERE a.status = 'pending' AND a.matures_at <= %(now)s AND a.points > 0 {in_range}
              AND NOT EXISTS (SELECT 1 FROM {t.entry} e
                              WHERE e.idempotency_key = %(key)s || o.number)
        ), entries AS (
            INSERT INTO {t.entry} (account_id, kind, points, balance_after, reason,
                                   reason_code, reason_params, idempotency_key, created_at,
                                   order_id)
            SELECT d.account_id, 'earn', d.points,
                   acc.balance + SUM(d.points) OVER (PARTITION BY d.account_id ORDER BY d.id),
                   %(reason)s || d.number, %(code)s, jsonb_build_object('number', d.number),
                   %(key)s || d.number, %(now)s, d.order_id
            FROM due d JOIN {t.account} acc ON acc.id = d.account_id
            RETURNING id, account_id, points
        ), lots AS (
            INSERT INTO {t.lot} (account_id, entry_id, points, remaining, earned_at, expires_at)
            SELECT account_id, id, points, points, %(now)s, %(expires)s FROM entries
        ), balances AS (
            UPDATE {t.account} acc
            SET balance = acc.balance + s.points, last_activity_at = %(now)s
            FROM (SELECT account_id, SUM(points) AS points FROM entries GROUP BY account_id) s
            WHERE acc.id = s.account_id
        )
        SELECT COUNT(*) FROM entries
        """,
        params,
    )
    execute(
        f"UPDATE {t.award} a SET status = 'earned' "
        f"WHERE a.status = 'pending' AND a.matures_at <= %(now)s {in_range}",
        params,
    )
    return posted


def verify(label, t, expected, posted):
    n, entries_points, lots, lot_points = fetchone(
        f"""
        SELECT (SELECT COUNT(*) FROM {t.entry} WHERE kind = 'earn'),
               (SELECT COALESCE(SUM(points), 0) FROM {t.entry} WHERE kind = 'earn'),
               (SELECT COUNT(*) FROM {t.lot}),
               (SELECT COALESCE(SUM(remaining), 0) FROM {t.lot})
        """
    )
    (balances,) = fetchone(f"SELECT COALESCE(SUM(balance), 0) FROM {t.account}")
    (not_earned,) = fetchone(f"SELECT COUNT(*) FROM {t.award} WHERE status <> 'earned'")
    (mismatched,) = fetchone(
        f"""
        SELECT COUNT(*) FROM {t.account} acc
        LEFT JOIN (SELECT account_id, SUM(points) AS s, MAX(balance_after) AS last
                   FROM {t.entry} GROUP BY account_id) e ON e.account_id = acc.id
        WHERE acc.balance <> COALESCE(e.s, 0) OR acc.balance <> COALESCE(e.last, 0)
        """
    )
    checks = [
        (f"earn entries == N ({n:,} == {expected['awards']:,})", n == expected["awards"]),
        (f"entries reported posted == N ({posted:,})", posted == expected["awards"]),
        (
            f"sum of balances == sum of points ({balances:,} == {expected['points']:,})",
            balances == expected["points"] == entries_points,
        ),
        (
            f"lots == entries, remaining == points ({lots:,}, {lot_points:,})",
            lots == n and lot_points == expected["points"],
        ),
        (f"every award earned ({not_earned:,} not earned)", not_earned == 0),
        (
            f"each balance == its entries' sum == last balance_after ({mismatched:,} differ)",
            mismatched == 0,
        ),
    ]
    print(f"  checks after {label}:")
    for text, good in checks:
        print(f"    [{'ok' if good else 'FAIL'}] {text}")
    return all(good for _text, good in checks)


def fingerprint(t):
    """What the run wrote (all but row ids), to compare ours with the baseline."""

    def digest(columns, source):
        return f"(SELECT SUM(hashtextextended(concat_ws(',', {columns}), 0)) FROM {source})"

    entry = (
        "account_id, kind, points, balance_after, reason, reason_code, reason_params, "
        "idempotency_key, created_at, order_id"
    )
    lot = "l.account_id, e.idempotency_key, l.points, l.remaining, l.earned_at, l.expires_at"
    return fetchone(
        "SELECT "
        + ", ".join(
            [
                digest(entry, t.entry),
                digest(lot, f"{t.lot} l JOIN {t.entry} e ON e.id = l.entry_id"),
                digest("id, balance, last_activity_at", t.account),
                digest("id, status, points", t.award),
            ]
        )
    )


if __name__ == "__main__":
    sys.exit(main())
