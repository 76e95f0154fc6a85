"""Bulk coupon codes: ``coupons.codes.generate_codes`` against Oscar's own voucher-set form.

    python bench/codes.py                                # ours 100,000 codes, Oscar 2,000
    python bench/codes.py --codes 1000000
    python bench/codes.py --codes 20000 --oscar-codes 200

Runs against a fresh PostgreSQL database (``DATABASE_URL``, by default
``postgres://postgres@127.0.0.1:5432/oscar_loyalty_bench_codes``; see
``_setup.py``), with one voucher offer, then

1. "oscar": a new voucher set of ``--oscar-codes`` vouchers made exactly as
   Oscar's dashboard makes one (``VoucherSetCreateView`` saves a bound
   ``VoucherSetForm``, whose ``save()`` creates the vouchers one at a time:
   ``get_unused_code``, ``Voucher.objects.create``, ``offers.add``); only
   ``form.save()`` is timed;
2. "ours": a new voucher set filled with ``--codes`` vouchers by
   ``generate_codes`` (chunks of ``--chunk-size``), timed, with the
   statements it sent and the process's peak memory before and after;
3. for information, "floor": the same rows and links written by one
   hand-written ``INSERT`` per chunk (codes from ``md5()``, unchecked), the
   least PostgreSQL must do for Oscar's schema (9 indexes on the voucher
   table, 4 on the link table, 3 foreign-key checks per code);
4. checks every set (count, distinct codes, offers, names), and streams ours
   to CSV (``write_csv``, to /dev/null) for information.

The final line is ``RATIO codes <ours seconds per code / oscar seconds per code>``
(target <= 0.02).
"""

import argparse
import os
import sys

from _setup import Timer, bootstrap, maxrss_mb, ratio_line

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/oscar_loyalty_bench_codes"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=100_000, help="codes ours generates")
    parser.add_argument(
        "--oscar-codes", type=int, default=2_000, help="codes Oscar's dashboard form generates"
    )
    parser.add_argument("--chunk-size", type=int, default=None, help="ours' chunk size")
    parser.add_argument("--no-export", action="store_true", help="skip the CSV export")
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the hand-written SQL lower bound"
    )
    args = parser.parse_args()
    if args.codes < 1 or args.oscar_codes < 1:
        parser.error("need at least 1 code each")
    return args


