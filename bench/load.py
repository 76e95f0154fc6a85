"""The sandbox store under load, with the plugin and with its hooks off.

    python bench/load.py                                        # 6 rounds of 60 s, 6 users
    python bench/load.py --rounds 2 --seconds 20 --users 4      # quick

Serves the sandbox (``bench/_load_settings.py``: ``sandbox.settings`` on
PostgreSQL, no DEBUG) with gunicorn, twice over the same database: one server
with the plugin (``OSCAR_LOYALTY_HOOKS`` on) and one with its hooks off (the
receivers of Oscar's signals, the middleware and the template blocks), each
with ``--workers`` sync workers on 127.0.0.1. Locust (headless,
``bench/_load_locustfile.py``) sends ``--users`` signed-in customers through
a shop journey: product page, add to basket, basket page, apply a coupon, use
points, the checkout pages, place an order, the thank-you page, the account
page and the Rewards page. With the hooks off the pages offer no points form
and no Rewards tab, so those two steps happen only with the plugin, and the
coupon goes through Oscar's own view.

Rounds alternate on, off, off, on, on, off... (each mode first as often), after
one untimed warm-up round each, so that drift in the machine's load falls on
both alike. Every run logs in its own customers (seeded with points and an
address), so no basket is left over from another round.

The order's task runs on a real Celery worker (``celery -A sandbox.celery
worker``, one process, solo pool) on Redis (``REDIS_URL``, purged first), as
a store runs it: the checkout only queues it. The worker shares the machine's
two cores with the store, so its work still weighs on the run with the plugin,
and after the run every order placed with the plugin must have its award (and
none placed with the hooks off).

Prints p50 and p95 per step for both modes and, last, ``RATIO load <p95 with
the plugin / p95 without>``: the p95 of each step both modes have, summed (a
customer's wait over the journey, each step at its p95), with the plugin over
without. The p95 of all their requests pooled is printed too; it is mostly
the slowest step's.
Then the checks: no request failed, each order has the coupon's discount (and
with the plugin a points voucher, recorded as used), every award is there, and
the ledger's invariants (balance == sum of entries per account, no negative
balance, each idempotency key once). The exit status is 1 if any fails.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _setup import ROOT, Timer, bench_url, code_version, machine, recreate_database

BENCH = Path(__file__).resolve().parent
PASSWORD = "load-bench"
COUPON = "LOAD10"
POINTS_PER_ORDER = 10
# Demo products whose price leaves room for the coupon and the points (at most half of
# what is left after coupons, MIN_POINTS_PER_USE at least).
PRODUCTS = ("Trail running shoes", "Rain jacket", "Linen tablecloth", "Cast iron skillet")
ONLY_WITH_PLUGIN = ("use points", "Rewards page")
NOT_A_STEP = ("login",)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="timed runs, half of each mode")
    parser.add_argument("--seconds", type=int, default=60, help="length of each timed run")
    parser.add_argument("--warmup", type=int, default=15, help="untimed run per mode first (s)")
    parser.add_argument("--users", type=int, default=6, help="simultaneous customers")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers per server")
    parser.add_argument("--port", type=int, default=8179, help="plugin's server; off: port + 1")
    args = parser.parse_args()
    if args.rounds < 2 or args.rounds % 2:
        parser.error("--rounds must be an even number, at least 2")
    if min(args.seconds, args.users, args.workers) < 1 or args.warmup < 0:
        parser.error("counts must be positive")
    return args


def schedule(rounds):
    """on, off, off, on, on, off, ...: each mode first and second as often."""
    pairs = [(True, False) if i % 2 == 0 else (False, True) for i in range(rounds // 2)]
    return [mode for pair in pairs for mode in pair]


class Store:
    """The bench database, seeded through Django with the sandbox's settings."""

    def __init__(self, env):
        self.env = env

    def create(self, customers):
        os.environ.update(self.env)
        sys.path[:0] = [str(ROOT), str(BENCH)]
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        recreate_database(settings.DATABASES["default"])
        call_command("migrate", verbosity=0)
        call_command("load_demo", verbosity=0, stdout=open(os.devnull, "w"))
        return self.seed(customers)

    def seed(self, count):
        from datetime import timedelta
        from decimal import Decimal

        from django.contrib.auth import get_user_model
        from django.utils import timezone
        from oscar.core.loading import get_model

        from oscar_loyalty import ledger
        from oscar_loyalty.coupons.creation import CouponSpec, save_coupon

        Product = get_model("catalogue", "Product")
        StockRecord = get_model("partner", "StockRecord")
        Country = get_model("address", "Country")
        UserAddress = get_model("address", "UserAddress")
        products = list(Product.objects.filter(title__in=PRODUCTS))
        StockRecord.objects.update(num_in_stock=10**7)
        now = timezone.now()
        save_coupon(
            CouponSpec(
                name="Load test 10%",
                code=COUPON,
                kind="percentage",
                value=Decimal("10"),
                start=now - timedelta(days=1),
                end=now + timedelta(days=30),
            )
        )
        country = Country.objects.get(iso_3166_1_a2="US")
        User = get_user_model()
        emails = []
        for i in range(count):
            email = f"load{i}@example.com"
            user = User.objects.create_user(f"load{i}", email, PASSWORD)
            UserAddress.objects.create(
                user=user,
                first_name="Load",
                last_name=f"Customer {i}",
                line1=f"{i} Bench Street",
                line4="Springfield",
                postcode="12345",
                country=country,
                is_default_for_shipping=True,
                is_default_for_billing=True,
            )
            ledger.earn(ledger.get_account(user), 1000, key=f"bench:load:{i}", reason="Seed")
            emails.append(email)
        return emails, [p.get_absolute_url() for p in products]


