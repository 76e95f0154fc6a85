"""A customer segment evaluated over 100,000 customers and 1,000,000 order lines.

    python bench/segments.py                                  # 100,000 customers, 1M lines
    python bench/segments.py --customers 10000 --lines 100000 # quick

Runs against a fresh PostgreSQL database (``DATABASE_URL``, by default
``postgres://postgres@127.0.0.1:5432/oscar_loyalty_bench_segments``; see
``_setup.py``). The shop, loaded set-based (``INSERT ... SELECT
generate_series``): ``--customers`` customers, four in ten of whom agreed to
marketing emails; ``--lines`` order lines, four per order, so a quarter as many
orders, spread over customers unevenly (some none, some many) and over the
last two years, one in twenty cancelled; 1,000 products in 20 categories
(each under one of 4 departments), one product in ten a variant whose parent
holds the category.

The segment: at least 2 orders, at least 100.00 spent, ordered within 365
days, bought in one department (a category with children), agreed to
marketing emails. Timed: reading every member's id through
``segments.members`` (one statement, built by the ORM), against the same
question written by hand in SQL (the RATIO baseline), interleaved,
``--rounds`` times each after one warm-up; both must return the same ids.
Printed for information: the count, the chunked read
(``segments.member_id_chunks``) and one customer's membership.

The final line is ``RATIO segments <median ours / median hand-written>`` (target <= 2).
"""

import argparse
import os
import statistics
import sys

from _setup import Timer, bootstrap, code_version, machine, ratio_line, server_settings

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/oscar_loyalty_bench_segments"
SPAN_DAYS = 730


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if args.customers < 100 or args.lines < 4 * args.customers // 10 or args.rounds < 1:
        parser.error("at least 100 customers, 0.4 lines a customer, one round")
    return args


