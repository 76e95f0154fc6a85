"""The dashboard's KPI page: a store of 1,000,000 ledger entries against one of 10,000.

    python bench/dashboard.py                                        # 10k, then 1M entries
    python bench/dashboard.py --entries 100000 --customers 10000     # quick

Runs against a fresh PostgreSQL database (``DATABASE_URL``, by default
``postgres://postgres@127.0.0.1:5432/oscar_loyalty_bench_dashboard``; see
``_setup.py``). The same shop is measured twice: first with ``--small-entries``
ledger entries and ``--small-customers`` customers, then grown (set-based
``INSERT ... SELECT generate_series``) to ``--entries`` and ``--customers``,
with the same shape:

* 60% of customers are members (a points account); the ledger entries are
  spread evenly over them and over the last 400 days: in every ten, five
  earn 10 points (each its own lot, expiring a year later), three spend 4,
  one expires 2 and one is a staff adjustment of +3; each spend and expiry
  takes from a lot; what is left of a lot past its date is expired, as the
  daily expiry job does; balances are the sum of the entries;
* two orders per customer over the same 400 days, one in five a guest's, one
  in twenty cancelled; one in ten used a coupon (three campaigns); one
  member's order in ten still has a pending award;
* one referral per twenty customers.

Tables are vacuumed and analysed after each load, as autovacuum would do, the
daily sums stored (``kpis.store_daily_figures``, the hourly job; its time is
printed) and a ``CHECKPOINT`` taken, so no write-back of the load runs during
the timings: the page reads the sums for every day but today. The small shop
is kept as a copy (``<database>_small``, made from the database as a template
before it grows), so both shops are measured **in turns**: ``--rounds``
rounds, each timing ``--requests`` requests on the small shop, then on the big
one, after one untimed request on each (``--warmup`` untimed ones first). The
machine is shared: whatever else runs slows both shops alike, instead of the
one measured second. The garbage collector is paused while timing.

Pages, requested with ``django.test.Client`` signed in as staff:
``/dashboard/loyalty/kpis/?days=30`` (the default period) and the customers at
risk (``?days=60``, first page and the CSV of all of them, whose peak Python
memory is printed: it streams chunk after chunk). Printed: median and p90 at
each size, the SQL queries per request at each size (they must be equal), each
query's time at both sizes.

The final line is ``RATIO dashboard <median at big / median at small>`` of the
KPI page (target <= 3); the at-risk page's ratio is printed above it.
"""

import argparse
import gc
import os
import statistics
import sys
import time

from _setup import Timer, bootstrap, code_version, machine, ratio_line, server_settings

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/oscar_loyalty_bench_dashboard"
URL = "/dashboard/loyalty/kpis/?days=30"
AT_RISK_URL = "/dashboard/loyalty/kpis/at-risk/?days=60"
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
SPAN_DAYS = 400


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--small-entries", type=int, default=10_000)
    parser.add_argument("--small-customers", type=int, default=1_000)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--requests", type=int, default=5, help="timed requests a round")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    if not (0 < args.small_entries < args.entries and 0 < args.small_customers < args.customers):
        parser.error("the small shop must be smaller than the big one, and not empty")
    if args.requests < 1 or args.warmup < 0 or args.rounds < 1:
        parser.error("at least one timed request")
    return args