class Processes:
    """The servers and the worker this benchmark starts, and only those, stopped at the end."""

    def __init__(self, logdir):
        self.logdir, self.running = logdir, []

    def start(self, name, argv, env):
        log = open(self.logdir / f"{name}.log", "w")
        process = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
        )
        self.running.append((name, process))
        return process

    def stop(self):
        for _name, process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _name, process in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def log(self, name):
        return (self.logdir / f"{name}.log").read_text(errors="replace")


def wait_until_up(url, process, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited ({process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer in {seconds} s")


def run_locust(args, port, customers, products, seconds, samples_path, log_path):
    env = {
        **os.environ,
        "LOAD_CUSTOMERS": ",".join(customers),
        "LOAD_PASSWORD": PASSWORD,
        "LOAD_PRODUCTS": ",".join(products),
        "LOAD_COUPON": COUPON,
        "LOAD_POINTS": str(POINTS_PER_ORDER),
        "LOAD_SAMPLES": str(samples_path),
    }
    argv = [
        sys.executable,
        "-m",
        "locust",
        "--headless",
        "--only-summary",
        "-f",
        str(BENCH / "_load_locustfile.py"),
        "--host",
        f"http://127.0.0.1:{port}",
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.users),
        "--run-time",
        f"{seconds}s",
        "--stop-timeout",
        "120",  # a customer finishes the journey under way: no basket left half-way
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
    ]
    with open(log_path, "w") as log:
        done = subprocess.run(argv, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0 or not samples_path.exists():
        sys.stdout.write(Path(log_path).read_text(errors="replace")[-3000:])
        raise SystemExit(f"locust failed ({done.returncode})")
    return [tuple(s) for s in json.loads(samples_path.read_text())]


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of ``values``."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def report(samples):
    """p50/p95 per step and mode; the RATIO over the steps both modes have."""
    times = {}
    for on, name, ms, _ok in samples:
        times.setdefault(name, {True: [], False: []})[on].append(ms)
    steps = [name for name in STEP_ORDER if name in times] + sorted(
        name for name in times if name not in STEP_ORDER and name not in NOT_A_STEP
    )
    print(
        f"\n{'step':32s} {'with the plugin':>30s}   {'hooks off':>30s}   p95 on/off\n"
        f"{'':32s} {'n':>6s} {'p50 ms':>11s} {'p95 ms':>11s}   {'n':>6s} {'p50 ms':>11s} "
        f"{'p95 ms':>11s}"
    )
    common = {True: [], False: []}
    over = []
    for name in steps:
        cells = []
        for on in (True, False):
            values = times[name][on]
            if values:
                p50, p95 = percentile(values, 50), percentile(values, 95)
                cells.append(f"{len(values):6d} {p50:11.1f} {p95:11.1f}")
            else:
                cells.append(f"{0:6d} {'-':>11s} {'-':>11s}")
        if times[name][True] and times[name][False]:
            ratio = percentile(times[name][True], 95) / percentile(times[name][False], 95)
            ratio_text = f"{ratio:10.2f}" + ("  over 1.2" if ratio > 1.2 else "")
            if ratio > 1.2:
                over.append(name)
            for on in (True, False):
                common[on].extend(times[name][on])
        else:
            ratio_text = f"{'(only with the plugin)':>10s}"
        print(f"{name:32s} {cells[0]}   {cells[1]}   {ratio_text}")
    # A customer's wait over the journey: each step both modes have at its p95.
    shared = [name for name in steps if times[name][True] and times[name][False]]
    journey = {on: sum(percentile(times[name][on], 95) for name in shared) for on in (True, False)}
    p95 = {on: percentile(common[on], 95) for on in (True, False)}
    p50 = {on: percentile(common[on], 50) for on in (True, False)}
    print(
        f"{'every request of those steps':32s} {len(common[True]):6d} {p50[True]:11.1f} "
        f"{p95[True]:11.1f}   {len(common[False]):6d} {p50[False]:11.1f} {p95[False]:11.1f}   "
        f"{p95[True] / p95[False]:10.2f}\n"
        f"{'sum of their p95 (the RATIO)':32s} {'':6s} {'':11s} {journey[True]:11.1f}   "
        f"{'':6s} {'':11s} {journey[False]:11.1f}   {journey[True] / journey[False]:10.2f}"
    )
    return journey[True] / journey[False], over


STEP_ORDER = (
    "product page",
    "add to basket",
    "basket page",
    "apply a coupon",
    "use points",
    "checkout: address",
    "checkout: ship to (to payment)",
    "checkout: preview",
    "place an order",
    "thank-you page",
    "account page",
    "Rewards page",
)


def count_queries(email, products):
    """Queries per step of one journey, in this process (Django's test client), both modes.

    The same requests Locust sends, for two seeded customers of their own: a
    figure that the machine's load does not move, to tell what the plugin adds.
    """
    import re

    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for on, who in ((True, email[0]), (False, email[1])):
        client = Client()
        client.login(username=who, password=PASSWORD)

        def step(name, method, url, data=None, follow=False, on=on, client=client):
            with override_settings(OSCAR_LOYALTY_HOOKS=on):
                with CaptureQueriesContext(connection) as queries:
                    response = getattr(client, method)(url, data or {}, follow=follow)
            counts.setdefault(name, {})[on] = len(queries)
            return response

        page = step("product page", "get", products[0])
        add = re.search(r'id="add_to_basket_form"[^>]*action="([^"]+)"', page.text).group(1)
        step("add to basket", "post", add, {"quantity": "1"})
        basket = step("basket page", "get", "/basket/")
        action = re.search(r'id="voucher_form"[^>]*action="([^"]+)"', basket.text).group(1)
        step("apply a coupon", "post", action, {"code": COUPON})
        if 'id="use-points-form"' in basket.text:
            step("use points", "post", "/basket/points/", {"points": str(POINTS_PER_ORDER)})
        address = step("checkout: address", "get", "/checkout/shipping-address/")
        address_id = re.search(r'name="address_id" value="(\d+)"', address.text).group(1)
        step(
            "checkout: ship to (to payment)",
            "post",
            "/checkout/shipping-address/",
            {"action": "ship_to", "address_id": address_id},
            follow=True,
        )
        step("checkout: preview", "get", "/checkout/preview/")
        placed = step("place an order", "post", "/checkout/preview/", {"action": "place_order"})
        assert placed.status_code == 302, f"no order placed ({placed.status_code})"
        step("thank-you page", "get", "/checkout/thank-you/")
        account = step("account page", "get", "/accounts/profile/")
        if 'href="/accounts/rewards/"' in account.text:
            step("Rewards page", "get", "/accounts/rewards/")
    print("\nQueries per step, one journey in this process (with the plugin / hooks off):")
    for name in STEP_ORDER:
        if name in counts:
            on, off = counts[name].get(True, "-"), counts[name].get(False, "-")
            print(f"  {name:32s} {on!s:>4s} / {off!s:>4s}")
    return counts


def check_store(orders_by_mode):
    """After the run: orders, awards, points vouchers and the ledger's invariants."""
    from django.db import connection
    from django.db.models import F, OuterRef, Subquery, Sum
    from django.db.models.functions import Coalesce
    from oscar.core.loading import get_model

    from oscar_loyalty.models import Account, LedgerEntry, PendingAward, Redemption

    Order = get_model("order", "Order")
    OrderDiscount = get_model("order", "OrderDiscount")
    connection.close()  # a fresh connection: what the servers committed
    problems = []
    for on, numbers in orders_by_mode.items():
        orders = Order.objects.filter(number__in=numbers)
        with_coupon = OrderDiscount.objects.filter(order__in=orders, voucher_code=COUPON).values(
            "order"
        )
        missing = orders.exclude(pk__in=with_coupon).count()
        if missing:
            problems.append(f"{missing} order(s) {'on' if on else 'off'} without the coupon")
        awarded = PendingAward.objects.filter(order__in=orders).values("order").distinct().count()
        if on:
            if awarded != len(numbers):
                problems.append(f"{len(numbers) - awarded} order(s) with the plugin got no award")
            used = Redemption.objects.filter(
                status=Redemption.Status.USED,
                voucher__in=OrderDiscount.objects.filter(order__in=orders).values("voucher_id"),
            ).count()
            if used != len(numbers):
                problems.append(
                    f"{len(numbers) - used} order(s) with the plugin without a used points voucher"
                )
        elif awarded:
            problems.append(f"{awarded} order(s) placed with the hooks off got an award")

    totals = LedgerEntry.objects.filter(account=OuterRef("pk")).values("account")
    totals = totals.annotate(total=Sum("points")).values("total")
    wrong = (
        Account.objects.annotate(total=Coalesce(Subquery(totals), 0))
        .exclude(balance=F("total"))
        .count()
    )
    negative = Account.objects.filter(balance__lt=0).count()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT idempotency_key FROM {LedgerEntry._meta.db_table} "
            "GROUP BY idempotency_key HAVING COUNT(*) > 1) AS twice"
        )
        twice = cursor.fetchone()[0]
    accounts, entries = Account.objects.count(), LedgerEntry.objects.count()
    print(
        f"\nLedger after the run: {accounts} accounts, {entries} entries; "
        f"balance != sum of entries: {wrong}; negative balances: {negative}; "
        f"idempotency keys used more than once: {twice}"
    )
    if wrong or negative or twice:
        problems.append("ledger invariants broken")
    return problems


def placed_orders(since_pk):
    from oscar.core.loading import get_model

    Order = get_model("order", "Order")
    return list(Order.objects.filter(pk__gt=since_pk).values_list("number", flat=True))


def last_order_pk():
    from django.db import connection
    from oscar.core.loading import get_model

    connection.close()
    last = get_model("order", "Order").objects.order_by("-pk").first()
    return last.pk if last else 0


def wait_for_awards(numbers, seconds=180):
    from django.db import connection

    from oscar_loyalty.models import PendingAward

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection.close()
        if PendingAward.objects.filter(order__number__in=numbers).count() >= len(numbers):
            return True
        time.sleep(1)
    return False


def main():
    args = parse_args()
    database = bench_url("load")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    workdir = Path(tempfile.mkdtemp(prefix="oscar-loyalty-load-"))
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "_load_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)]),
        "WHOOSH_PATH": str(workdir / "whoosh"),
        "DJANGO_DEBUG": "0",
    }
    modes = schedule(args.rounds)
    runs = 2 + len(modes)  # a warm-up per mode, then the timed rounds
    print(
        f"Setting up: {args.rounds} rounds of {args.seconds} s, {args.users} customers, "
        f"{args.workers} gunicorn workers per server"
    )
    with Timer() as t:
        emails, products = Store(env).create(2 + args.users * runs)
    print(f"  database {database.rsplit('/', 1)[1]} migrated and seeded in {t.seconds:.1f} s")
    print(f"  {code_version()}")
    print(f"  {machine()}")

    from sandbox.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)

    processes = Processes(workdir)
    try:
        ports = {True: args.port, False: args.port + 1}
        servers = {}
        for on, port in ports.items():
            servers[on] = processes.start(
                f"gunicorn-{'on' if on else 'off'}",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(args.workers),
                    "--timeout",
                    "120",
                    "django.core.wsgi:get_wsgi_application()",
                ],
                {**env, "LOYALTY_HOOKS": "1" if on else "0"},
            )
        worker = processes.start(
            "celery",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "sandbox.celery",
                "worker",
                "--pool",
                "solo",
                "--concurrency",
                "1",
                "--loglevel",
                "WARNING",
            ],
            {**env, "LOYALTY_HOOKS": "1"},
        )
        for on, port in ports.items():
            wait_until_up(f"http://127.0.0.1:{port}/", servers[on])
        print(
            f"  gunicorn: the plugin on 127.0.0.1:{ports[True]}, hooks off on "
            f"127.0.0.1:{ports[False]}; "
            f"Celery worker on {redis_url} (solo pool)"
        )

        count_queries(emails[:2], products)
        emails = emails[2:]
        customers = iter([emails[i * args.users : (i + 1) * args.users] for i in range(runs)])
        samples, orders, errors = [], {True: [], False: []}, 0
        plan = [(on, args.warmup, True) for on in (True, False)] + [
            (on, args.seconds, False) for on in modes
        ]
        print("\nRuns (load average before and after each):")
        for n, (on, seconds, warmup) in enumerate(plan):
            if warmup and not seconds:
                next(customers)
                continue
            before = os.getloadavg()[0]
            since = last_order_pk()
            got = run_locust(
                args,
                ports[on],
                next(customers),
                products,
                seconds,
                workdir / f"samples-{n}.json",
                workdir / f"locust-{n}.log",
            )
            numbers = placed_orders(since)
            orders[on].extend(numbers)
            failed = sum(1 for _name, _ms, ok in got if not ok)
            errors += failed
            if not warmup:
                samples.extend((on, name, ms, ok) for name, ms, ok in got)
            print(
                f"  {'warm-up' if warmup else f'round {n - 1}':8s} "
                f"{'plugin' if on else 'off':6s}: {len(got):5d} requests, {len(numbers):4d} "
                f"orders, {failed} failed; load {before:.2f} -> {os.getloadavg()[0]:.2f}"
            )
            if failed:
                print(f"    see {workdir / f'locust-{n}.log'}")

        ratio, over = report(samples)
        awards_done = wait_for_awards(orders[True])
        problems = check_store(orders)
        if not awards_done:
            problems.append("the worker did not record every award in time")
        if worker.poll() is not None:
            problems.append("the Celery worker died")
        print(
            f"\n  orders: {len(orders[True])} with the plugin, {len(orders[False])} with the "
            f"hooks off; failed requests (warm-ups included): {errors}"
        )
        if errors:
            problems.append(f"{errors} request(s) failed")
        for name in ("gunicorn-on", "gunicorn-off", "celery"):
            text = processes.log(name)
            if "Traceback" in text:
                problems.append(f"{name} logged an error: {workdir / (name + '.log')}")
        if over:
            print(f"  steps over 1.2: {', '.join(over)}")
        print("  checks: " + ("ok" if not problems else "FAILED: " + "; ".join(problems)))
        print(f"  {machine()}")
        print(
            "  RATIO: the sum of the p95 of each step both modes have, with the plugin / "
            "hooks off (target <= 1.2)"
        )
        print(f"RATIO load {ratio:.3f}")
        return 1 if problems else 0
    finally:
        processes.stop()


if __name__ == "__main__":
    sys.exit(main())