def main():
    args = parse_args()
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = DEFAULT_URL
    print(f"Segments: {args.customers:,} customers, {args.lines:,} order lines")
    with Timer() as t:
        dbname = bootstrap(suffix="segments")
    print(f"  database {dbname} created and migrated in {t.seconds:.1f} s")
    print(f"  {server_settings()}")
    print(f"  {code_version()}")

    from django.db import connection
    from django.utils import timezone

    from oscar_loyalty import segments

    now = timezone.now()
    with Timer() as t:
        department = load(args.customers, args.lines, now)
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
    print(f"  loaded and analysed in {t.seconds:.1f} s")

    from decimal import Decimal

    from oscar_loyalty.models import Segment

    segment = Segment.objects.create(
        name="Regulars of one department",
        min_orders=2,
        min_spend=Decimal("100.00"),
        max_days_since_order=365,
        marketing=Segment.Consent.YES,
    )
    segment.categories.add(department)
    # As the dashboard reads it: with its categories (the statement itself is what is timed).
    segment = Segment.objects.prefetch_related("categories").get(pk=segment.pk)

    def ours():
        return sorted(segments.members(segment, now).values_list("pk", flat=True))

    def by_hand():
        with connection.cursor() as cur:
            cur.execute(HAND_WRITTEN.format(**tables()), hand_params(department, now))
            return sorted(row[0] for row in cur.fetchall())

    expected, found = by_hand(), ours()  # warm-up, and the check
    if expected != found:
        print(f"MISMATCH: ours {len(found)} ids, hand-written {len(expected)}")
        sys.exit(1)
    print(f"  members: {len(found):,} of {args.customers:,} customers (both agree)")
    print(f"  {machine()}")

    timings = {"ours": [], "hand": []}
    for _round in range(args.rounds):
        for name, fn in (("ours", ours), ("hand", by_hand)):
            with Timer() as t:
                fn()
            timings[name].append(t.seconds)
    ours_median = statistics.median(timings["ours"])
    hand_median = statistics.median(timings["hand"])
    print(f"  ours:         median {ours_median * 1000:8.1f} ms  ({args.rounds} rounds)")
    print(f"  hand-written: median {hand_median * 1000:8.1f} ms")

    with Timer() as t:
        n = segments.count(segment, now)
    print(f"  count(): {n:,} in {t.seconds * 1000:.1f} ms")
    with Timer() as t:
        chunks = list(segments.member_id_chunks(segment, chunk_size=1000, now=now))
    print(f"  member_id_chunks(1000): {len(chunks)} chunks in {t.seconds * 1000:.1f} ms")
    from django.contrib.auth import get_user_model

    someone = get_user_model().objects.get(pk=found[len(found) // 2]) if found else None
    with Timer() as t:
        inside = segments.is_member(segment, someone, now)
    print(f"  is_member(one customer): {inside} in {t.seconds * 1000:.1f} ms")
    print(ratio_line("segments", ours_median, hand_median))


HAND_WRITTEN = """
    SELECT u.id
    FROM {user} u
    JOIN {consent} mc ON mc.user_id = u.id AND mc.marketing
    JOIN (
        SELECT o.user_id
        FROM {order} o
        WHERE o.user_id IS NOT NULL AND o.currency = %(currency)s
          AND o.status <> 'Cancelled' AND o.date_placed < %(now)s
        GROUP BY o.user_id
        HAVING COUNT(*) >= 2 AND SUM(o.total_incl_tax) >= 100
           AND MAX(o.date_placed) >= %(since)s
    ) busy ON busy.user_id = u.id
    WHERE u.is_active AND NOT u.is_staff
      AND u.id IN (
        SELECT o.user_id
        FROM {line} l
        JOIN {order} o ON o.id = l.order_id
        WHERE o.currency = %(currency)s AND o.status <> 'Cancelled' AND o.date_placed < %(now)s
          AND l.product_id IN (
            SELECT p.id FROM {product} p
            LEFT JOIN {product_category} pc ON pc.product_id = COALESCE(p.parent_id, p.id)
            JOIN {category} c ON c.id = pc.category_id
            WHERE c.path LIKE %(path)s
          )
      )
"""


def tables():
    from django.contrib.auth import get_user_model
    from django.db import connection
    from oscar.core.loading import get_model

    from oscar_loyalty.models import MarketingConsent

    models = {
        "user": get_user_model(),
        "consent": MarketingConsent,
        "order": get_model("order", "Order"),
        "line": get_model("order", "Line"),
        "product": get_model("catalogue", "Product"),
        "product_category": get_model("catalogue", "ProductCategory"),
        "category": get_model("catalogue", "Category"),
    }
    return {k: connection.ops.quote_name(m._meta.db_table) for k, m in models.items()}


def hand_params(department, now):
    from datetime import timedelta

    from django.conf import settings

    return {
        "currency": settings.OSCAR_DEFAULT_CURRENCY,
        "now": now,
        "since": now - timedelta(days=365),
        "path": department.path + "%",
    }


def load(customers, lines, now):
    """The shop of the module docstring, in SQL. Returns the department measured."""
    from django.db import connection, transaction
    from oscar.core.loading import get_model

    Category = get_model("catalogue", "Category")
    ProductClass = get_model("catalogue", "ProductClass")
    Partner = get_model("partner", "Partner")

    departments = [Category.add_root(name=f"Department {d}") for d in range(4)]
    leaves = [departments[c % 4].add_child(name=f"Category {c}") for c in range(20)]
    product_class = ProductClass.objects.create(name="Things")
    partner = Partner.objects.create(name="Warehouse")
    t = tables()
    orders = lines // 4
    p = {
        "now": now,
        "span": SPAN_DAYS * 86400,
        "customers": customers,
        "orders": orders,
        "pclass": product_class.pk,
        "partner": partner.pk,
        "leaf0": leaves[0].pk,
    }
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {t["user"]} (password, is_superuser, username, first_name, last_name,
                                     email, is_staff, is_active, date_joined)
            SELECT '!', false, 'c' || i, '', '', 'c' || i || '@example.com', false, true,
                   %(now)s - interval '3 years'
            FROM generate_series(0, %(customers)s - 1) AS i
            """,
            p,
        )
        cur.execute(
            f"""
            INSERT INTO {t["consent"]} (user_id, marketing, changed_at, source, language)
            SELECT u.id, (u.id %% 10) < 4, %(now)s, 'signup', 'en' FROM {t["user"]} u
            """,
            p,
        )
        # 1,000 products: 900 standalone in a category; 50 parents in one, 50 variants of them.
        cur.execute(
            f"""
            INSERT INTO {t["product"]} (structure, upc, title, slug, description, meta_title,
                meta_description, product_class_id, rating, date_created, date_updated,
                is_discountable, is_public, priority, parent_id, code)
            SELECT CASE WHEN i < 900 THEN 'standalone' ELSE 'parent' END, NULL,
                   'Product ' || i, 'product-' || i, '', NULL, NULL, %(pclass)s, NULL,
                   %(now)s, %(now)s, true, true, 0, NULL, NULL
            FROM generate_series(0, 949) AS i
            """,
            p,
        )
        cur.execute(
            f"""
            INSERT INTO {t["product"]} (structure, upc, title, slug, description, meta_title,
                meta_description, product_class_id, rating, date_created, date_updated,
                is_discountable, is_public, priority, parent_id, code)
            SELECT 'child', NULL, 'Variant of ' || p.title, 'variant-' || p.id, '', NULL, NULL,
                   NULL, NULL, %(now)s, %(now)s, true, true, 0, p.id, NULL
            FROM {t["product"]} p WHERE p.structure = 'parent'
            """,
            p,
        )
        cur.execute(
            f"""
            INSERT INTO {t["product_category"]} (product_id, category_id)
            SELECT p.id, %(leaf0)s + (p.id %% 20)
            FROM {t["product"]} p WHERE p.structure <> 'child'
            """,
            p,
        )
        # Orders: customer i*i mod n, so some customers have many and many have none.
        cur.execute(
            f"""
            INSERT INTO {t["order"]} (number, currency, total_incl_tax, total_excl_tax,
                shipping_incl_tax, shipping_excl_tax, shipping_method, shipping_code, status,
                guest_email, date_placed, user_id, analytics_tracked)
            SELECT 'S' || i, 'USD', 20 + (i::bigint * 37) %% 180, 20, 0, 0, 'Free', 'free',
                   CASE WHEN i %% 20 = 0 THEN 'Cancelled' ELSE 'Pending' END, '',
                   %(now)s - make_interval(secs => (i::bigint * 104729) %% %(span)s),
                   u.id, false
            FROM generate_series(0, %(orders)s - 1) AS i
            JOIN {t["user"]} u ON u.username = 'c' || ((i::bigint * i) %% %(customers)s)
            """,
            p,
        )
        cur.execute(
            f"""
            INSERT INTO {t["line"]} (order_id, partner_id, partner_name, partner_sku,
                partner_line_reference, partner_line_notes, stockrecord_id, product_id, title,
                upc, quantity, line_price_incl_tax, line_price_excl_tax,
                line_price_before_discounts_incl_tax, line_price_before_discounts_excl_tax,
                unit_price_incl_tax, unit_price_excl_tax, tax_code, status, num_allocated,
                allocation_cancelled)
            SELECT o.id, %(partner)s, 'Warehouse', 'sku', '', '', NULL, pr.id, pr.title, NULL,
                   1, 5, 5, 5, 5, 5, 5, NULL, 'Pending', 0, false
            FROM {t["order"]} o
            CROSS JOIN generate_series(0, 3) AS k
            JOIN {t["product"]} pr ON pr.slug IN (
                'product-' || ((o.id * 7 + k * 131) %% 900),
                'variant-' || (SELECT MIN(id) FROM {t["product"]} WHERE structure = 'parent')
                              + ((o.id + k) %% 50)
            ) AND (k < 3 OR pr.structure = 'child') AND (k = 3 OR pr.structure = 'standalone')
            """,
            p,
        )
    return departments[1]


if __name__ == "__main__":
    main()