def main():
    args = parse_args()
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = DEFAULT_URL
    print(
        f"Setting up the bench database ({args.small_entries:,} entries / "
        f"{args.small_customers:,} customers, then {args.entries:,} / {args.customers:,})"
    )
    with Timer() as t:
        dbname = bootstrap(suffix="dashboard")
    print(f"  database {dbname} created and migrated in {t.seconds:.1f} s")
    print(f"  {server_settings()}")
    print(f"  {code_version()}")
    print(f"  {machine()}")

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from oscar_loyalty import kpis

    staff = get_user_model().objects.create_user(
        username="bench-staff", email="staff@example.com", password="bench", is_staff=True
    )
    client = Client()
    client.force_login(staff)
    setup_campaigns()

    ok = True
    sizes = [
        ("small", 0, args.small_customers, 0, args.small_entries),
        ("big", args.small_customers, args.customers, args.small_entries, args.entries),
    ]
    databases = {"big": dbname, "small": f"{dbname}_small"}
    for name, c0, c1, e0, e1 in sizes:
        with Timer() as t:
            load(c0, c1, e0, e1)
            vacuum(connection)
        print(f"\n{name}: shop grown to {c1:,} customers and {e1:,} entries in {t.seconds:.1f} s")
        with Timer() as t:
            days = kpis.store_daily_figures()
            vacuum(connection)
            checkpoint(connection)
        print(f"  daily sums: {days} days stored in {t.seconds:.1f} s (the hourly job)")
        ok &= check(client, e1)
        if name == "small":
            copy_database(connection, databases["small"])

    pages = {"kpis": URL, "at_risk": AT_RISK_URL}
    results = measure_in_turns(client, connection, databases, pages, args)
    for name in ("small", "big"):
        use_database(connection, databases[name])
        results[name]["csv_peak"] = csv_peak(client)
        print(f"\n{name} ({databases[name]})")
        for page in pages:
            r = results[name][page]
            print(
                f"  {page:8} median {r['median'] * 1000:8.2f} ms, p90 {r['p90'] * 1000:8.2f} ms,"
                f" {len(r['queries'])} queries"
            )
        print(
            f"  at-risk CSV: {results[name]['csv_peak'][0]:,} rows, peak Python memory "
            f"{results[name]['csv_peak'][1] / 1024:,.0f} KiB"
        )

    for page in pages:
        print(f"\nSQL time per query of the {page} page at both sizes (ms, one request each)")
        for (sql, small_ms), (_sql, big_ms) in zip(
            results["small"][page]["timed"], results["big"][page]["timed"], strict=False
        ):
            print(f"  {small_ms:8.2f} {big_ms:8.2f}  {' '.join(sql.split())[:110]}")

    print("\nsummary")
    for page in pages:
        small, big = results["small"][page], results["big"][page]
        same = len(small["queries"]) == len(big["queries"])
        ok &= same
        print(
            f"  {page:8} small {small['median'] * 1000:8.2f} ms, big {big['median'] * 1000:8.2f} ms"
            f", big / small {big['median'] / small['median']:.3f}; queries "
            f"{len(small['queries'])} and {len(big['queries'])}"
            f" ({'equal' if same else 'NOT EQUAL'})"
        )
    print(f"  machine after: {machine()}")
    print(f"  correctness checks: {'all passed' if ok else 'FAILED (see above)'}")
    print(
        ratio_line(
            "dashboard", results["big"]["kpis"]["median"], results["small"]["kpis"]["median"]
        )
    )
    return 0 if ok else 1


def checkpoint(connection):
    """Write the load's dirty pages now, not while the pages are timed."""
    with connection.cursor() as cur:
        cur.execute("CHECKPOINT")


def copy_database(connection, name):
    """The database as it is now, copied to ``name`` (PostgreSQL's template copy)."""
    import psycopg
    from psycopg import sql

    db = connection.settings_dict
    source = db["NAME"]
    connection.close()
    params = {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(source)
            )
        )


def use_database(connection, name):
    if connection.settings_dict["NAME"] != name:
        connection.close()
        connection.settings_dict["NAME"] = name


def measure_in_turns(client, connection, databases, pages, args):
    """Each page timed on both shops in turns, so load on the machine falls on both."""
    from django.test.utils import CaptureQueriesContext

    times = {name: {page: [] for page in pages} for name in databases}
    for name in databases:
        use_database(connection, databases[name])
        for url in pages.values():
            for _ in range(args.warmup):
                client.get(url)
    gc.collect()
    gc.disable()
    try:
        for _round in range(args.rounds):
            for name in ("small", "big"):
                use_database(connection, databases[name])
                for page, url in pages.items():
                    client.get(url)  # untimed: the connection and caches after the switch
                    for _ in range(args.requests):
                        start = time.perf_counter()
                        response = client.get(url)
                        times[name][page].append(time.perf_counter() - start)
                        assert response.status_code == 200, response.status_code
    finally:
        gc.enable()
    results = {}
    for name in databases:
        use_database(connection, databases[name])
        results[name] = {}
        for page, url in pages.items():
            with CaptureQueriesContext(connection) as ctx:
                client.get(url)
            queries = [q for q in ctx.captured_queries if not q["sql"].lstrip().startswith(CONTROL)]
            series = times[name][page]
            results[name][page] = {
                "median": statistics.median(series),
                "p90": statistics.quantiles(series, n=10)[-1] if len(series) > 1 else series[0],
                "queries": [q["sql"] for q in queries],
                "timed": [(q["sql"], float(q["time"]) * 1000) for q in queries],
            }
    return results


