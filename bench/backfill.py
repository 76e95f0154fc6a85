"""Backfilling historic orders: ``backfill.backfill`` against hand-written SQL.

    python bench/backfill.py                          # 1,000,000 orders, 100,000 customers
    python bench/backfill.py --orders 20000 --customers 2000

Builds users and historic orders (1 to 3 lines each, placed over the last two
years; 1 in 100 a guest's, 1 in 50 cancelled) with set-based SQL in Oscar's
own tables, and no points accounts (as in a store installing the plugin), then

1. "ours": the real ``backfill.backfill(since)`` (chunks of TASK_CHUNK_SIZE
   orders), timed, with the process's peak memory before and after; checks
   its awards against the orders in SQL; runs it a second time (it must
   record nothing), timed for information;
2. resets the loyalty tables (accounts and awards truncated, analysed);
3. "baseline": the same accounts and awards written by two hand-written SQL
   statements in one transaction (the default earning rule, no campaigns:
   the least the work costs), which must write the same awards as ours.

Ours runs the store's earning rule in Python for every order (the rule is
overridable, so SQL cannot stand in for it); the baseline shows what that costs.

The final line is ``RATIO backfill <ours seconds / baseline seconds>``.
"""

import argparse
import sys
from datetime import timedelta

from _setup import Timer, bootstrap, code_version, machine, maxrss_mb, ratio_line, server_settings
from maturation import execute, fetchone

YEARS = 2


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="historic orders")
    parser.add_argument("--customers", type=int, default=100_000, help="customers")
    parser.add_argument("--chunk-size", type=int, default=None, help="orders per chunk")
    args = parser.parse_args()
    if args.orders < 1 or args.customers < 1 or args.customers > args.orders:
        parser.error("need 1 <= customers <= orders")
    return args


def main():
    args = parse_args()
    print(f"Setting up the bench database ({args.orders:,} orders, {args.customers:,} customers)")
    with Timer() as t:
        dbname = bootstrap(suffix="backfill")
    print(f"  database {dbname} created and migrated in {t.seconds:.1f} s")
    print(f"  {server_settings()}")
    print(f"  {code_version()}")
    print(f"  {machine()}")

    from django.utils import timezone

    now = timezone.now()
    since = now - timedelta(days=366 * YEARS + 1)
    t = Tables()
    with Timer() as timer:
        create_data(t, args.orders, args.customers, now)
    print(f"  data created in {timer.seconds:.1f} s")
    prepare(t)
    expected = fetchone(f"SELECT COUNT(*), COALESCE(SUM(points), 0) FROM ({eligible(t)}) AS e")
    print(f"  orders that earn: {expected[0]:,}, points: {expected[1]:,}")

    from django.db import transaction

    from oscar_loyalty import backfill

    # 1. Ours -------------------------------------------------------------------
    print(f"\nours: backfill.backfill(since=..., chunk_size={args.chunk_size})")
    chunks = []
    rss_before = maxrss_mb()
    with Timer() as timer:
        recorded = backfill.backfill(
            since, chunk_size=args.chunk_size, progress=lambda done, total: chunks.append(done)
        )
    ours = timer.seconds
    rss_after = maxrss_mb()
    print(
        f"  recorded {recorded:,} awards in {ours:.2f} s ({len(chunks):,} chunks): "
        f"{args.orders / ours:,.0f} orders/s"
    )
    print(
        f"  peak memory (maxrss): {rss_after:.1f} MB; {rss_before:.1f} MB before the run, "
        f"growth {rss_after - rss_before:.1f} MB"
    )
    ok = verify("ours", t, expected, recorded)
    with Timer() as timer:
        again = backfill.backfill(since, chunk_size=args.chunk_size)
    print(f"  run again: recorded {again} in {timer.seconds:.2f} s")
    ok &= check("a second run records nothing", again == 0, again)
    ours_print = fingerprint(t)

    # 2.-3. Baseline ------------------------------------------------------------
    print("\nbaseline: hand-written set-based SQL, one transaction")
    execute(f"TRUNCATE {t.award}, {t.account} CASCADE")
    prepare(t)
    with Timer() as timer, transaction.atomic():
        base_recorded = baseline(t, since, now)
    base = timer.seconds
    print(f"  recorded {base_recorded:,} awards in {base:.2f} s")
    ok &= verify("baseline", t, expected, base_recorded)
    same = fingerprint(t) == ours_print
    ok &= same
    print(f"  same awards as ours: {'yes' if same else 'NO'}")

    print("\nsummary")
    print(f"  ours     {ours:8.2f} s  {args.orders / ours:10,.0f} orders/s")
    print(f"  baseline {base:8.2f} s  {args.orders / base:10,.0f} orders/s")
    print(f"  ours / baseline = {ours / base:.3f}")
    print(f"  peak memory of the process through ours = {rss_after:.1f} MB")
    print(f"  correctness checks: {'all passed' if ok else 'FAILED (see above)'}")
    print(f"  {machine()}")
    print(ratio_line("backfill", ours, base))
    return 0 if ok else 1


