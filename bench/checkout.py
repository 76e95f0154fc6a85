"""What the plugin's order_placed hook adds to placing an order through Oscar.

    python bench/checkout.py                                  # 200 1-line, 50 50-line orders
    python bench/checkout.py --one-line 40 --fifty-line 10 --rounds 2
    python bench/checkout.py --eager          # the order's loyalty work inside the checkout

Celery runs as a store runs it: the hook queues the order's task on the
Redis broker (``--broker``, default ``redis://127.0.0.1:6379/14``, purged
first); after the timed rounds (so that it never competes with a checkout) a
real worker, in a thread, drains the queue. Its time per order is printed,
for information, and every order placed with the hook on must end up with
its award. With ``--eager`` the task runs inside the
hook, as in the sandbox: the checkout then pays for all of it.

Orders are placed for signed-in customers (whose points accounts exist, as
they do after their first order) through ``oscar.test.factories.create_order``
(Oscar's ``OrderCreator``, which sends ``order_placed``), with baskets built
as in ``tests/conftest.py``'s ``place_order``. The catalogue has two active
bonus campaigns (a category and a product), so the hook takes its campaign
path. ``award_order`` is connected ("on") or disconnected ("off") by its
dispatch_uid, in batches interleaved over ``--rounds`` rounds (the mode that
goes first alternates) to cancel drift and noise. Baskets are built before
each batch; only the ``create_order`` call is timed, with the garbage
collector paused.

Then the queries the hook adds are counted for a 1-line and a 50-line basket,
two ways: placement with the hook on minus off (what the checkout pays), and
a direct call of ``orders.placed`` (the task's work) on an order placed
with the hook off. Neither may depend on the number of lines.

The final line is ``RATIO checkout <time on / time off>`` over all orders.
"""

import argparse
import gc
import statistics
import sys
import time
from decimal import Decimal

from _setup import Timer, bootstrap, code_version, machine, ratio_line, server_settings

UID = "oscar_loyalty.order_placed"
SIZES = (1, 50)
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")  # not queries proper


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--one-line", type=int, default=200, help="1-line orders per mode (on and off)"
    )
    parser.add_argument(
        "--fifty-line", type=int, default=50, help="50-line orders per mode (on and off)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="on/off batches per basket size")
    parser.add_argument("--customers", type=int, default=20, help="customers placing orders")
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed orders per size and mode first"
    )
    parser.add_argument(
        "--broker",
        default="redis://127.0.0.1:6379/14",
        help="Celery broker the hook queues to (purged first)",
    )
    parser.add_argument(
        "--eager", action="store_true", help="run the task inside the hook (no broker)"
    )
    args = parser.parse_args()
    if min(args.one_line, args.fifty_line, args.rounds, args.customers) < 1:
        parser.error("counts must be at least 1")
    return args


class Shop:
    """Catalogue, customers, baskets, and the hook switch."""

    def __init__(self, customers):
        from django.contrib.auth import get_user_model
        from oscar.apps.catalogue.categories import create_from_breadcrumbs
        from oscar.core.loading import get_model
        from oscar.test.factories import create_product, create_stockrecord

        from oscar_loyalty import ledger
        from oscar_loyalty.models import BonusCampaign

        ProductCategory = get_model("catalogue", "ProductCategory")
        self.products = []
        for i in range(max(SIZES)):
            product = create_product(title=f"Bench product {i}")
            create_stockrecord(product, price=Decimal("10.00") + i, num_in_stock=10**7)
            path = f"Sport > Shoes {i % 5}" if i % 2 else f"Home > Kitchen {i % 5}"
            ProductCategory.objects.create(product=product, category=create_from_breadcrumbs(path))
            self.products.append(product)
        BonusCampaign.objects.create(name="Double sport", multiplier=2).categories.add(
            create_from_breadcrumbs("Sport")
        )
        BonusCampaign.objects.create(name="Triple mug", multiplier=3).products.add(self.products[0])
        User = get_user_model()
        self.customers = [
            User.objects.create_user(f"bench{i}", f"bench{i}@example.com", "x")
            for i in range(customers)
        ]
        for user in self.customers:
            ledger.get_account(user)
        self.placed = 0

    def basket(self, lines):
        """A submitted-ready basket of ``lines`` products, as conftest's place_order builds it."""
        from oscar.apps.offer.applicator import Applicator
        from oscar.apps.partner.strategy import Default
        from oscar.core.loading import get_model

        Basket = get_model("basket", "Basket")
        user = self.customers[self.placed % len(self.customers)]
        self.placed += 1
        basket = Basket.objects.create(owner=user)
        basket.strategy = Default()
        start = self.placed % len(self.products)
        for k in range(lines):
            basket.add_product(self.products[(start + k) % len(self.products)], 1)
        Applicator().apply(basket, user)
        return basket, user

    @staticmethod
    def place(basket, user):
        from oscar.test.factories import create_order

        return create_order(basket=basket, user=user)

    @staticmethod
    def hook(on):
        from oscar.apps.order.signals import order_placed

        from oscar_loyalty import receivers

        if on:
            order_placed.connect(receivers.award_order, dispatch_uid=UID)
        else:
            order_placed.disconnect(dispatch_uid=UID)
        connected = any(key[0] == UID for key, _receiver, *_rest in order_placed.receivers)
        assert connected == on, "the hook did not switch"


