"""The customer's Rewards page: a 100,000-entry history against a 10-entry one.

    python bench/rewards_page.py                                   # 100,000 vs 10 entries
    python bench/rewards_page.py --big 20000 --requests 40         # quick

Runs against a fresh PostgreSQL database (``DATABASE_URL``, by default
``postgres://postgres@127.0.0.1:5432/oscar_loyalty_bench_rewards``; see
``_setup.py``) holding two customers with points accounts:

* "big", with ``--big`` ledger entries, and "small", with ``--small``. Both
  histories are written by one set-based ``INSERT ... SELECT generate_series``,
  interleaved in id order over the same year as if both customers had been
  shopping at once: odd rows earn 2 points, even rows spend 1, so
  ``balance_after`` runs 2, 1, 3, 2, 4, ...; the account's balance is the last
  one, and one points lot (from the last earn, expiring in 20 days, so the
  "expiring soon" box shows) holds it all. Tables are vacuumed and analysed,
  as autovacuum would have done;
* three rewards in the catalogue, the same for both.

``/accounts/rewards/`` (``oscar_loyalty.views.RewardsView``, through the whole
middleware stack) is then requested with ``django.test.Client`` signed in as
each customer: ``--warmup`` untimed requests each, then ``--requests`` timed
requests each, alternating customers (the one going first alternates too) to
cancel drift and noise, with the garbage collector paused. Django's test
environment is not set up, so no per-template context copies are made.

Checks, once per customer: status 200, the balance shown, the history rows
shown (``min(entries, RewardsView.history_size)``), and the SQL queries per
request (``CaptureQueriesContext``), which must be equal for both. For
information, each query's time on each customer's page and the plan of the
history query. ``--explain`` prints ``EXPLAIN ANALYZE`` of every query of the
big customer's page.

The final line is ``RATIO rewards_page <median big / median small>`` (target <= 1.2).
"""

import argparse
import gc
import os
import re
import statistics
import sys
import time
from collections import defaultdict

from _setup import Timer, bootstrap, code_version, ratio_line, server_settings

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/oscar_loyalty_bench_rewards"
URL = "/accounts/rewards/"
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")  # not queries proper


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", type=int, default=100_000, help="the big customer's entries")
    parser.add_argument("--small", type=int, default=10, help="the small customer's entries")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per customer")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per customer")
    parser.add_argument(
        "--profile",
        type=int,
        default=20,
        help="requests per customer timing each SQL query, after the timed ones (0: skip)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print EXPLAIN (ANALYZE, BUFFERS) of every query of the big customer's page",
    )
    args = parser.parse_args()
    if min(args.big, args.small, args.requests) < 1 or min(args.warmup, args.profile) < 0:
        parser.error("entries and requests must be at least 1")
    return args


