"""Is the program working? The figures of the dashboard's KPI page.

Plain functions over a period ``[start, end)``, each a few set-based queries
(never a loop over customers or entries), read-only. Points figures come
from the ledger's entries, so they are exact against it; the test suite
recomputes every one from raw rows.

Definitions (also in ``docs/dashboard.rst``):

* members: customers (active, non-staff users) with a points account;
  enrolment rate = members / customers, both counted at ``end``.
* issued: earned points plus staff's positive adjustments; redeemed: spent
  points less those restored; expired: expired points; taken back:
  clawbacks plus staff's negative adjustments.
* redemption rate: redeemed / issued in the period, shown against the
  average (13%) and target (20%) that Smile.io publishes.
* liability: every balance today, in money at ``POINT_VALUE``; net of
  breakage: less the expired share of the lots whose expiry date has passed
  (points of those lots not spent or taken back / their points).
* repeat-purchase rate: of the customers with an order in the period (guests
  counted by email), the share with two or more; average ticket: order
  total including tax. Members against non-members; cancelled orders and
  orders in other currencies than the default are left out.
* at risk: customers whose one and only order is older than N days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Exists, F, Min, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from oscar.core.loading import get_model

from .conf import loyalty_settings
from .models import (
    Account,
    LedgerEntry,
    LotConsumption,
    PendingAward,
    PointsLot,
    Redemption,
    Referral,
)

Order = get_model("order", "Order")
OrderDiscount = get_model("order", "OrderDiscount")
Voucher = get_model("voucher", "Voucher")
Kind = LedgerEntry.Kind

# Smile.io's published redemption rates: the average program, and a good one.
REDEMPTION_AVERAGE = Decimal("0.13")
REDEMPTION_TARGET = Decimal("0.20")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end`` inclusive, in the shop's time zone."""

    start: date
    end: date

    @property
    def since(self) -> datetime:
        return _midnight(self.start)

    @property
    def until(self) -> datetime:
        return _midnight(self.end + timedelta(days=1))

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @classmethod
    def last(cls, days: int, today: date | None = None) -> Period:
        today = today or timezone.localdate()
        return cls(today - timedelta(days=days - 1), today)


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def rate(part, whole) -> Decimal | None:
    """``part / whole`` to four places, None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def money(points) -> Decimal:
    return (Decimal(points) * loyalty_settings.POINT_VALUE).quantize(CENT, ROUND_HALF_UP)


def _customers():
    return get_user_model().objects.filter(is_active=True, is_staff=False)


# Members ----------------------------------------------------------------------


def members(period: Period) -> dict:
    """Customers and members at the period's end, and members who joined in it."""
    joined = Q(loyalty_account__created_at__lt=period.until)
    figures = _customers().aggregate(
        customers=Count("pk", filter=Q(date_joined__lt=period.until)),
        members=Count("pk", filter=joined & Q(date_joined__lt=period.until)),
        new_members=Count("pk", filter=joined & Q(loyalty_account__created_at__gte=period.since)),
    )
    figures["enrolment_rate"] = rate(figures["members"], figures["customers"])
    return figures


# Points -------------------------------------------------------------------------

_FLOWS = {
    "issued": Q(kind=Kind.EARN) | Q(kind=Kind.ADJUSTMENT, points__gt=0),
    "spent": Q(kind=Kind.SPEND),
    "restored": Q(kind=Kind.RESTORE),
    "expired": Q(kind=Kind.EXPIRE),
    "taken_back": Q(kind=Kind.CLAWBACK) | Q(kind=Kind.ADJUSTMENT, points__lt=0),
}


def _in(period: Period):
    return LedgerEntry.objects.filter(created_at__gte=period.since, created_at__lt=period.until)


def points(period: Period) -> dict:
    """Points issued, redeemed, expired and taken back in the period, and the redemption rate."""
    sums = _in(period).aggregate(
        **{name: Coalesce(Sum("points", filter=q), 0) for name, q in _FLOWS.items()}
    )
    figures = {
        "issued": sums["issued"],
        "redeemed": -sums["spent"] - sums["restored"],
        "expired": -sums["expired"],
        "taken_back": -sums["taken_back"],
    }
    figures["redemption_rate"] = rate(figures["redeemed"], figures["issued"])
    figures["redemption_average"] = REDEMPTION_AVERAGE
    figures["redemption_target"] = REDEMPTION_TARGET
    return figures


def points_by_day(period: Period) -> list[dict]:
    """Issued, redeemed and expired points of each day of the period (days without any: 0)."""
    rows = (
        _in(period)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(**{name: Coalesce(Sum("points", filter=q), 0) for name, q in _FLOWS.items()})
    )
    by_day = {row["day"]: row for row in rows}
    series = []
    for day in period.days:
        row = by_day.get(day)
        series.append(
            {
                "day": day,
                "issued": row["issued"] if row else 0,
                "redeemed": -(row["spent"] + row["restored"]) if row else 0,
                "expired": -row["expired"] if row else 0,
            }
        )
    return series