class Celery:
    """The sandbox's Celery app, queueing to a real broker or running tasks eagerly."""

    def __init__(self, broker, eager):
        from sandbox.celery import app

        self.app, self.eager = app, eager
        self.worker_seconds, self.worked = 0.0, 0
        self.placed = []  # orders placed with the hook on, to drain
        if not eager:
            app.conf.update(task_always_eager=False, broker_url=broker)
            with app.connection_for_write() as conn:
                conn.default_channel.queue_purge(app.conf.task_default_queue)

    def drain(self):
        """Run a worker until every order placed has its award; time it from when it is ready."""
        orders, self.placed = self.placed, []
        if self.eager:
            wrong = [o.number for o in orders if not awarded(o)]
            assert not wrong, f"hook on but no award recorded: {wrong[:5]}"
            return
        from celery.contrib.testing.worker import start_worker

        from oscar_loyalty.models import PendingAward

        awards = PendingAward.objects.filter(order__in=orders)
        with start_worker(self.app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            start = time.perf_counter()
            deadline = start + 120
            while awards.count() < len(orders) and time.perf_counter() < deadline:
                time.sleep(0.01)
            self.worker_seconds += time.perf_counter() - start
            self.worked += len(orders)
        if awards.count() < len(orders):
            raise SystemExit("the worker did not record every award in 120 s")

    def describe(self):
        if self.eager:
            return "eager: the order's task runs inside the hook"
        url = self.app.conf.broker_url
        return f"broker {url}: the hook queues, a worker drains the queue afterwards"


def awarded(order):
    from oscar_loyalty.models import PendingAward

    return PendingAward.objects.filter(order=order).exists()


def timed_batch(shop, on, lines, count, celery):
    """Place ``count`` orders of ``lines`` lines; the seconds of each placement."""
    baskets = [shop.basket(lines) for _ in range(count)]
    shop.hook(on)
    gc.collect()
    gc.disable()
    times, orders = [], []
    try:
        for basket, user in baskets:
            start = time.perf_counter()
            order = shop.place(basket, user)
            times.append(time.perf_counter() - start)
            orders.append(order)
    finally:
        gc.enable()
    if on:
        celery.placed.extend(orders)
    else:
        wrong = [o.number for o in orders if awarded(o)]
        assert not wrong, f"hook off but awards were recorded: {wrong[:5]}"
    return times


def split(total, parts):
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def count_hook_queries(shop, celery):
    """Queries the hook adds, per basket size, measured two ways."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from oscar_loyalty import orders

    result = {}
    for lines in SIZES:
        placed = {}
        for on in (False, True):
            shop.hook(on)
            basket, user = shop.basket(lines)
            with CaptureQueriesContext(connection) as queries:
                order = shop.place(basket, user)
            placed[on] = (len(queries), order)
            if on:
                celery.placed.append(order)
                celery.drain()
        shop.hook(False)
        order = placed[False][1]
        with CaptureQueriesContext(connection) as queries:
            orders.placed(order)
        assert awarded(order), "the direct call recorded no award"
        sql = [q["sql"] for q in queries.captured_queries]
        result[lines] = {
            "placement_off": placed[False][0],
            "placement_on": placed[True][0],
            "difference": placed[True][0] - placed[False][0],
            "direct": len(queries),
            "direct_sql": sum(1 for q in sql if not q.startswith(CONTROL)),
            "sql": sql,
        }
    shop.hook(True)
    return result


def main():
    args = parse_args()
    counts = {1: args.one_line, 50: args.fifty_line}
    print(
        f"Setting up: {args.one_line} 1-line and {args.fifty_line} 50-line orders per mode, "
        f"{args.rounds} rounds"
    )
    with Timer() as t:
        dbname = bootstrap(suffix="checkout")
    print(f"  database {dbname} created and migrated in {t.seconds:.1f} s")
    print(f"  {server_settings()}")
    print(f"  {code_version()}")
    print(f"  {machine()}")
    celery = Celery(args.broker, args.eager)
    print(f"  Celery: {celery.describe()}")
    with Timer() as t:
        shop = Shop(args.customers)
    print(
        f"  {len(shop.products)} products, 2 bonus campaigns, {args.customers} customers with "
        f"accounts, in {t.seconds:.1f} s"
    )

    # Warm up every path (imports, caches, prepared plans) before timing.
    for lines in SIZES:
        for on in (True, False):
            timed_batch(shop, on, lines, args.warmup, celery)
    celery.drain()

    times = {(lines, on): [] for lines in SIZES for on in (True, False)}
    per_round = {lines: [] for lines in SIZES}
    print("\nTimed placement (create_order only), batches interleaved:")
    for rnd in range(args.rounds):
        modes = (True, False) if rnd % 2 == 0 else (False, True)
        for lines in SIZES:
            n = split(counts[lines], args.rounds)[rnd]
            if n == 0:
                continue
            sums = {}
            for on in modes:
                batch = timed_batch(shop, on, lines, n, celery)
                times[lines, on].extend(batch)
                sums[on] = sum(batch)
            per_round[lines].append(sums[True] / sums[False])
            print(
                f"  round {rnd + 1} ({'on' if modes[0] else 'off'} first), {lines:2d} line(s) x "
                f"{n:3d}: on {sums[True] / n * 1000:7.2f} ms/order, "
                f"off {sums[False] / n * 1000:7.2f} ms/order, on/off {sums[True] / sums[False]:.3f}"
            )

    celery.drain()  # after the timed rounds: the worker never competes with a checkout

    print("\nPer basket size:")
    for lines in SIZES:
        on, off = times[lines, True], times[lines, False]
        print(
            f"  {lines:2d} line(s): {len(on)} orders each way\n"
            f"    hook on : mean {statistics.mean(on) * 1000:7.2f} ms, "
            f"median {statistics.median(on) * 1000:7.2f} ms, total {sum(on):6.2f} s\n"
            f"    hook off: mean {statistics.mean(off) * 1000:7.2f} ms, "
            f"median {statistics.median(off) * 1000:7.2f} ms, total {sum(off):6.2f} s\n"
            f"    hook adds {(statistics.mean(on) - statistics.mean(off)) * 1000:+.2f} ms/order "
            f"(median {(statistics.median(on) - statistics.median(off)) * 1000:+.2f} ms); "
            f"on/off = {sum(on) / sum(off):.3f} (rounds: "
            f"{', '.join(f'{r:.3f}' for r in per_round[lines])})"
        )

    queries = count_hook_queries(shop, celery)
    print("\nQueries the hook adds:")
    for lines in SIZES:
        q = queries[lines]
        print(
            f"  {lines:2d} line(s): placement {q['placement_on']} on - {q['placement_off']} off "
            f"= {q['difference']}; the task's work, orders.placed(...) = {q['direct']} "
            f"statements, "
            f"{q['direct_sql']} without BEGIN/COMMIT/SAVEPOINT/RELEASE"
        )
    same = all(
        len({queries[lines][key] for lines in SIZES}) == 1
        for key in ("difference", "direct", "direct_sql")
    )
    print(f"  same for 1 and 50 lines: {'yes' if same else 'NO'}")
    print(f"  the task's queries for a {max(SIZES)}-line order:")
    for sql in queries[max(SIZES)]["sql"]:
        print(f"    {' '.join(sql.split())[:150]}")

    total_on = sum(sum(times[lines, True]) for lines in SIZES)
    total_off = sum(sum(times[lines, False]) for lines in SIZES)
    print("\nsummary")
    for lines in SIZES:
        on, off = sum(times[lines, True]), sum(times[lines, False])
        print(f"  {lines:2d} line(s): on/off = {on / off:.3f}")
    print(
        f"  all orders: on {total_on:.2f} s, off {total_off:.2f} s, "
        f"on/off = {total_on / total_off:.3f}  (target <= 1.10)"
    )
    print(
        f"  queries the checkout pays: {queries[1]['difference']} for 1 line, "
        f"{queries[50]['difference']} for 50 lines; the task's: {queries[1]['direct']} and "
        f"{queries[50]['direct']}  (target: equal) -> {'ok' if same else 'NOT equal'}"
    )
    if celery.worked:
        print(
            f"  the worker (for information): {celery.worker_seconds / celery.worked * 1000:.2f} "
            f"ms per order, {celery.worked} orders, outside the checkout"
        )
    print(f"  Celery: {celery.describe()}")
    print(f"  {machine()}")
    print(ratio_line("checkout", total_on, total_off))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