def csv_peak(client):
    """Rows of the at-risk CSV and the peak Python memory while streaming it."""
    import tracemalloc

    tracemalloc.start()
    response = client.get(AT_RISK_URL + "&format=csv")
    rows = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return rows, peak


def setup_campaigns():
    from datetime import timedelta

    from django.utils import timezone
    from oscar.core.loading import get_model

    Voucher = get_model("voucher", "Voucher")
    VoucherSet = get_model("voucher", "VoucherSet")
    now = timezone.now()
    dates = {"start_datetime": now - timedelta(days=500), "end_datetime": now + timedelta(days=9)}
    spring = VoucherSet.objects.create(name="Spring codes", count=0, **dates)
    Voucher.objects.create(name="S1", code="SPRING-1", voucher_set=spring, **dates)
    Voucher.objects.create(name="Welcome", code="WELCOME", **dates)
    Voucher.objects.create(name="Summer", code="SUMMER", **dates)


def load(c0, c1, e0, e1):
    """Customers [c0, c1) and entries [e0, e1), as the module docstring says, in SQL."""
    from django.db import connection, transaction
    from django.utils import timezone
    from oscar.core.loading import get_model

    from oscar_loyalty.models import (
        Account,
        DailyExpiry,
        DailyPoints,
        LedgerEntry,
        LotConsumption,
        PendingAward,
        PointsLot,
        Referral,
    )

    Order = get_model("order", "Order")
    OrderDiscount = get_model("order", "OrderDiscount")
    Voucher = get_model("voucher", "Voucher")
    User = get_model("auth", "User")
    t = {
        m.__name__: connection.ops.quote_name(m._meta.db_table)
        for m in (
            Account,
            LedgerEntry,
            LotConsumption,
            PendingAward,
            PointsLot,
            Referral,
            Order,
            OrderDiscount,
            User,
        )
    }
    vouchers = list(Voucher.objects.order_by("pk").values_list("pk", "code"))
    p = {
        "now": timezone.now(),
        "c0": c0,
        "c1": c1,
        "e0": e0,
        "e1": e1,
        "span": SPAN_DAYS * 86400,
        # Members of this batch: its first 60% of customers.
        "nm": (c1 - c0) * 6 // 10,
    }
    with transaction.atomic(), connection.cursor() as cur:
        # The bench writes history after the daily sums were stored: sum it again.
        DailyPoints.objects.all().delete()
        DailyExpiry.objects.all().delete()
        cur.execute(
            f"""
            INSERT INTO {t["User"]} (password, is_superuser, username, first_name, last_name,
                                   email, is_staff, is_active, date_joined)
            SELECT '!', false, 'c' || i, 'Name' || i, 'Surname' || i, 'c' || i || '@example.com',
                   false, true,
                   %(now)s - make_interval(secs => %(span)s + (i * 7919) %% 86400 * 30)
            FROM generate_series(%(c0)s, %(c1)s - 1) AS i
            """,
            p,
        )
        cur.execute(
            f"""
            INSERT INTO {t["Account"]} (user_id, balance, created_at, last_activity_at)
            SELECT u.id, 0, u.date_joined + interval '1 day', NULL
            FROM {t["User"]} u
            WHERE u.username IN (
                SELECT 'c' || i FROM generate_series(%(c0)s, %(c0)s + %(nm)s - 1) AS i)
            """,
            p,
        )
        # Each ten entries belong to one member, in turn; their times spread over the span.
        cur.execute(
            f"""
            INSERT INTO {t["LedgerEntry"]} (account_id, kind, points, balance_after, reason,
                                          reason_code, reason_params,
                                          idempotency_key, created_at, staff_user_id)
            SELECT a.id,
                   CASE WHEN i %% 10 < 5 THEN 'earn' WHEN i %% 10 < 8 THEN 'spend'
                        WHEN i %% 10 = 8 THEN 'expire' ELSE 'adjustment' END,
                   CASE WHEN i %% 10 < 5 THEN 10 WHEN i %% 10 < 8 THEN -4
                        WHEN i %% 10 = 8 THEN -2 ELSE 3 END,
                   0, 'Bench', 'adjustment', '{{}}', 'bench:' || i,
                   %(now)s - make_interval(secs => %(span)s - (i - %(e0)s)::float8
                        / (%(e1)s - %(e0)s) * %(span)s),
                   NULL
            FROM generate_series(%(e0)s, %(e1)s - 1) AS i
            JOIN {t["User"]} u ON u.username = 'c' || (%(c0)s + (i - %(e0)s) / 10 %% %(nm)s)
            JOIN {t["Account"]} a ON a.user_id = u.id
            """,
            p,
        )
        cur.execute(
            f"""
            INSERT INTO {t["PointsLot"]} (account_id, entry_id, points, remaining, earned_at,
                                        expires_at)
            SELECT e.account_id, e.id, 10, 10, e.created_at, e.created_at + interval '1 year'
            FROM {t["LedgerEntry"]} e
            WHERE e.kind = 'earn' AND e.idempotency_key LIKE 'bench:%%'
              AND NOT EXISTS (SELECT 1 FROM {t["PointsLot"]} l WHERE l.entry_id = e.id)
            """
        )
        # Each spend or expiry (the 5th..8th of ten) takes from the lot of an earn of its ten.
        cur.execute(
            f"""
            WITH taken AS (
                SELECT e.id AS entry_id, l.id AS lot_id, -e.points AS points
                FROM generate_series(%(e0)s, %(e1)s - 1) AS i
                JOIN {t["LedgerEntry"]} e ON e.idempotency_key = 'bench:' || i
                JOIN {t["LedgerEntry"]} earned
                  ON earned.idempotency_key = 'bench:' || (i - 5 + (i %% 10 = 8)::int)
                JOIN {t["PointsLot"]} l ON l.entry_id = earned.id
                WHERE i %% 10 BETWEEN 5 AND 8 AND i - 5 >= %(e0)s
            ), consumed AS (
                INSERT INTO {t["LotConsumption"]} (entry_id, lot_id, points)
                SELECT entry_id, lot_id, points FROM taken RETURNING lot_id, points
            )
            UPDATE {t["PointsLot"]} l SET remaining = l.remaining - c.points
            FROM (SELECT lot_id, SUM(points) AS points FROM consumed GROUP BY lot_id) c
            WHERE l.id = c.lot_id
            """,
            p,
        )
        # What the daily expiry job would have done: the rest of each lot past its date.
        cur.execute(
            f"""
            WITH due AS (
                UPDATE {t["PointsLot"]} l SET remaining = 0
                FROM (SELECT id, remaining FROM {t["PointsLot"]}
                      WHERE expires_at <= %(now)s AND remaining > 0 FOR UPDATE) old
                WHERE l.id = old.id
                RETURNING l.id, l.account_id, old.remaining, l.expires_at
            ), posted AS (
                INSERT INTO {t["LedgerEntry"]} (account_id, kind, points, balance_after, reason,
                                              reason_code, reason_params,
                                              idempotency_key, created_at)
                SELECT account_id, 'expire', -remaining, 0, 'Expired', 'expired', '{{}}',
                       'expire:lot:' || id,
                       LEAST(expires_at + interval '3 hours 17 minutes', %(now)s)
                FROM due
                RETURNING id, idempotency_key, -points AS points
            )
            INSERT INTO {t["LotConsumption"]} (entry_id, lot_id, points)
            SELECT id, CAST(SUBSTRING(idempotency_key FROM 12) AS BIGINT), points FROM posted
            """,
            p,
        )
        cur.execute(
            f"""
            UPDATE {t["Account"]} a SET balance = s.balance
            FROM (SELECT account_id, SUM(points) AS balance FROM {t["LedgerEntry"]}
                  GROUP BY account_id) s
            WHERE a.id = s.account_id AND a.balance <> s.balance
            """
        )
        # Two orders per customer of the batch; one in five a guest's, one in twenty cancelled.
        cur.execute(
            f"""
            INSERT INTO {t["Order"]} (number, currency, total_incl_tax, total_excl_tax,
                shipping_incl_tax, shipping_excl_tax, shipping_method, shipping_code, status,
                guest_email, date_placed, user_id, analytics_tracked)
            SELECT 'B' || i, 'USD', 10 + (i::bigint * 37) %% 190, 10, 0, 0, 'Free', 'free',
                   CASE WHEN i %% 20 = 0 THEN 'Cancelled' ELSE 'Pending' END,
                   CASE WHEN i %% 5 = 0 THEN 'guest' || (i / 2) || '@example.com' ELSE '' END,
                   %(now)s - make_interval(secs => (i::bigint * 104729) %% %(span)s),
                   CASE WHEN i %% 5 = 0 THEN NULL ELSE u.id END, false
            FROM generate_series(2 * %(c0)s, 2 * %(c1)s - 1) AS i
            JOIN {t["User"]} u ON u.username = 'c' || (i / 2)
            """,
            p,
        )
        cases = " ".join(f"WHEN {n} THEN %(v{n})s" for n in range(len(vouchers)))
        p.update({f"v{n}": pk for n, (pk, _code) in enumerate(vouchers)})
        p.update({f"code{n}": code for n, (_pk, code) in enumerate(vouchers)})
        codes = " ".join(f"WHEN {n} THEN %(code{n})s" for n in range(len(vouchers)))
        cur.execute(
            f"""
            INSERT INTO {t["OrderDiscount"]} (category, offer_name, voucher_id, voucher_code,
                                             amount, message, order_id)
            SELECT 'Basket', 'Coupon', CASE o.id %% {len(vouchers)} {cases} END,
                   CASE o.id %% {len(vouchers)} {codes} END, 5, '', o.id
            FROM {t["Order"]} o
            WHERE o.number IN (SELECT 'B' || i FROM generate_series(2 * %(c0)s, 2 * %(c1)s - 1) i
                               WHERE i %% 10 = 3)
            """,
            p,
        )
        cur.execute(
            f"""
            INSERT INTO {t["PendingAward"]} (order_id, account_id, referral_id, points,
                original_points, line_values, status, matures_at, created_at)
            SELECT o.id, a.id, NULL, 5, 5, '{{}}', 'pending', o.date_placed + interval '30 days',
                   o.date_placed
            FROM {t["Order"]} o JOIN {t["Account"]} a ON a.user_id = o.user_id
            WHERE o.number IN (SELECT 'B' || i FROM generate_series(2 * %(c0)s, 2 * %(c1)s - 1) i
                               WHERE i %% 10 = 1)
            """,
            p,
        )
        cur.execute(
            f"""
            INSERT INTO {t["Referral"]} (referrer_id, referred_id, status, reason, created_at)
            SELECT r.id, f.id, 'active', '', f.date_joined
            FROM generate_series(%(c0)s, %(c1)s - 1) AS i
            JOIN {t["User"]} r ON r.username = 'c' || (%(c0)s + (i - %(c0)s) / 20)
            JOIN {t["User"]} f ON f.username = 'c' || i
            WHERE i %% 20 = 19
            """,
            p,
        )


def vacuum(connection):
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")


def check(client, entries):
    """The page's points agree with the ledger, counted here in SQL."""
    from django.db.models import Sum

    from oscar_loyalty.models import Account, LedgerEntry

    total = LedgerEntry.objects.aggregate(s=Sum("points"))["s"]
    balances = Account.objects.aggregate(s=Sum("balance"))["s"]
    response = client.get(URL)
    body = response.content.decode()
    checks = [
        (f"status 200 ({response.status_code})", response.status_code == 200),
        (
            f"{entries:,} entries, and the expiry of each lot past its date",
            LedgerEntry.objects.filter(idempotency_key__startswith="bench:").count() == entries,
        ),
        (f"balances == sum of entries ({total:,})", total == balances),
        ("liability shown", f'id="kpi-liability">{balances:.2f}<' in body),
    ]
    for text, good in checks:
        print(f"  [{'ok' if good else 'FAIL'}] {text}")
    return all(good for _text, good in checks)


if __name__ == "__main__":
    sys.exit(main())
