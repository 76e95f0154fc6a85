"""Every KPI recomputed from raw rows, one Python loop over them, and compared.

The shop below is random (seeded) but covers each case a figure must sort:
entries just inside and outside the period in a time zone where midnight is
not UTC's, restores, clawbacks and adjustments both ways, lots past expiry
partly spent, cancelled orders and orders in another currency, guests,
referrals at each stage, bulk codes, single coupons and personal vouchers.
"""

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_loyalty import kpis, ledger
from oscar_loyalty.models import (
    Account,
    LedgerEntry,
    LotConsumption,
    PendingAward,
    PointsLot,
    Redemption,
    Referral,
)

pytestmark = [pytest.mark.django_db]
User = get_user_model()
Order = get_model("order", "Order")
OrderDiscount = get_model("order", "OrderDiscount")
Voucher = get_model("voucher", "Voucher")
VoucherSet = get_model("voucher", "VoucherSet")
Kind = LedgerEntry.Kind
ZONE = ZoneInfo("America/Santiago")
TODAY = date(2026, 6, 30)
NOW = datetime.combine(TODAY, time(15), ZONE)
PERIOD = kpis.Period(date(2026, 6, 1), TODAY)


@pytest.fixture(autouse=True)
def santiago():
    with override_settings(TIME_ZONE="America/Santiago"), time_machine.travel(NOW, tick=False):
        yield


def at(moment, fn, *args, **kwargs):
    with time_machine.travel(moment, tick=False):
        return fn(*args, **kwargs)


def moments(rng):
    """Times around the period's edges (local midnights) and inside it."""
    start = datetime.combine(PERIOD.start, time(), ZONE)
    end = datetime.combine(PERIOD.end + timedelta(days=1), time(), ZONE)
    edges = [start, end, datetime.combine(TODAY, time(), ZONE)]  # and where stored days end
    picks = [e + timedelta(seconds=s) for e in edges for s in (-1, 0, 1)]
    picks += [start + timedelta(hours=rng.randrange(0, 24 * 30)) for _ in range(6)]
    return [m for m in picks if m <= NOW]


@pytest.fixture(params=["from the ledger", "from the daily sums"])
def shop(request, staff):
    """The shop; the second time with the daily sums stored, today still read live."""
    customers = build_shop(staff)
    if request.param == "from the daily sums":
        assert kpis.store_daily_figures() > 0
    return customers


