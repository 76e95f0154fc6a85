"""Importing points from another program: 1,000,000 CSV rows, against COPY of the same rows.

    nice -n 10 python bench/import.py                  # 100,000 then 1,000,000 rows
    python bench/import.py --rows 100000               # quick: 10,000 then 100,000

Builds customers with set-based SQL, writes two CSV files (ten lots per
customer with their expiry dates, the first with a marketing answer): a small
one (a tenth of the rows) and the full one, for other customers. Runs
``importing.import_path`` (what ``loyalty_import`` and the dashboard's task
run) on the small file, then on the full one, printing rows per second and
the process's peak memory after each: flat in rows means the second figure is
about the first. Checks the balances against the files, and that importing
the full file again posts nothing.

Then the baseline: the tables emptied, the same rows (accounts with their
balances, entries, lots, consents; ids, balances and keys computed beforehand,
untimed) written with PostgreSQL's COPY into the same tables and indexes.

The final line is ``RATIO import <ours on the full file / COPY of its rows>``.
"""

import argparse
import csv
import os
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta

from _setup import Timer, bootstrap, code_version, machine, maxrss_mb, server_settings

LOTS_PER_CUSTOMER = 10
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
FIRST_EXPIRY = date(2027, 1, 1)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.rows < 1000:
        parser.error("need at least 1000 rows")
    return args


def create_customers(n):
    from django.db import connection

    with connection.cursor() as c:
        c.execute(
            """
            INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,
                                   email, is_staff, is_active, date_joined)
            SELECT '!', false, 'c' || i, '', '', 'C' || i || '@Example.com', false, true, %s
            FROM generate_series(1, %s) i
            """,
            [NOW, n],
        )
        c.execute("ANALYZE auth_user")


def lot(customer, k):
    """The k-th lot of a customer: its points and expiry day (distinct per customer)."""
    return 1 + (customer * 7 + k * 13) % 500, FIRST_EXPIRY + timedelta(days=30 * k)


def write_csv(path, first, customers):
    """Customers ``first`` .. ``first + customers - 1``; returns the points written."""
    total = 0
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "points", "expires_on", "marketing", "consent_date"])
        for customer in range(first, first + customers):
            for k in range(LOTS_PER_CUSTOMER):
                points, day = lot(customer, k)
                total += points
                answer = ("yes" if customer % 2 else "no", "2024-05-01") if k == 0 else ("", "")
                writer.writerow([f"c{customer}@example.com", points, day.isoformat(), *answer])
    return total


def import_file(path, rows):
    from oscar_loyalty import importing

    with Timer() as t:
        run = importing.import_path(path)
    assert run.status == "done", run.error
    assert (run.rows, run.imported, run.rejected) == (rows, rows, 0), (
        run.rows,
        run.imported,
        run.rejected,
    )
    return run, t.seconds


def check(points, users):
    from django.db import connection

    with connection.cursor() as c:
        c.execute(
            """
            SELECT COUNT(*), COALESCE(SUM(a.balance), 0) FROM oscar_loyalty_account a
            JOIN auth_user u ON u.id = a.user_id WHERE u.username = ANY(%s)
            """,
            [users],
        )
        accounts, balance = c.fetchone()
    assert accounts == len(users) and balance == points, (accounts, balance, points)


def baseline_files(path, tmp):
    """The COPY input for the full file's rows: accounts, entries, lots, consents."""
    from django.db import connection

    from oscar_loyalty import importing, keys
    from oscar_loyalty.ledger.bulk import IMPORT_REASON

    with connection.cursor() as c:
        c.execute("SELECT lower(email), id FROM auth_user")
        users = dict(c.fetchall())
    names = {n: os.path.join(tmp, f"{n}.tsv") for n in ("account", "entry", "lot", "consent")}
    files = {n: open(p, "w") for n, p in names.items()}
    balances, account_ids = {}, {}
    entry_id = 0
    now = NOW.isoformat()
    with open(path, newline="") as source:
        reader = csv.reader(source)
        next(reader)
        for email, points, expires_on, marketing, consent_date in reader:
            user = users[email]
            if user not in account_ids:
                account_ids[user] = len(account_ids) + 1
                balances[user] = 0
            account = account_ids[user]
            points = int(points)
            day = date.fromisoformat(expires_on)
            balances[user] += points
            entry_id += 1
            key = keys.import_lot(user, day, points)
            files["entry"].write(
                f"{entry_id}\t{account}\tearn\t{points}\t{balances[user]}\t{IMPORT_REASON}\t"
                f"{IMPORT_REASON.code}\t{{}}\t{key}\t{now}\n"
            )
            expires = importing.expires_at(day, NOW).isoformat()
            files["lot"].write(f"{account}\t{entry_id}\t{points}\t{points}\t{now}\t{expires}\n")
            if marketing:
                files["consent"].write(
                    f"{user}\t{marketing == 'yes'}\t{consent_date}T00:00:00+00:00\timport\t\n"
                )
    for user, account in account_ids.items():
        files["account"].write(f"{account}\t{user}\t{balances[user]}\t{now}\t{now}\n")
    for f in files.values():
        f.close()
    return names


