"""Two Celery workers against one: the fanned-out maturing job, and queued orders.

    python bench/workers.py                      # 1,000,000 awards, 100,000 customers, 5,000 orders
    python bench/workers.py --awards 200000 --customers 20000 --orders 2000   # quicker

Builds the maturation benchmark's data (due pending awards, one order each),
then, with one real Celery worker on Redis and then two (each ``--pool=solo``,
so concurrency 1, ``--prefetch-multiplier 1``; the sandbox's Celery app with
``bench/_worker_settings.py``):

1. maturing: sends ``oscar_loyalty.mature_awards`` (what beat sends); it cuts
   the due awards into ranges and queues a task each, which the workers share
   (each chunk claimed with ``FOR UPDATE SKIP LOCKED``). Timed from the send
   until no award is pending; then checked: one entry per award (no double
   award), every award earned, each balance equal to its entries' sum. The
   ledger is reset (as ``maturation.py`` does) before the next run.
2. orders: ``--orders`` placed orders (1-3 lines) with no award, their
   ``oscar_loyalty.order_placed`` tasks queued on a queue the workers do not
   read yet; the workers are told to read it and the time runs until every
   order has its award (one each).

Workers are started, and answer a ping, before anything is timed. Points
emails are off in the workers (a separate task, not the work measured).
Other work on the machine moves a two-worker figure most: the load average
is printed with each run.

The final line is ``RATIO workers <seconds with 2 workers / seconds with 1>``
for the maturing job (the orders' ratio is printed above it).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _setup import ROOT, Timer, bootstrap, code_version, machine, server_settings
from maturation import Tables, create_data, execute, fetchone, prepare, reset

BENCH_QUEUE = "bench-orders"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--awards", type=int, default=1_000_000, help="due pending awards")
    parser.add_argument("--customers", type=int, default=100_000, help="customers")
    parser.add_argument("--orders", type=int, default=5_000, help="orders queued")
    parser.add_argument(
        "--broker",
        default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/14",
        help="Redis broker URL (its database is flushed)",
    )
    args = parser.parse_args()
    if args.awards < 1 or args.customers < 1 or args.customers > args.awards:
        parser.error("need 1 <= customers <= awards")
    if args.orders < 1:
        parser.error("need 1 order or more")
    return args


def main():
    args = parse_args()
    print(
        f"Setting up the bench database ({args.awards:,} awards, {args.customers:,} customers, "
        f"{args.orders:,} orders)"
    )
    with Timer() as t:
        dbname = bootstrap(suffix="workers")
    print(f"  database {dbname} created and migrated in {t.seconds:.1f} s")
    print(f"  {server_settings()}")
    print(f"  {code_version()}")
    print(f"  broker {args.broker}")

    from celery import Celery
    from django.utils import timezone

    from oscar_loyalty.conf import loyalty_settings

    db_url = os.environ["DATABASE_URL"]
    tables = Tables()
    now = timezone.now()
    with Timer() as t:
        create_data(tables, args.awards, args.customers, now)
        prepare(tables)
    print(f"  awards created, tables vacuumed and analysed in {t.seconds:.1f} s")
    (due,) = fetchone(f"SELECT COUNT(*) FROM {tables.award} WHERE status = 'pending'")
    app = Celery("bench", broker=args.broker)
    chunk = loyalty_settings.TASK_CHUNK_SIZE

    ok = True
    mature_times, order_times = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        for n in (1, 2):
            print(f"\n{n} worker{'s' if n > 1 else ''}: maturing {due:,} awards")
            reset(tables)
            prepare(tables)
            flush(args.broker)
            with Workers(n, db_url, args.broker, Path(tmp)) as workers:
                workers.wait_ready(app)
                print(f"  {machine()}")
                with Timer() as t:
                    app.send_task("oscar_loyalty.mature_awards")
                    wait_for(
                        lambda: (
                            fetchone(
                                f"SELECT COUNT(*) FROM {tables.award} WHERE status = 'pending'"
                            )[0]
                            == 0
                        ),
                        workers,
                    )
                mature_times[n] = t.seconds
                print(f"  matured in {t.seconds:.2f} s: {due / t.seconds:,.0f} awards/s")
                print(f"  range tasks run by each worker: {workers.count('mature_award_range')}")
                ok &= verify_maturation(tables, due)
                print(f"  {machine()}")
        # The queued orders -------------------------------------------------------
        order_ids = create_orders(tables, args.orders, now)
        for n in (1, 2):
            print(f"\n{n} worker{'s' if n > 1 else ''}: {len(order_ids):,} queued orders")
            execute(
                f"DELETE FROM {tables.award} WHERE order_id >= %s AND order_id <= %s",
                [order_ids[0], order_ids[-1]],
            )
            execute(f"VACUUM ANALYZE {tables.award}")
            flush(args.broker)
            for pk in order_ids:
                app.send_task("oscar_loyalty.order_placed", (pk,), queue=BENCH_QUEUE)
            with Workers(n, db_url, args.broker, Path(tmp)) as workers:
                workers.wait_ready(app)
                print(f"  {machine()}")
                with Timer() as t:
                    app.control.add_consumer(BENCH_QUEUE, reply=True, timeout=5)
                    wait_for(lambda: orders_done(tables, order_ids) >= len(order_ids), workers)
                order_times[n] = t.seconds
                print(
                    f"  recorded in {t.seconds:.2f} s: {len(order_ids) / t.seconds:,.0f} orders/s"
                )
                print(f"  order tasks run by each worker: {workers.count('order_placed')}")
                ok &= verify_orders(tables, order_ids)
                print(f"  {machine()}")

    print("\nsummary")
    print(
        f"  maturing {due:,} awards: 1 worker {mature_times[1]:.2f} s, "
        f"2 workers {mature_times[2]:.2f} s"
    )
    print(
        f"  {len(order_ids):,} orders: 1 worker {order_times[1]:.2f} s, "
        f"2 workers {order_times[2]:.2f} s"
    )
    print(f"  orders: 2 workers / 1 = {order_times[2] / order_times[1]:.3f}")
    print(f"  maturing: 2 workers / 1 = {mature_times[2] / mature_times[1]:.3f}  (target <= 0.65)")
    print(f"  correctness checks: {'all passed' if ok else 'FAILED (see above)'}")
    print(f"  chunk size {chunk}; {machine()}")
    print(f"RATIO workers {mature_times[2] / mature_times[1]:.3f}")
    return 0 if ok else 1


class Workers:
    """``n`` Celery worker processes, each ``--pool=solo``, stopped on exit."""

    def __init__(self, n, db_url, broker, tmp):
        self.n, self.tmp, self.processes, self.logs = n, tmp, [], []
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "_worker_settings",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)]),
            "DATABASE_URL": db_url,
            "CELERY_BROKER_URL": broker,
            "DJANGO_DEBUG": "0",
            "WHOOSH_PATH": str(tmp / "whoosh"),
        }

    def __enter__(self):
        for i in range(self.n):
            path = self.tmp / f"worker{self.n}-{i}.log"
            log = open(path, "w")  # noqa: SIM115  (closed in __exit__)
            self.logs.append((path, log))
            self.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "sandbox",
                        "worker",
                        "--pool=solo",
                        "--concurrency=1",
                        "--prefetch-multiplier=1",
                        "--without-gossip",
                        "--without-mingle",
                        "--loglevel=INFO",
                        "-n",
                        f"bench{i}@%h",
                    ],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        return self

    def wait_ready(self, app, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if len(app.control.ping(timeout=1.0) or []) >= self.n:
                return
        raise SystemExit(f"the workers did not start:\n{self.tail()}")

    def check_alive(self):
        if any(p.poll() is not None for p in self.processes):
            raise SystemExit(f"a worker died:\n{self.tail()}")

    def count(self, task):
        """How many ``task`` tasks each worker finished, from its log."""
        return [
            path.read_text().count(f"oscar_loyalty.{task}[") // 2  # received + succeeded
            for path, _log in self.logs
        ]

    def tail(self):
        return "\n".join(path.read_text()[-3000:] for path, _log in self.logs)

    def __exit__(self, *exc):
        for p in self.processes:
            p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for _path, log in self.logs:
            log.close()
        return False


def wait_for(done, workers, timeout=3600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        workers.check_alive()
        time.sleep(0.1)
    raise SystemExit(f"not done after {timeout} s:\n{workers.tail()}")


def flush(broker):
    import redis

    redis.Redis.from_url(broker).flushdb()


def verify_maturation(t, due):
    n, keys, distinct_awards = fetchone(
        f"""
        SELECT COUNT(*), COUNT(DISTINCT idempotency_key), COUNT(DISTINCT order_id)
        FROM {t.entry} WHERE kind = 'earn'
        """
    )
    (not_earned,) = fetchone(f"SELECT COUNT(*) FROM {t.award} WHERE status <> 'earned'")
    (mismatched,) = fetchone(
        f"""
        SELECT COUNT(*) FROM {t.account} acc
        LEFT JOIN (SELECT account_id, SUM(points) AS s FROM {t.entry} GROUP BY account_id) e
          ON e.account_id = acc.id
        WHERE acc.balance <> COALESCE(e.s, 0)
        """
    )
    return checks(
        [
            (f"one earn entry per award ({n:,} for {due:,})", n == due == distinct_awards),
            (f"no double award ({n - keys:,} repeated keys)", n == keys),
            (f"every award earned ({not_earned:,} not)", not_earned == 0),
            (f"each balance == its entries' sum ({mismatched:,} differ)", mismatched == 0),
        ]
    )


def create_orders(t, orders, now):
    """``orders`` orders of the first customers, 1-3 lines each, worth 1 point or more."""
    from django.db import connection, transaction
    from oscar.core.loading import get_model

    line = connection.ops.quote_name(get_model("order", "Line")._meta.db_table)
    with transaction.atomic():
        (first_user,) = fetchone(f"SELECT MIN(id) FROM {t.user}")
        (last_order,) = fetchone(f"SELECT MAX(id) FROM {t.order}")
        execute(
            f"""
            INSERT INTO {t.order} (number, site_id, basket_id, user_id, billing_address_id,
                                   currency, total_incl_tax, total_excl_tax, shipping_incl_tax,
                                   shipping_excl_tax, shipping_tax_code, shipping_address_id,
                                   shipping_method, shipping_code, status, guest_email,
                                   date_placed, analytics_tracked)
            SELECT 'Q' || i, NULL, NULL, %(first_user)s + i %% 1000, NULL, 'USD', 0, 0, 0, 0,
                   NULL, NULL, 'Free shipping', 'free-shipping', 'Complete', '', %(now)s, false
            FROM generate_series(1, %(orders)s) AS i ORDER BY i
            """,
            {"orders": orders, "first_user": first_user, "now": now},
        )
        execute(
            f"""
            INSERT INTO {line} (order_id, partner_id, partner_name, partner_sku,
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
                SELECT 10.00 + ((o.id::bigint * 7919 + k * 104729) %% 6000) / 100.0 AS price
            ) AS p
            WHERE o.id > %(last)s
            """,
            {"last": last_order},
        )
    execute(f"VACUUM ANALYZE {t.order}, {line}")
    ids = [
        row[0]
        for row in fetchall(f"SELECT id FROM {t.order} WHERE id > %s ORDER BY id", [last_order])
    ]
    return ids


def orders_done(t, order_ids):
    (n,) = fetchone(
        f"SELECT COUNT(*) FROM {t.award} WHERE order_id >= %s AND order_id <= %s",
        [order_ids[0], order_ids[-1]],
    )
    return n


def verify_orders(t, order_ids):
    n, distinct, bad = fetchone(
        f"""
        SELECT COUNT(*), COUNT(DISTINCT order_id), COUNT(*) FILTER (WHERE points < 1)
        FROM {t.award} WHERE order_id >= %s AND order_id <= %s
        """,
        [order_ids[0], order_ids[-1]],
    )
    return checks(
        [
            (
                f"one award per order ({n:,} for {len(order_ids):,})",
                n == distinct == len(order_ids),
            ),
            (f"each worth its points ({bad:,} not)", bad == 0),
        ]
    )


def fetchall(sql, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def checks(items):
    print("  checks:")
    for text, good in items:
        print(f"    [{'ok' if good else 'FAIL'}] {text}")
    return all(good for _text, good in items)


if __name__ == "__main__":
    sys.exit(main())