def balance_after(i):
    """The balance after the i-th entry (1-based): +2 on odd rows, -1 on even ones."""
    return 2 * ((i + 1) // 2) - i // 2


def main():
    args = parse_args()
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = DEFAULT_URL
    print(f"Setting up the bench database ({args.big:,} vs {args.small:,} ledger entries)")
    with Timer() as t:
        dbname = bootstrap()
    print(f"  database {dbname} created and migrated in {t.seconds:.1f} s")
    print(f"  {server_settings()}")
    print(f"  {code_version()}")

    from django.db import connection
    from django.test import Client

    from oscar_loyalty.views import RewardsView

    with Timer() as t:
        customers = create_data({"big": args.big, "small": args.small})
    print(f"  data created, vacuumed and analysed in {t.seconds:.1f} s")
    for c in customers.values():
        print(
            f"  {c['name']:5}: account {c['account']}, {c['entries']:,} entries "
            f"(ids {c['first_id']:,}..{c['last_id']:,}), balance {c['balance']:,}"
        )

    clients = {}
    for name, c in customers.items():
        clients[name] = Client()
        clients[name].force_login(c["user"])

    # Warm-up and checks ----------------------------------------------------------
    for _ in range(args.warmup):
        for name in customers:
            clients[name].get(URL)
    ok = True
    queries = {}
    print("\nchecks (one request per customer)")
    for name, c in customers.items():
        ok &= check(c, clients[name], RewardsView.history_size)
        queries[name] = capture(clients[name], connection)
    counts = {name: len(q) for name, q in queries.items()}
    same_count = len(set(counts.values())) == 1
    same_tables = len({tuple(map(label, q)) for q in queries.values()}) == 1
    ok &= same_count
    print(
        "  SQL queries per request: "
        + ", ".join(f"{name} {n}" for name, n in counts.items())
        + f"  ({'equal' if same_count else 'NOT EQUAL'}"
        + f"{', same tables in the same order' if same_tables else ', different tables'})"
    )
    if not (same_count and same_tables):
        for name, q in queries.items():
            print(f"  {name}'s queries:")
            for sql in q:
                print(f"    {' '.join(sql.split())[:150]}")

    # Timed requests --------------------------------------------------------------
    print(
        f"\ntimed: {args.requests} requests per customer, alternating "
        f"(after {args.warmup} warm-ups each)"
    )
    times = {name: [] for name in customers}
    cpu = {name: [] for name in customers}
    statuses = defaultdict(int)
    order = list(customers)
    gc.collect()
    gc.disable()
    try:
        for r in range(args.requests):
            for name in order if r % 2 == 0 else order[::-1]:
                client = clients[name]
                start, start_cpu = time.perf_counter(), time.process_time()
                response = client.get(URL)
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
                statuses[name, response.status_code] += 1
    finally:
        gc.enable()
    bad = {key: n for key, n in statuses.items() if key[1] != 200}
    if bad:
        ok = False
        print(f"  [FAIL] responses other than 200: {bad}")
    stats = {}
    for name, values in times.items():
        stats[name] = median, p90 = summary(values)
        print(
            f"  {name:5}: median {median * 1000:7.2f} ms, p90 {p90 * 1000:7.2f} ms, "
            f"min {min(values) * 1000:7.2f} ms, max {max(values) * 1000:7.2f} ms, "
            f"{counts[name]} queries per request"
        )
    print(
        "  this process's CPU time per request (Python only, not PostgreSQL; less sensitive "
        "to other load): "
        + ", ".join(f"{name} median {statistics.median(cpu[name]) * 1000:.2f} ms" for name in cpu)
        + f", big / small {statistics.median(cpu['big']) / statistics.median(cpu['small']):.3f}"
    )

    # Where the time goes, for information -----------------------------------------
    if args.profile:
        sql_ms = profile(clients, connection, args.profile)
        print(
            f"\nSQL time per query (median ms over {args.profile} requests per customer, "
            "timed around cursor.execute)"
        )
        width = max(len(label(sql)) for q in queries.values() for sql in q)
        for i, sql in enumerate(queries["big"]):
            cells = []
            for name in customers:
                per_query = sql_ms[name]
                cells.append(
                    f"{name} {per_query[i]:6.3f}" if i < len(per_query) else f"{name}    n/a"
                )
            print(f"  {label(sql):{width}}  " + "  ".join(cells))
        for name in customers:
            print(
                f"  {'all queries, ' + name:{width}}  {sum(sql_ms[name]):.3f} ms of "
                f"{stats[name][0] * 1000:.2f} ms per request"
            )
    print("\nplan of the history query")
    for name in customers:
        sql = next((s for s in queries[name] if history_query(s)), None)
        if sql is None:
            print(f"  {name}: no ledger entries query found")
            continue
        print(f"  {name:5}: {plan_summary(explain(connection, sql))}")
    if args.explain:
        print("\nEXPLAIN (ANALYZE, BUFFERS) of the big customer's queries")
        for sql in queries["big"]:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            print(f"\n  {' '.join(sql.split())}")
            for line in explain(connection, sql):
                print(f"    {line}")

    big, small = stats["big"][0], stats["small"][0]
    print("\nsummary")
    for name in customers:
        median, p90 = stats[name]
        print(
            f"  {name:5} ({customers[name]['entries']:>7,} entries) median {median * 1000:7.2f} ms"
            f"  p90 {p90 * 1000:7.2f} ms  {counts[name]} queries"
        )
    print(f"  median big / median small = {big / small:.3f}  (target <= 1.2)")
    print(f"  correctness checks: {'all passed' if ok else 'FAILED (see above)'}")
    print(ratio_line("rewards_page", big, small))
    return 0 if ok else 1


def summary(values):
    """(median, 90th percentile) of ``values``."""
    median = statistics.median(values)
    p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
    return median, p90


def check(customer, client, history_size):
    response = client.get(URL)
    body = response.content.decode()
    balance = customer["balance"]
    rows = re.search(r'id="rewards-history".*?<tbody>(.*?)</tbody>', body, re.S)
    shown = len(re.findall(r"<tr>", rows.group(1))) if rows else 0
    expected_rows = min(customer["entries"], history_size)
    newest = f'<td class="text-right">{balance}</td>'
    checks = [
        (f"status 200 ({response.status_code})", response.status_code == 200),
        (
            f"balance shown ({balance:,})",
            f'data-balance="{balance}"' in body and f">{balance} point" in body,
        ),
        (f"history rows shown == {expected_rows} ({shown})", shown == expected_rows),
        ("newest entry first (its balance_after == balance)", newest in body),
        (
            "older-page link iff more entries",
            ("?before=" in body) == (customer["entries"] > history_size),
        ),
    ]
    print(f"  {customer['name']}:")
    for text, good in checks:
        print(f"    [{'ok' if good else 'FAIL'}] {text}")
    return all(good for _text, good in checks)


def capture(client, connection):
    """The SQL of one request's queries, transaction control left out."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL)
    assert response.status_code == 200
    return [q["sql"] for q in ctx.captured_queries if not is_control(q["sql"])]


def is_control(sql):
    return sql.lstrip().upper().startswith(CONTROL)


def profile(clients, connection, requests):
    """{customer: [median ms of the request's i-th query]} over ``requests`` requests each."""
    runs = {name: [] for name in clients}

    def timed(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if not is_control(sql):
                current.append((time.perf_counter() - start) * 1000)

    with connection.execute_wrapper(timed):
        for r in range(requests):
            for name in clients if r % 2 == 0 else list(clients)[::-1]:
                current = []
                clients[name].get(URL)
                runs[name].append(current)
    return {
        name: [statistics.median(column) for column in zip(*per_request, strict=False)]
        for name, per_request in runs.items()
    }


def label(sql):
    words = " ".join(sql.split())
    verb = words.split(" ", 1)[0]
    table = re.search(r'(?:FROM|INTO|UPDATE) "?(\w+)"?', words)
    name = table.group(1) if table else ""
    return f"{verb} {name}" + (" (history)" if history_query(sql) else "")


def history_query(sql):
    return re.search(r'FROM "oscar_loyalty_ledgerentry"', sql) is not None


def plan_summary(plan):
    """Execution time, and how the entries were read (scan, rows, rows filtered out, buffers)."""
    timing = next((line.strip() for line in plan if line.startswith("Execution Time")), "")
    scan, details = "", []
    for i, line in enumerate(plan):
        if "on oscar_loyalty_ledgerentry" in line:
            scan = re.sub(r"\(cost=[^)]*\) ", "", line.strip().lstrip("-> "))
            for detail in plan[i + 1 :]:
                if "->" in detail:
                    break
                if detail.strip().startswith(("Rows Removed", "Buffers")):
                    details.append(detail.strip())
            break
    top = re.sub(r"\s+\(cost=.*", "", plan[0].strip())
    return "; ".join([timing, f"top node {top}", f"entries: {scan}", *details])


def explain(connection, sql):
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return [row[0] for row in cursor.fetchall()]


def create_data(sizes):
    """Customers, accounts, interleaved ledger histories, one lot each, three rewards."""
    from datetime import timedelta
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from oscar_loyalty.models import Account, LedgerEntry, PointsLot, Reward

    qn = connection.ops.quote_name
    entry, lot, account = (qn(m._meta.db_table) for m in (LedgerEntry, PointsLot, Account))
    now = timezone.now()
    start = now - timedelta(days=366)
    customers = {}
    with transaction.atomic():
        for name, n in sizes.items():
            user = get_user_model().objects.create_user(
                username=f"bench-{name}", email=f"{name}@example.com", password="bench"
            )
            acc = Account.objects.create(user=user, created_at=start - timedelta(days=1))
            customers[name] = {
                "name": name,
                "user": user,
                "account": acc.pk,
                "entries": n,
                "balance": balance_after(n),
            }
        for cost in (100, 500, 1000):
            Reward.objects.create(
                name=f"{cost} points reward",
                description="A bench reward.",
                kind=Reward.Kind.DISCOUNT,
                cost=cost,
                value=Decimal(cost) / 100,
            )
        # Both histories in one statement, ordered by time: the customers' ids interleave.
        series = " UNION ALL ".join(
            f"SELECT {c['account']}::bigint AS account_id, i, i::float8 / {c['entries']} AS t "
            f"FROM generate_series(1, {c['entries']}) AS i"
            for c in customers.values()
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {entry} (account_id, kind, points, balance_after, reason,
                                     idempotency_key, created_at)
                SELECT account_id,
                       CASE WHEN i %% 2 = 1 THEN 'earn' ELSE 'spend' END,
                       CASE WHEN i %% 2 = 1 THEN 2 ELSE -1 END,
                       2 * ((i + 1) / 2) - i / 2,
                       CASE WHEN i %% 2 = 1 THEN 'Bench earn ' ELSE 'Bench spend ' END || i,
                       'bench:rewards:' || account_id || ':' || i,
                       %(start)s + t * (%(now)s - %(start)s - interval '1 hour')
                FROM ({series}) AS s
                ORDER BY t, account_id
                """,
                {"start": start, "now": now},
            )
            # One lot per account holding the whole balance, from its last earn.
            cursor.execute(
                f"""
                INSERT INTO {lot} (account_id, entry_id, points, remaining, earned_at, expires_at)
                SELECT DISTINCT ON (e.account_id) e.account_id, e.id, a.balance_now,
                       a.balance_now, e.created_at, %(expires)s
                FROM {entry} e
                JOIN (SELECT account_id, (ARRAY_AGG(balance_after ORDER BY id DESC))[1]
                             AS balance_now
                      FROM {entry} GROUP BY account_id) a ON a.account_id = e.account_id
                WHERE e.kind = 'earn'
                ORDER BY e.account_id, e.id DESC
                """,
                {"expires": now + timedelta(days=20)},
            )
            cursor.execute(
                f"""
                UPDATE {account} acc
                SET balance = l.remaining, last_activity_at = e.last_at
                FROM {lot} l,
                     (SELECT account_id, MAX(created_at) AS last_at FROM {entry}
                      GROUP BY account_id) e
                WHERE l.account_id = acc.id AND e.account_id = acc.id
                """
            )
            cursor.execute(
                f"""
                SELECT acc.id, acc.balance, COUNT(e.id), MIN(e.id), MAX(e.id),
                       (SELECT balance_after FROM {entry} WHERE account_id = acc.id
                        ORDER BY id DESC LIMIT 1)
                FROM {account} acc JOIN {entry} e ON e.account_id = acc.id
                GROUP BY acc.id
                """
            )
            found = {row[0]: row[1:] for row in cursor.fetchall()}
    for c in customers.values():
        balance, count, first_id, last_id, last_after = found[c["account"]]
        assert balance == c["balance"] == last_after and count == c["entries"], (c, found)
        c.update(first_id=first_id, last_id=last_id)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {entry}, {lot}, {account}")
    return customers


if __name__ == "__main__":
    sys.exit(main())