class Statements:
    """Counts the statements a block sends (a connection execute wrapper)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def main():
    args = parse_args()
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = DEFAULT_URL
    print(f"Setting up the bench database (ours {args.codes:,} codes, Oscar {args.oscar_codes:,})")
    with Timer() as t:
        dbname = bootstrap()
    print(f"  database {dbname} created and migrated in {t.seconds:.1f} s")

    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone
    from oscar.core.loading import get_class, get_model
    from oscar.test.factories import create_offer

    from oscar_loyalty.coupons import codes

    Voucher = get_model("voucher", "Voucher")
    VoucherSet = get_model("voucher", "VoucherSet")
    VoucherSetForm = get_class("dashboard.vouchers.forms", "VoucherSetForm")

    offer = create_offer(name="Bench offer", offer_type="Voucher")
    now = timezone.now()
    start, end = now - timedelta(days=1), now + timedelta(days=90)
    chunk_size = args.chunk_size or codes.DEFAULT_CHUNK_SIZE
    ok = True

    # 1. Oscar -------------------------------------------------------------------
    print(f"\noscar: VoucherSetForm(data).save(), {args.oscar_codes:,} vouchers, one by one")
    form = VoucherSetForm(
        data={
            "name": "Oscar set",
            "code_length": 12,
            "description": "bench",
            "start_datetime": start.strftime("%Y-%m-%d %H:%M"),
            "end_datetime": end.strftime("%Y-%m-%d %H:%M"),
            "count": args.oscar_codes,
            "usage": Voucher.SINGLE_USE,
            "offers": [offer.pk],
        }
    )
    if not form.is_valid():
        sys.exit(f"Oscar's form refused the bench data: {form.errors.as_text()}")
    statements = Statements()
    with connection.execute_wrapper(statements), Timer() as t:
        oscar_set = form.save()
    oscar = t.seconds / args.oscar_codes
    print(
        f"  {args.oscar_codes:,} vouchers in {t.seconds:.2f} s: {oscar * 1e6:,.1f} µs per code, "
        f"{statements.count / args.oscar_codes:.1f} statements per code"
    )
    ok &= check("oscar", oscar_set, args.oscar_codes, offer, Voucher)

    # 2. Ours --------------------------------------------------------------------
    print(f"\nours: generate_codes(count={args.codes:,}, chunk_size={chunk_size:,})")
    our_set = VoucherSet.objects.create(
        name="Our set", count=0, description="bench", start_datetime=start, end_datetime=end
    )
    rss_before = maxrss_mb()
    statements = Statements()
    with connection.execute_wrapper(statements), Timer() as t:
        added = codes.generate_codes(
            our_set,
            args.codes,
            usage=Voucher.SINGLE_USE,
            offers=[offer],
            chunk_size=chunk_size,
        )
    rss_after = maxrss_mb()
    ours = t.seconds / args.codes
    print(
        f"  {added:,} vouchers in {t.seconds:.2f} s: {ours * 1e6:,.2f} µs per code, "
        f"{args.codes / t.seconds:,.0f} codes/s, {statements.count:,} statements"
    )
    print(
        f"  peak memory (maxrss): {rss_after:.1f} MB; {rss_before:.1f} MB before the run, "
        f"growth {rss_after - rss_before:.1f} MB"
    )
    ok &= check("ours", our_set, args.codes, offer, Voucher)

    # 3. The floor, for information -------------------------------------------------
    floor = None
    if not args.no_floor:
        print(f"\nfloor: hand-written SQL, the same rows and links, {chunk_size:,} per transaction")
        floor_set = VoucherSet.objects.create(
            name="Floor set", count=0, description="bench", start_datetime=start, end_datetime=end
        )
        with Timer() as t:
            floor_sql(floor_set, offer, args.codes, chunk_size)
        floor = t.seconds / args.codes
        print(f"  {args.codes:,} vouchers in {t.seconds:.2f} s: {floor * 1e6:,.2f} µs per code")
        ok &= check("floor", floor_set, args.codes, offer, Voucher)

    # 4. Export, for information ----------------------------------------------------
    if not args.no_export:
        with open(os.devnull, "w", newline="") as sink, Timer() as t:
            written = codes.write_csv(our_set, sink, chunk_size=chunk_size)
        print(
            f"\nexport: write_csv, {written:,} rows in {t.seconds:.2f} s; "
            f"peak memory now {maxrss_mb():.1f} MB"
        )
        ok &= written == args.codes

    print("\nsummary")
    print(f"  oscar {oscar * 1e6:12,.2f} µs per code  ({args.oscar_codes:,} codes)")
    print(f"  ours  {ours * 1e6:12,.2f} µs per code  ({args.codes:,} codes)")
    if floor:
        print(f"  floor {floor * 1e6:12,.2f} µs per code  (hand-written SQL, no code checks)")
    print(f"  ours / oscar = {ours / oscar:.4f}  (target <= 0.02)")
    if floor:
        print(f"  floor / oscar = {floor / oscar:.4f}, ours / floor = {ours / floor:.2f}")
    print(f"  peak memory of the process through ours = {rss_after:.1f} MB")
    print(f"  correctness checks: {'all passed' if ok else 'FAILED (see above)'}")
    print(ratio_line("codes", ours, oscar))
    return 0 if ok else 1


def floor_sql(voucher_set, offer, count, chunk_size):
    """The least the database must do for ``count`` vouchers of the set: the same rows
    and links, one hand-written INSERT per chunk (codes from md5(), not checked or
    retried, no locks), committed per chunk; the set's count updated at the end."""
    from django.db import connection, transaction

    sql = """
        WITH new AS (
            INSERT INTO voucher_voucher (name, code, usage, start_datetime, end_datetime,
                num_basket_additions, num_orders, total_discount, voucher_set_id, date_created)
            SELECT 'Floor set - ' || g, 'F' || upper(substr(md5(random()::text), 1, 13)),
                'Single use', %s, %s, 0, 0, 0, %s, now() + g * interval '1 microsecond'
            FROM generate_series(%s, %s) AS g
            RETURNING id
        )
        INSERT INTO voucher_voucher_offers (voucher_id, conditionaloffer_id)
        SELECT id, %s FROM new
    """
    for first in range(1, count + 1, chunk_size):
        last = min(first + chunk_size - 1, count)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                sql,
                [
                    voucher_set.start_datetime,
                    voucher_set.end_datetime,
                    voucher_set.pk,
                    first,
                    last,
                    offer.pk,
                ],
            )
    voucher_set.count = count
    voucher_set.save(update_fields=["count"])


def check(label, voucher_set, expected, offer, Voucher):
    """The set has ``expected`` vouchers, distinct codes, numbered names, the offer."""
    from django.db.models import Count

    voucher_set.refresh_from_db()
    vouchers = Voucher.objects.filter(voucher_set=voucher_set)
    figures = vouchers.aggregate(
        n=Count("pk"), codes=Count("code", distinct=True), names=Count("name", distinct=True)
    )
    links = Voucher.offers.through.objects.filter(
        voucher__voucher_set=voucher_set, conditionaloffer=offer
    ).count()
    numbered = vouchers.filter(name=f"{voucher_set.name} - {expected}").exists()
    problems = []
    if voucher_set.count != expected:
        problems.append(f"set count {voucher_set.count}")
    if figures != {"n": expected, "codes": expected, "names": expected}:
        problems.append(f"vouchers {figures}")
    if links != expected:
        problems.append(f"{links} offer links")
    if not numbered:
        problems.append(f"no voucher named '{voucher_set.name} - {expected}'")
    print(
        f"  check {label}: "
        + ("ok (count, distinct codes and names, offers)" if not problems else "; ".join(problems))
    )
    return not problems


if __name__ == "__main__":
    sys.exit(main())