class Tables:
    def __init__(self):
        from django.contrib.auth import get_user_model
        from django.db import connection
        from oscar.core.loading import get_model

        from oscar_loyalty.models import Account, PendingAward

        qn = connection.ops.quote_name
        self.user = qn(get_user_model()._meta.db_table)
        self.order = qn(get_model("order", "Order")._meta.db_table)
        self.line = qn(get_model("order", "Line")._meta.db_table)
        self.account = qn(Account._meta.db_table)
        self.award = qn(PendingAward._meta.db_table)


def create_data(t, orders, customers, now):
    """Customers, and their orders over the last two years with 1-3 lines each.

    Order i belongs to customer i mod C (a guest's when i mod 100 == 0) and is
    cancelled when i mod 50 == 7; line k of it costs 3.50 + ((i * 7919 + k * 104729)
    mod 6000) / 100.
    """
    from django.db import transaction

    span = timedelta(days=366 * YEARS)
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
        (first_user,) = fetchone(f"SELECT MIN(id) FROM {t.user}")
        execute(
            f"""
            INSERT INTO {t.order} (number, site_id, basket_id, user_id, billing_address_id,
                                   currency, total_incl_tax, total_excl_tax, shipping_incl_tax,
                                   shipping_excl_tax, shipping_tax_code, shipping_address_id,
                                   shipping_method, shipping_code, status, guest_email,
                                   date_placed, analytics_tracked)
            SELECT (100000 + i)::text, NULL, NULL,
                   CASE WHEN i %% 100 = 0 THEN NULL ELSE %(first_user)s + i %% %(customers)s END,
                   NULL, 'USD', 0, 0, 0, 0, NULL, NULL, 'Free shipping', 'free-shipping',
                   CASE WHEN i %% 50 = 7 THEN 'Cancelled' ELSE 'Complete' END,
                   CASE WHEN i %% 100 = 0 THEN 'guest@example.com' ELSE '' END,
                   %(start)s + %(span)s * i / %(orders)s, false
            FROM generate_series(1, %(orders)s) AS i
            ORDER BY i
            """,
            {
                "orders": orders,
                "customers": customers,
                "first_user": first_user,
                "start": now - span,
                "span": span,
            },
        )
        execute(
            f"""
            INSERT INTO {t.line} (order_id, partner_id, partner_name, partner_sku,
                                  partner_line_reference, partner_line_notes, stockrecord_id,
                                  product_id, title, upc, quantity, line_price_incl_tax,
                                  line_price_excl_tax, line_price_before_discounts_incl_tax,
                                  line_price_before_discounts_excl_tax, status,
                                  allocation_cancelled, num_allocated)
            SELECT o.id, NULL, 'Bench partner', 'SKU' || k, '', '', NULL, NULL,
                   'Product ' || k, NULL, 1, p.price, p.price, p.price, p.price, '', false, 0
            FROM {t.order} o
            CROSS JOIN LATERAL generate_series(1, 1 + o.id %% 3) AS k
            CROSS JOIN LATERAL (
                SELECT 3.50 + ((o.id::bigint * 7919 + k * 104729) %% 6000) / 100.0 AS price
            ) AS p
            ORDER BY o.id, k
            """,
            {},
        )
        execute(
            f"""
            UPDATE {t.order} o SET total_incl_tax = s.total, total_excl_tax = s.total
            FROM (SELECT order_id, SUM(line_price_incl_tax) AS total FROM {t.line}
                  GROUP BY order_id) AS s
            WHERE s.order_id = o.id
            """
        )