COPIES = [
    ("account", "oscar_loyalty_account (id, user_id, balance, created_at, last_activity_at)"),
    (
        "entry",
        "oscar_loyalty_ledgerentry (id, account_id, kind, points, balance_after, reason, "
        "reason_code, reason_params, idempotency_key, created_at)",
    ),
    (
        "lot",
        "oscar_loyalty_pointslot (account_id, entry_id, points, remaining, earned_at, expires_at)",
    ),
    (
        "consent",
        "oscar_loyalty_marketingconsent (user_id, marketing, changed_at, source, language)",
    ),
]


def empty_tables():
    from django.db import connection

    with connection.cursor() as c:
        c.execute(
            """
            TRUNCATE oscar_loyalty_lotconsumption, oscar_loyalty_pointslot,
                     oscar_loyalty_ledgerentry, oscar_loyalty_marketingconsent,
                     oscar_loyalty_importrejection, oscar_loyalty_account CASCADE
            """
        )
        c.execute("VACUUM ANALYZE")


def copy_baseline(names):
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as c:
        for name, target in COPIES:
            with (
                open(names[name], "rb") as source,
                c.cursor.copy(f"COPY {target} FROM STDIN") as copy,
            ):
                while block := source.read(1 << 20):
                    copy.write(block)


def main():
    args = parse_args()
    full, small = args.rows, args.rows // 10
    full_customers, small_customers = full // LOTS_PER_CUSTOMER, small // LOTS_PER_CUSTOMER
    name = bootstrap(suffix="import")
    print(f"import: {full:,} rows ({small:,} first, for other customers), database {name}")
    print(code_version())
    print(machine())
    print(server_settings())
    create_customers(small_customers + full_customers)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        small_path, full_path = os.path.join(tmp, "small.csv"), os.path.join(tmp, "full.csv")
        small_points = write_csv(small_path, full_customers + 1, small_customers)
        full_points = write_csv(full_path, 1, full_customers)
        print(f"files: {os.path.getsize(full_path) / 1e6:.1f} MB for {full:,} rows")
        start_mb = maxrss_mb()

        _run, small_s = import_file(small_path, small)
        small_mb = maxrss_mb()
        _run, full_s = import_file(full_path, full)
        full_mb = maxrss_mb()
        small_users = range(full_customers + 1, full_customers + small_customers + 1)
        check(small_points, [f"c{i}" for i in small_users])
        check(full_points, [f"c{i}" for i in range(1, full_customers + 1)])
        from oscar_loyalty import importing

        again = importing.import_path(full_path)
        assert (again.imported, again.unchanged) == (0, full), (again.imported, again.unchanged)

        print(
            f"ours, {small:>9,} rows: {small_s:7.1f} s, {small / small_s:9,.0f} rows/s, "
            f"peak memory {small_mb:6.1f} MB"
        )
        print(
            f"ours, {full:>9,} rows: {full_s:7.1f} s, {full / full_s:9,.0f} rows/s, "
            f"peak memory {full_mb:6.1f} MB"
        )
        print(
            f"peak memory before importing: {start_mb:.1f} MB; growth from {small:,} to "
            f"{full:,} rows: {full_mb - small_mb:+.1f} MB"
        )
        print("the same file again: nothing posted (checked)")

        names = baseline_files(full_path, tmp)
        empty_tables()
        with Timer() as t:
            copy_baseline(names)
        check(full_points, [f"c{i}" for i in range(1, full_customers + 1)])
        print(
            f"COPY,  {full:>9,} rows: {t.seconds:7.1f} s, {full / t.seconds:9,.0f} rows/s "
            "(accounts, entries, lots, consents)"
        )
    print(f"RATIO import {full_s / t.seconds:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
