"""The monthly statement: render and hand over a statement for each of 100,000 customers.

    python bench/statements.py                      # 100,000 customers
    python bench/statements.py --customers 5000     # quick

Builds customers with set-based SQL (each with marketing consent, points
earned and spent in the month, and a lot expiring within the statement's
window), then runs what the statement tasks run:
``notifications.statement_batches`` (which customers, a batch at a time) and
``notifications.send_statements`` for each batch, with Django's dummy email
backend (everything up to the SMTP conversation: reading the ledger,
claiming, rendering the three templates, building the MIME message, Oscar's
``Email`` record). Prints the time per customer, the queries per customer in
the first and the last batches (constant: the same), and the process's peak
memory after 10 %, 50 % and 100 % of the customers (flat). Checks that every
customer got exactly one statement, and that a second run sends none.

The final line is ``RATIO statements <ms per customer in the last tenth /
in the first tenth>`` (about 1.0 when the cost does not grow with the run).
"""

import argparse
import sys
from datetime import UTC, date, datetime

from _setup import Timer, bootstrap, code_version, machine, maxrss_mb, server_settings


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    if args.customers < 100:
        parser.error("need at least 100 customers")
    return args


MONTH = date(2026, 11, 1)
NOW = datetime(2026, 12, 1, 8, 43, tzinfo=UTC)


def create_data(n):
    """n customers: consent, an account of 25 points, an earn and a spend in November,
    a lot of 25 expiring in January (within the statement's window)."""
    from django.db import connection

    with connection.cursor() as c:
        c.execute(
            """
            INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,
                                   email, is_staff, is_active, date_joined)
            SELECT '!', false, 'c' || i, '', '', 'c' || i || '@example.com', false, true, %s
            FROM generate_series(1, %s) i
            """,
            [NOW, n],
        )
        c.execute(
            """
            INSERT INTO oscar_loyalty_marketingconsent (user_id, marketing, changed_at, source,
                                                        language)
            SELECT id, true, %s, 'signup', CASE WHEN id %% 2 = 0 THEN 'es' ELSE 'en' END
            FROM auth_user WHERE username LIKE 'c%%'
            """,
            [NOW],
        )
        c.execute(
            """
            INSERT INTO oscar_loyalty_account (user_id, balance, created_at, last_activity_at)
            SELECT id, 25, %s, %s FROM auth_user WHERE username LIKE 'c%%'
            """,
            [NOW, NOW],
        )
        c.execute(
            """
            INSERT INTO oscar_loyalty_ledgerentry (account_id, kind, points, balance_after,
                                                   reason, idempotency_key, created_at)
            SELECT id, 'earn', 40, 40, 'r', 'earn:' || id, timestamptz '2026-11-03'
            FROM oscar_loyalty_account
            UNION ALL
            SELECT id, 'spend', -15, 25, 'r', 'spend:' || id, timestamptz '2026-11-20'
            FROM oscar_loyalty_account
            """
        )
        c.execute(
            """
            INSERT INTO oscar_loyalty_pointslot (account_id, entry_id, points, remaining,
                                                 earned_at, expires_at)
            SELECT account_id, id, 40, 25, created_at, '2027-01-15'
            FROM oscar_loyalty_ledgerentry WHERE kind = 'earn'
            """
        )
        c.execute("ANALYZE")


class Counter:
    def __init__(self):
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)


def main():
    args = parse_args()
    n = args.customers
    print(f"Setting up the bench database ({n:,} customers)")
    with Timer() as t:
        dbname = bootstrap(suffix="statements")
    print(f"  database {dbname} created and migrated in {t.seconds:.1f} s")
    print(f"  {server_settings()}")
    print(f"  {code_version()}")
    print(f"  {machine()}")

    import time_machine
    from django.db import connection
    from django.test.utils import override_settings

    from oscar_loyalty import notifications
    from oscar_loyalty.models import SentMessage

    with Timer() as t:
        create_data(n)
    print(f"  data created in {t.seconds:.1f} s")

    marks = {round(n * f) for f in (0.1, 0.5, 1.0)}
    memory, per_batch = {}, []
    done = 0
    rss_start = maxrss_mb()
    with (
        override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"),
        time_machine.travel(NOW, tick=True),
    ):
        with Timer() as total:
            for ids in notifications.statement_batches(MONTH):
                counter = Counter()
                with connection.execute_wrapper(counter), Timer() as t:
                    sent = notifications.send_statements(MONTH, ids)
                per_batch.append((len(ids), counter.queries, t.seconds))
                if sent != len(ids):
                    print(f"  batch of {len(ids)} sent {sent}")
                before, done = done, done + sent
                for mark in sorted(marks):
                    if before < mark <= done:
                        memory[mark] = maxrss_mb()
        # Run again: every statement is claimed, nothing goes twice.
        again = sum(
            notifications.send_statements(MONTH, ids)
            for ids in notifications.statement_batches(MONTH)
        )

    ok = True
    sent_rows = SentMessage.objects.filter(key="statement:2026-11", sent_at__isnull=False).count()
    ok &= done == n == sent_rows and again == 0
    print(f"\nstatements sent: {done:,} (records {sent_rows:,}); sent by a second run: {again}")

    def rate(batches):
        customers = sum(b[0] for b in batches)
        return sum(b[2] for b in batches) / customers * 1000, sum(b[1] for b in batches) / customers

    tenth = max(1, len(per_batch) // 10)
    first_ms, first_q = rate(per_batch[:tenth])
    last_ms, last_q = rate(per_batch[-tenth:])
    all_ms, all_q = rate(per_batch)
    first_batch, last_batch = per_batch[0], per_batch[-1]
    print(f"total {total.seconds:.1f} s for {n:,} customers: {all_ms:.2f} ms per customer")
    print(f"  first tenth {first_ms:.2f} ms per customer, last tenth {last_ms:.2f} ms")
    print(
        f"  queries per customer: {all_q:.2f} overall; first batch "
        f"{first_batch[1]} for {first_batch[0]}, last batch {last_batch[1]} for {last_batch[0]}"
    )
    print(f"  peak memory (maxrss): {rss_start:.1f} MB before the run")
    for mark in sorted(memory):
        print(f"    after {mark:>7,} customers: {memory[mark]:.1f} MB")
    print(f"  correctness checks: {'all passed' if ok else 'FAILED'}")
    print(f"  {machine()}")
    print(f"RATIO statements {last_ms / first_ms:.3f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