def prepare(t):
    execute(f"VACUUM ANALYZE {t.user}, {t.order}, {t.line}, {t.account}, {t.award}")
    execute("CHECKPOINT")


def eligible(t):
    """The orders that earn, with their points by the default rule (1 per 10 units)."""
    return f"""
        SELECT o.id, o.user_id, o.date_placed,
               floor(SUM(l.line_price_incl_tax) * 0.1)::int AS points,
               jsonb_object_agg(l.id::text, l.line_price_incl_tax::text) AS line_values
        FROM {t.order} o JOIN {t.line} l ON l.order_id = o.id
        WHERE o.user_id IS NOT NULL AND o.status <> 'Cancelled'
        GROUP BY o.id
        HAVING floor(SUM(l.line_price_incl_tax) * 0.1) > 0
    """


def baseline(t, since, now):
    """The accounts and awards ours writes, in two statements."""
    execute(
        f"""
        INSERT INTO {t.account} (user_id, balance, created_at, last_activity_at)
        SELECT DISTINCT user_id, 0, %(now)s, NULL::timestamptz FROM {t.order}
        WHERE user_id IS NOT NULL AND date_placed >= %(since)s AND status <> 'Cancelled'
        ON CONFLICT DO NOTHING
        """,
        {"now": now, "since": since},
    )
    return execute(
        f"""
        INSERT INTO {t.award} (order_id, account_id, referral_id, points, original_points,
                               line_values, status, matures_at, created_at)
        SELECT e.id, acc.id, NULL, e.points, e.points, e.line_values, 'pending',
               e.date_placed + interval '30 days', %(now)s
        FROM ({eligible(t)}) AS e JOIN {t.account} acc ON acc.user_id = e.user_id
        WHERE e.date_placed >= %(since)s
        """,
        {"now": now, "since": since},
    )


def verify(label, t, expected, recorded):
    print(f"  checks after {label}:")
    n, points = fetchone(f"SELECT COUNT(*), COALESCE(SUM(points), 0) FROM {t.award}")
    (wrong,) = fetchone(
        f"""
        SELECT COUNT(*) FROM ({eligible(t)}) AS e
        FULL JOIN {t.award} a ON a.order_id = e.id
        LEFT JOIN {t.account} acc ON acc.id = a.account_id
        WHERE a.id IS NULL OR e.id IS NULL OR a.points <> e.points
           OR a.original_points <> e.points OR acc.user_id <> e.user_id
           OR a.matures_at <> e.date_placed + interval '30 days' OR a.status <> 'pending'
        """
    )
    ok = check("one award per order that earns", n == expected[0], f"{n:,} == {expected[0]:,}")
    ok &= check("awards reported == written", recorded == n, f"{recorded:,}")
    ok &= check("points", points == expected[1], f"{points:,} == {expected[1]:,}")
    ok &= check(
        "each award: its order's points, customer and maturity; none for guests or cancelled",
        wrong == 0,
        f"{wrong} differ",
    )
    return ok


def check(label, passed, detail):
    print(f"    [{'ok' if passed else 'FAILED'}] {label} ({detail})")
    return passed


def fingerprint(t):
    """The awards written (all but row ids and creation times), to compare runs."""
    return fetchone(
        f"""
        SELECT SUM(hashtextextended(concat_ws(',', a.order_id, acc.user_id, a.referral_id,
                                              a.points, a.original_points, a.line_values,
                                              a.status, a.matures_at), 0))
        FROM {t.award} a JOIN {t.account} acc ON acc.id = a.account_id
        """
    )


if __name__ == "__main__":
    sys.exit(main())