def liability(now: datetime | None = None) -> dict:
    """What the points in customers' hands are worth today, and net of expected breakage."""
    now = now or timezone.now()
    outstanding = Account.objects.aggregate(s=Coalesce(Sum("balance"), 0))["s"]
    past = PointsLot.objects.filter(expires_at__lte=now)
    lot_points = past.aggregate(s=Coalesce(Sum("points"), 0))["s"]
    used = (
        LotConsumption.objects.filter(lot__expires_at__lte=now)
        .exclude(entry__kind=Kind.EXPIRE)
        .aggregate(s=Coalesce(Sum("points"), 0))["s"]
    )
    breakage = rate(lot_points - used, lot_points) or Decimal(0)
    value = money(outstanding)
    return {
        "points": outstanding,
        "money": value,
        "breakage_rate": breakage,
        "net_money": (value * (1 - breakage)).quantize(CENT, ROUND_HALF_UP),
        "pending_points": PendingAward.objects.filter(status=PendingAward.Status.PENDING).aggregate(
            s=Coalesce(Sum("points"), 0)
        )["s"],
    }


# Orders ---------------------------------------------------------------------------


def _orders(period: Period):
    return Order.objects.filter(
        date_placed__gte=period.since,
        date_placed__lt=period.until,
        currency=settings.OSCAR_DEFAULT_CURRENCY,
    ).exclude(status__in=loyalty_settings.CANCELLED_ORDER_STATUSES)


def purchases(period: Period) -> dict:
    """Repeat-purchase rate and average ticket, members against non-members.

    One statement: orders grouped by customer (the user, or a guest's email),
    then the customers grouped by whether they are members.
    """
    orders = _orders(period)
    sql, params = orders.values("pk").query.sql_with_params()
    order_table = Order._meta.db_table
    account_table = Account._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH per_customer AS (
                SELECT COALESCE(CAST(o.user_id AS TEXT), LOWER(o.guest_email)) AS who,
                       a.id IS NOT NULL AS member,
                       COUNT(*) AS n, SUM(o.total_incl_tax) AS total
                FROM {order_table} o
                LEFT JOIN {account_table} a ON a.user_id = o.user_id
                WHERE o.id IN ({sql})
                GROUP BY 1, 2
            )
            SELECT member, COUNT(*), SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END), SUM(n), SUM(total)
            FROM per_customer GROUP BY member
            """,
            params,
        )
        rows = {member: rest for member, *rest in cursor.fetchall()}
    figures = {}
    for name, member in (("members", True), ("non_members", False)):
        customers, repeat, n, total = rows.get(member, (0, 0, 0, Decimal(0)))
        figures[name] = {
            "customers": customers,
            "repeat_customers": repeat,
            "repeat_rate": rate(repeat, customers),
            "orders": n,
            "average_ticket": (Decimal(total) / n).quantize(CENT, ROUND_HALF_UP) if n else None,
        }
    return figures


def at_risk(days: int, now: datetime | None = None):
    """Customers whose one and only order is more than ``days`` old, latest first.

    A queryset of users annotated with ``first_order`` (its date), ``orders``
    and ``balance`` (None for non-members): slice it for a page.
    """
    now = now or timezone.now()
    counted = Q(orders__currency=settings.OSCAR_DEFAULT_CURRENCY) & ~Q(
        orders__status__in=loyalty_settings.CANCELLED_ORDER_STATUSES
    )
    return (
        _customers()
        .annotate(n_orders=Count("orders", filter=counted), first_order=Min("orders__date_placed"))
        .filter(n_orders=1, first_order__lt=now - timedelta(days=days))
        .annotate(balance=F("loyalty_account__balance"))
        .order_by("-first_order", "-pk")
    )


# Referrals and coupons ----------------------------------------------------------


def referrals(period: Period) -> dict:
    """Friends who signed up through a link in the period, and how many ordered and earned."""
    made = Referral.objects.filter(created_at__gte=period.since, created_at__lt=period.until)
    has_award = Exists(PendingAward.objects.filter(referral=OuterRef("pk")))
    earned = Exists(
        PendingAward.objects.filter(referral=OuterRef("pk"), status=PendingAward.Status.EARNED)
    )
    figures = made.aggregate(
        signups=Count("pk"),
        converted=Count("pk", filter=Q(has_award)),
        rewarded=Count("pk", filter=Q(earned)),
        rejected=Count("pk", filter=Q(status=Referral.Status.REJECTED)),
        void=Count("pk", filter=Q(status=Referral.Status.VOID)),
    )
    figures["conversion_rate"] = rate(figures["converted"], figures["signups"])
    return figures


def coupons(period: Period) -> list[dict]:
    """Orders and discount given by each coupon campaign in the period, most used first.

    A campaign is a set of bulk codes (Oscar's voucher set) or a single coupon;
    customers' personal vouchers for points and rewards are not coupons and
    are left out.
    """
    personal = Redemption.objects.filter(voucher_id=OuterRef("voucher_id"))
    rows = (
        OrderDiscount.objects.filter(
            voucher_id__isnull=False,
            order__in=_orders(period),
        )
        .exclude(Exists(personal))
        .annotate(
            campaign=Coalesce(
                Subquery(
                    Voucher.objects.filter(pk=OuterRef("voucher_id")).values("voucher_set__name")
                ),
                "voucher_code",
                Value(""),
            )
        )
        .values("campaign")
        .annotate(orders=Count("order", distinct=True), discount=Sum("amount"))
        .order_by("-orders", "campaign")
    )
    return list(rows)