def build_shop(staff):
    rng = random.Random(18)
    customers = []
    for i in range(8):
        user = User.objects.create_user(
            username=f"c{i}",
            email=f"c{i}@example.com",
            password="x",
            date_joined=datetime(2026, 6, 1 + 4 * i, 12, tzinfo=ZONE),
        )
        customers.append(user)
    inactive = User.objects.create_user(username="off", email="off@example.com", is_active=False)
    deleted = User.objects.create_user(username="gone", email="gone@example.com")
    members = customers[:5]
    for n, user in enumerate([*members, inactive, staff, deleted]):
        at(datetime(2026, 5, 20, 10, tzinfo=ZONE) + timedelta(days=4 * n), ledger.get_account, user)
    at(NOW - timedelta(days=3), deleted.delete)  # the account stays, closed

    # Old lots, past expiry: partly spent, then what is left expired (or not yet).
    old = NOW - timedelta(days=400)
    for n, user in enumerate(members[:3]):
        account = user.loyalty_account
        earned = old + timedelta(days=n)
        at(earned, ledger.earn, account, 100 + n, key=f"old:{n}", reason="old", earned_at=earned)
        at(old + timedelta(days=10), ledger.spend, account, 30, key=f"olds:{n}", reason="r")
    for lot in PointsLot.objects.filter(expires_at__lte=NOW).order_by("id")[:2]:
        at(lot.expires_at + timedelta(hours=1), ledger.expire, lot)

    # Entries around the period's edges, of every kind.
    for n, user in enumerate(members):
        account = user.loyalty_account
        for m, moment in enumerate(moments(rng)):
            key = f"{n}:{m}"
            at(moment, ledger.earn, account, rng.randrange(5, 60), key=f"e{key}", reason="r")
            choice = rng.randrange(5)
            if choice == 0:
                spent = at(moment, ledger.spend, account, 4, key=f"s{key}", reason="r")
                if rng.random() < 0.5:
                    at(moment, ledger.restore, spent, key=f"r{key}", reason="r", points=3)
            elif choice == 1:
                at(moment, ledger.clawback, account, 3, key=f"c{key}", reason="r")
            elif choice == 2:
                points = rng.choice([7, -2])
                adjust = ledger.adjust
                at(moment, adjust, account, points, key=f"a{key}", reason="r", staff_user=staff)

    # Orders: members, customers without an account, guests; some cancelled or in euros.
    numbers = iter(range(1000, 9999))
    orders = []
    for moment in moments(rng) + moments(rng):
        who = rng.choice(members + [None, None])  # customers 5-7 order below
        order = Order.objects.create(
            number=str(next(numbers)),
            user=who,
            guest_email="" if who else rng.choice(["g1@example.com", "G1@example.com", "g2@x.org"]),
            currency=rng.choice(["USD"] * 5 + ["EUR"]),
            total_incl_tax=D(rng.randrange(1000, 20000)) / 100,
            total_excl_tax=D(10),
            status=rng.choice(["Pending"] * 4 + ["Cancelled"]),
            date_placed=moment,
        )
        orders.append(order)
    # The same guest, typing their email in two ways: one customer with two orders.
    for email in ("g1@example.com", "G1@Example.com"):
        Order.objects.create(
            number=str(next(numbers)),
            guest_email=email,
            currency="USD",
            total_incl_tax=D(20),
            total_excl_tax=D(20),
            status="Pending",
            date_placed=NOW - timedelta(days=2),
        )
    # A customer with one order long ago (at risk), one with two (not), one recent (not yet).
    for user, days in ((customers[5], [90]), (customers[6], [90, 80]), (customers[7], [10])):
        for d in days:
            Order.objects.create(
                number=str(next(numbers)),
                user=user,
                currency="USD",
                total_incl_tax=D(50),
                total_excl_tax=D(40),
                status="Pending",
                date_placed=NOW - timedelta(days=d),
            )

    # Referrals at each stage, some outside the period.
    for n, (referrer, referred) in enumerate(zip(members, customers[3:], strict=False)):
        moment = moments(rng)[n]
        referral = Referral.objects.create(
            referrer=referrer,
            referred=referred,
            created_at=moment,
            status=[Referral.Status.ACTIVE, Referral.Status.REJECTED, Referral.Status.VOID][n % 3],
        )
        if n % 2 == 0:
            PendingAward.objects.create(
                order=orders[n],
                referral=referral,
                account=referrer.loyalty_account,
                points=10,
                original_points=10,
                matures_at=NOW,
                status=[PendingAward.Status.PENDING, PendingAward.Status.EARNED][n % 4 // 2],
            )
    for n, order in enumerate(orders[::3]):
        if order.user_id in {u.pk for u in members}:
            PendingAward.objects.get_or_create(
                order=order,
                referral=None,
                defaults={
                    "account": order.user.loyalty_account,
                    "points": n,
                    "original_points": n,
                    "matures_at": NOW + timedelta(days=5),
                },
            )

    # Coupons: bulk codes, single coupons, a personal voucher (not a coupon).
    spring = VoucherSet.objects.create(name="Spring codes", count=0, **_dates())
    vouchers = [
        Voucher.objects.create(name="S1", code="SPRING-1", voucher_set=spring, **_dates()),
        Voucher.objects.create(name="S2", code="SPRING-2", voucher_set=spring, **_dates()),
        Voucher.objects.create(name="Welcome", code="WELCOME", **_dates()),
        Voucher.objects.create(name="Points", code="PTS-1", **_dates()),
    ]
    Redemption.objects.create(
        account=members[0].loyalty_account,
        points=10,
        value=D(10),
        voucher=vouchers[3],
        expires_at=NOW,
    )
    personal = vouchers.pop()  # used once, in one order, as a personal voucher is
    counted = next(
        o for o in orders if inside(o.date_placed) and (o.currency, o.status) == ("USD", "Pending")
    )
    OrderDiscount.objects.create(
        order=counted, voucher_id=personal.pk, voucher_code=personal.code, amount=D(10)
    )
    for order in orders:
        for voucher in rng.sample(vouchers, rng.randrange(0, 3)):
            OrderDiscount.objects.create(
                order=order,
                voucher_id=voucher.pk,
                voucher_code=voucher.code,
                amount=D(rng.randrange(100, 900)) / 100,
            )
    OrderDiscount.objects.create(order=orders[0], offer_id=1, amount=D(5))  # not a voucher
    return customers


def _dates():
    return {"start_datetime": NOW - timedelta(days=365), "end_datetime": NOW + timedelta(days=9)}


def local_day(moment):
    return timezone.localtime(moment).date()


def inside(moment):
    return PERIOD.start <= local_day(moment) <= PERIOD.end


def ratio(part, whole):
    return kpis.rate(part, whole)


def test_the_shop_has_what_each_figure_must_sort(shop):
    entries = LedgerEntry.objects.all()
    assert {e.kind for e in entries} == set(Kind.values)
    assert {inside(e.created_at) for e in entries} == {True, False}
    assert PointsLot.objects.filter(expires_at__lte=NOW, remaining__gt=0).exists()


def test_members_recomputed(shop):
    users = [u for u in User.objects.all() if u.is_active and not u.is_staff]
    end = datetime.combine(PERIOD.end + timedelta(days=1), time(), ZONE)
    accounts = {a.user_id: a for a in Account.objects.exclude(user=None)}
    assert Account.objects.filter(user=None).exists()
    customers = [u for u in users if u.date_joined < end]
    members = [u for u in customers if u.pk in accounts and accounts[u.pk].created_at < end]
    new = [u for u in members if inside(accounts[u.pk].created_at)]
    assert kpis.members(PERIOD) == {
        "customers": len(customers),
        "members": len(members),
        "new_members": len(new),
        "enrolment_rate": ratio(len(members), len(customers)),
    }
    assert 0 < len(new) < len(members) < len(customers)


def test_points_recomputed(shop):
    sums = defaultdict(int)
    by_day = defaultdict(lambda: defaultdict(int))
    for e in LedgerEntry.objects.all():
        if not inside(e.created_at):
            continue
        name = {
            Kind.EARN: "issued",
            Kind.SPEND: "redeemed",
            Kind.RESTORE: "redeemed",
            Kind.EXPIRE: "expired",
            Kind.CLAWBACK: "taken_back",
        }.get(e.kind)
        if e.kind == Kind.ADJUSTMENT:
            name = "issued" if e.points > 0 else "taken_back"
        sign = 1 if name == "issued" else -1
        sums[name] += sign * e.points
        by_day[local_day(e.created_at)][name] += sign * e.points
    figures = kpis.points(PERIOD)
    for name in ("issued", "redeemed", "expired", "taken_back"):
        assert figures[name] == sums[name], name
    assert figures["redemption_rate"] == ratio(sums["redeemed"], sums["issued"])
    assert (figures["redemption_average"], figures["redemption_target"]) == (D("0.13"), D("0.20"))
    series = kpis.points_by_day(PERIOD)
    assert [row["day"] for row in series] == PERIOD.days
    for row in series:
        for name in ("issued", "redeemed", "expired", "taken_back"):
            assert row[name] == by_day[row["day"]][name], (row["day"], name)
    assert sum(row["issued"] for row in series) == sums["issued"] > 0


def test_liability_recomputed(shop):
    outstanding = sum(e.points for e in LedgerEntry.objects.all())
    past = [lot for lot in PointsLot.objects.all() if lot.expires_at and lot.expires_at <= NOW]
    used = sum(
        c.points
        for c in LotConsumption.objects.select_related("entry", "lot")
        if c.lot in past and c.entry.kind != Kind.EXPIRE
    )
    lot_points = sum(lot.points for lot in past)
    breakage = ratio(lot_points - used, lot_points)
    value = (outstanding * D("1.00")).quantize(D("0.01"))
    figures = kpis.liability()
    assert figures == {
        "points": outstanding,
        "money": value,
        "breakage_rate": breakage,
        "net_money": (value * (1 - breakage)).quantize(D("0.01"), ROUND_HALF_UP),
        "pending_points": sum(
            a.points for a in PendingAward.objects.all() if a.status == PendingAward.Status.PENDING
        ),
    }
    assert 0 < breakage < 1


@override_settings(OSCAR_LOYALTY_POINT_VALUE=D("0.05"))
def test_liability_in_money_at_the_point_value(shop):
    figures = kpis.liability()
    assert figures["money"] == (figures["points"] * D("0.05")).quantize(D("0.01"))


def test_purchases_recomputed(shop):
    members = set(Account.objects.exclude(user=None).values_list("user_id", flat=True))
    per = defaultdict(list)
    for o in Order.objects.all():
        if not inside(o.date_placed) or o.currency != "USD" or o.status == "Cancelled":
            continue
        who = o.user_id if o.user_id else o.guest_email.lower()
        per[(o.user_id in members, who)].append(o.total_incl_tax)
    figures = kpis.purchases(PERIOD)
    for name, member in (("members", True), ("non_members", False)):
        groups = [totals for (m, _who), totals in per.items() if m == member]
        n = sum(len(t) for t in groups)
        repeat = sum(1 for t in groups if len(t) >= 2)
        assert figures[name] == {
            "customers": len(groups),
            "repeat_customers": repeat,
            "repeat_rate": ratio(repeat, len(groups)),
            "orders": n,
            "average_ticket": (sum(sum(t) for t in groups) / n).quantize(D("0.01"), ROUND_HALF_UP)
            if n
            else None,
        }, name
        assert repeat > 0 and n > len(groups)


def test_customers_at_risk_recomputed(shop):
    counted = defaultdict(list)
    for o in Order.objects.filter(user__isnull=False):
        if o.currency == "USD" and o.status != "Cancelled":
            counted[o.user_id].append(o.date_placed)
    for days in (1, 20, 60):
        expected = sorted(
            (
                (dates[0], uid)
                for uid, dates in counted.items()
                if len(dates) == 1
                and dates[0] < NOW - timedelta(days=days)
                and User.objects.get(pk=uid).is_active
                and not User.objects.get(pk=uid).is_staff
            ),
            reverse=True,
        )
        found = kpis.at_risk(days)
        assert [u.pk for u in found] == [uid for _d, uid in expected], days
    found = kpis.at_risk(60)
    assert [u.pk for u in found] == [shop[5].pk]
    assert found[0].balance is None and found[0].first_order == NOW - timedelta(days=90)


def test_referrals_recomputed(shop):
    made = [r for r in Referral.objects.all() if inside(r.created_at)]
    awards = {a.referral_id: a for a in PendingAward.objects.filter(referral__isnull=False)}
    converted = [r for r in made if r.pk in awards]
    assert kpis.referrals(PERIOD) == {
        "signups": len(made),
        "converted": len(converted),
        "rewarded": sum(awards[r.pk].status == "earned" for r in converted),
        "rejected": sum(r.status == "rejected" for r in made),
        "void": sum(r.status == "void" for r in made),
        "conversion_rate": ratio(len(converted), len(made)),
    }
    assert 0 < len(converted) < len(made)


def test_coupon_use_recomputed(shop):
    personal = set(Redemption.objects.values_list("voucher_id", flat=True))
    campaigns = defaultdict(lambda: [set(), D(0)])
    for d in OrderDiscount.objects.select_related("order"):
        o = d.order
        if d.voucher_id is None or d.voucher_id in personal:
            continue
        if not inside(o.date_placed) or o.currency != "USD" or o.status == "Cancelled":
            continue
        voucher = Voucher.objects.get(pk=d.voucher_id)
        name = voucher.voucher_set.name if voucher.voucher_set else d.voucher_code
        campaigns[name][0].add(o.pk)
        campaigns[name][1] += d.amount
    expected = sorted(
        (
            {"campaign": name, "orders": len(orders), "discount": amount}
            for name, (orders, amount) in campaigns.items()
        ),
        key=lambda row: (-row["orders"], row["campaign"]),
    )
    assert kpis.coupons(PERIOD) == expected
    assert {row["campaign"] for row in expected} == {"Spring codes", "WELCOME"}


def test_an_empty_shop_has_no_rates():
    assert kpis.points(PERIOD)["redemption_rate"] is None
    assert kpis.members(PERIOD)["enrolment_rate"] is None
    assert kpis.liability()["breakage_rate"] == 0
    assert kpis.purchases(PERIOD)["members"]["average_ticket"] is None
    assert kpis.referrals(PERIOD)["conversion_rate"] is None
    assert kpis.coupons(PERIOD) == []


# The daily sums ---------------------------------------------------------------------


def test_the_daily_sums_stop_before_today_and_before_lots_not_yet_expired(shop):
    from oscar_loyalty.models import DailyExpiry, DailyPoints

    kpis.store_daily_figures()
    days = list(DailyPoints.objects.order_by("day").values_list("day", flat=True))
    assert days[-1] == TODAY - timedelta(days=1)
    assert days == [days[0] + timedelta(days=n) for n in range(len(days))]  # no gaps
    left = PointsLot.objects.filter(expires_at__lte=NOW, remaining__gt=0).earliest("expires_at")
    stored = list(DailyExpiry.objects.order_by("day").values_list("day", "points", "used"))
    assert stored[-1][0] == local_day(left.expires_at) - timedelta(days=1)
    assert [row for row in stored if row[1]] == [
        (stored[-2][0], 100, 30),
        (stored[-1][0], 101, 30),
    ]
    assert kpis.store_daily_figures() == 0  # twice: nothing more
    for lot in PointsLot.objects.filter(expires_at__lte=NOW, remaining__gt=0):
        at(lot.expires_at + timedelta(hours=1), ledger.expire, lot)
    assert kpis.store_daily_figures() > 0
    day = local_day(left.expires_at)
    lots = [
        lot
        for lot in PointsLot.objects.all()
        if lot.expires_at and local_day(lot.expires_at) == day
    ]
    assert DailyExpiry.objects.get(day=day).points == sum(lot.points for lot in lots) > 0


def test_the_daily_sums_of_a_day_wait_until_it_settled(shop):
    from oscar_loyalty.models import DailyPoints

    DailyPoints.objects.all().delete()
    just_after_midnight = datetime.combine(TODAY, time(0, 30), ZONE)
    kpis.store_daily_figures(just_after_midnight)
    assert DailyPoints.objects.latest("day").day == TODAY - timedelta(days=2)


def test_the_hourly_job_stores_the_daily_sums(shop):
    from oscar_loyalty import tasks
    from oscar_loyalty.models import DailyPoints
    from oscar_loyalty.schedule import BEAT_SCHEDULE

    job = BEAT_SCHEDULE["oscar-loyalty-store-daily-figures"]
    assert job["task"] == tasks.store_daily_figures.name
    DailyPoints.objects.all().delete()
    tasks.store_daily_figures.delay()
    assert DailyPoints.objects.latest("day").day == TODAY - timedelta(days=1)
