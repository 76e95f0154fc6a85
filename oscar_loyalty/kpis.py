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

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from oscar.core.loading import get_model

from .conf import loyalty_settings
from .models import (
    Account,
    DailyExpiry,
    DailyPoints,
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
    """Customers and members at the period's end, and members who joined in it.

    Members are counted from the accounts, less the few of staff, inactive or
    deleted customers, so no statement joins every customer to their account.
    """
    customers = _customers().filter(date_joined__lt=period.until).count()
    joined = {
        "members": Count("pk", filter=Q(created_at__lt=period.until)),
        "new_members": Count(
            "pk", filter=Q(created_at__gte=period.since, created_at__lt=period.until)
        ),
    }
    accounts = Account.objects.aggregate(**joined)
    not_customers = get_user_model().objects.filter(Q(is_active=False) | Q(is_staff=True))
    others = Account.objects.filter(Q(user=None) | Q(user__in=not_customers)).aggregate(**joined)
    figures = {
        "customers": customers,
        "members": accounts["members"] - others["members"],
        "new_members": accounts["new_members"] - others["new_members"],
    }
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


def _flows():
    return {name: Coalesce(Sum("points", filter=q), 0) for name, q in _FLOWS.items()}


def _stored_until(model) -> date | None:
    """The last day stored by ``store_daily_figures`` (stored days have no gaps)."""
    return model.objects.aggregate(last=Max("day"))["last"]


def _daily_flows(period: Period) -> dict[date, dict]:
    """{day: {issued, spent, restored, expired, taken_back}} for the period's days with
    movements (entry sign: spent, expired... are negative): stored days from the daily
    sums, the days after them from the entries."""
    stored_until = _stored_until(DailyPoints)
    by_day = {}
    if stored_until is not None:
        for row in DailyPoints.objects.filter(day__gte=period.start, day__lte=period.end).values(
            "day", *_FLOWS
        ):
            day = row.pop("day")
            by_day[day] = {name: v if name == "issued" else -v for name, v in row.items()}
    live_since = (
        period.since
        if stored_until is None
        else max(period.since, _midnight(stored_until + timedelta(days=1)))
    )
    if live_since < period.until:
        rows = (
            LedgerEntry.objects.filter(created_at__gte=live_since, created_at__lt=period.until)
            .annotate(day=TruncDate("created_at"))
            .values("day")
            .annotate(**_flows())
        )
        for row in rows:
            day = row.pop("day")
            by_day[day] = row
    return by_day


def points(period: Period, series: list[dict] | None = None) -> dict:
    """Points issued, redeemed, expired and taken back in the period, and the redemption
    rate. ``series``: the period's ``points_by_day``, if already read."""
    series = points_by_day(period) if series is None else series
    figures = {
        name: sum(row[name] for row in series)
        for name in ("issued", "redeemed", "expired", "taken_back")
    }
    figures["redemption_rate"] = rate(figures["redeemed"], figures["issued"])
    figures["redemption_average"] = REDEMPTION_AVERAGE
    figures["redemption_target"] = REDEMPTION_TARGET
    return figures


def points_by_day(period: Period) -> list[dict]:
    """Points issued, redeemed, expired and taken back on each day of the period (days
    without any: 0)."""
    by_day = _daily_flows(period)
    zero = dict.fromkeys(_FLOWS, 0)
    series = []
    for day in period.days:
        row = by_day.get(day, zero)
        series.append(
            {
                "day": day,
                "issued": row["issued"],
                "redeemed": -(row["spent"] + row["restored"]),
                "expired": -row["expired"],
                "taken_back": -row["taken_back"],
            }
        )
    return series


def liability(now: datetime | None = None) -> dict:
    """What the points in customers' hands are worth today, and net of expected breakage."""
    now = now or timezone.now()
    outstanding = _outstanding()
    stored_until = _stored_until(DailyExpiry)
    stored = DailyExpiry.objects.aggregate(
        points=Coalesce(Sum("points"), 0), used=Coalesce(Sum("used"), 0)
    )
    since = None if stored_until is None else _midnight(stored_until + timedelta(days=1))
    live = _expired_lots(since, now)
    lot_points = stored["points"] + live["points"]
    used = stored["used"] + live["used"]
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


def _outstanding() -> int:
    """Every balance summed: the sum of every entry (the ledger's rule 1), read from the
    daily sums and the entries after the last day summed, not from every account."""
    stored_until = _stored_until(DailyPoints)
    if stored_until is None:
        return Account.objects.aggregate(s=Coalesce(Sum("balance"), 0))["s"]
    stored = DailyPoints.objects.aggregate(**{name: Coalesce(Sum(name), 0) for name in _FLOWS})
    net = stored["issued"] - sum(stored[name] for name in _FLOWS if name != "issued")
    live = LedgerEntry.objects.filter(
        created_at__gte=_midnight(stored_until + timedelta(days=1))
    ).aggregate(s=Coalesce(Sum("points"), 0))["s"]
    return net + live


def _expired_lots(since: datetime | None, until: datetime) -> dict:
    """Points of the lots expiring in ``[since, until]``, and how many were used otherwise.

    One statement driven by the lots (a few a day), looking up each one's takes.
    """
    lots = PointsLot.objects.filter(expires_at__lte=until)
    if since is not None:
        lots = lots.filter(expires_at__gte=since)
    used = (
        LotConsumption.objects.filter(lot=OuterRef("pk"))
        .exclude(entry__kind=Kind.EXPIRE)
        .values("lot")
        .annotate(s=Sum("points"))
        .values("s")
    )
    return lots.aggregate(points=Coalesce(Sum("points"), 0), used=Coalesce(Sum(Subquery(used)), 0))


# Orders ---------------------------------------------------------------------------


def purchases(period: Period) -> dict:
    """Repeat-purchase rate and average ticket, members against non-members.

    One statement: orders grouped by customer (the user, or a guest's email),
    then the customers grouped by whether they are members (looked up for the
    customers of the period only).
    """
    cancelled = list(loyalty_settings.CANCELLED_ORDER_STATUSES) or [""]
    order_table = Order._meta.db_table
    account_table = Account._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH per_customer AS (
                SELECT o.user_id, COUNT(*) AS n, SUM(o.total_incl_tax) AS total
                FROM {order_table} o
                WHERE o.date_placed >= %s AND o.date_placed < %s AND o.currency = %s
                  AND o.status NOT IN ({", ".join(["%s"] * len(cancelled))})
                GROUP BY o.user_id, CASE WHEN o.user_id IS NULL THEN LOWER(o.guest_email) END
            )
            SELECT EXISTS (SELECT 1 FROM {account_table} a WHERE a.user_id = c.user_id),
                   COUNT(*), SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END), SUM(n), SUM(total)
            FROM per_customer c GROUP BY 1
            """,
            [period.since, period.until, settings.OSCAR_DEFAULT_CURRENCY, *cancelled],
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


class AtRisk(NamedTuple):
    """A customer at risk: who, when their one order was placed, their balance (None: no
    points account)."""

    pk: int
    email: str
    first_name: str
    last_name: str
    first_order: datetime
    balance: int | None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def _at_risk_orders(days: int, now: datetime | None):
    """The one order of each customer at risk, latest first.

    Driven by the orders placed before the cut-off, newest first (the index on
    ``date_placed``), each checked for no other counted order of its customer
    (the index on ``user``): a page is found without grouping every order of
    the shop, and never one query a row.
    """
    cutoff = (now or timezone.now()) - timedelta(days=days)
    counted = Order.objects.filter(currency=settings.OSCAR_DEFAULT_CURRENCY).exclude(
        status__in=loyalty_settings.CANCELLED_ORDER_STATUSES
    )
    another = counted.filter(user_id=OuterRef("user_id")).exclude(pk=OuterRef("pk"))
    return (
        counted.filter(
            date_placed__lt=cutoff,
            user__isnull=False,
            user__is_active=True,
            user__is_staff=False,
        )
        .exclude(Exists(another))
        .order_by("-date_placed", "-user_id")
        .values_list(
            "user_id",
            "user__email",
            "user__first_name",
            "user__last_name",
            "date_placed",
            "user__loyalty_account__balance",
        )
    )


def at_risk_user_ids(days: int, now: datetime | None = None):
    """The ids of the customers at risk, as a subquery (win-back narrows them further)."""
    return _at_risk_orders(days, now).order_by().values("user_id")


def at_risk(
    days: int,
    now: datetime | None = None,
    *,
    after: tuple[datetime, int] | None = None,
    limit: int | None = None,
) -> list[AtRisk]:
    """Customers whose one and only order is more than ``days`` old, latest first.

    ``limit`` of them (all without), from those that come ``after`` the one whose
    order date and id are given: a page, or a chunk, in one query at any depth.
    """
    rows = _at_risk_orders(days, now)
    if after is not None:
        placed, pk = after
        rows = rows.filter(Q(date_placed__lt=placed) | Q(date_placed=placed, user_id__lt=pk))
    return [AtRisk(*row) for row in (rows[:limit] if limit is not None else rows)]


def iter_at_risk(days: int, now: datetime | None = None, chunk: int = 2000) -> Iterator[AtRisk]:
    """All customers at risk, ``chunk`` at a time from where the last chunk ended (not by
    offset), so a CSV of any length streams in flat memory."""
    now = now or timezone.now()
    page = at_risk(days, now, limit=chunk)
    while page:
        yield from page
        last = page[-1]
        page = (
            at_risk(days, now, after=(last.first_order, last.pk), limit=chunk)
            if len(page) == chunk
            else []
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
            order__date_placed__gte=period.since,
            order__date_placed__lt=period.until,
            order__currency=settings.OSCAR_DEFAULT_CURRENCY,
        )
        .exclude(order__status__in=loyalty_settings.CANCELLED_ORDER_STATUSES)
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


# The daily sums -------------------------------------------------------------------

# A day is summed this long after it ended, so a transaction that began before
# midnight has committed its entries.
SETTLE = timedelta(hours=1)


def store_daily_figures(now: datetime | None = None) -> int:
    """Sum the days that are over and not stored yet; returns how many days were stored.

    Ledger days are stored up to yesterday; a lot expiry day only once every lot
    of that day has been expired (by the expiry job), and not past a day that
    still has lots left. Safe to run twice at once: a day is stored once.
    """
    now = now or timezone.now()
    last = timezone.localdate(now - SETTLE) - timedelta(days=1)
    return _store_points(last) + _store_expiries(last)


def _first_day(stored_until, earliest) -> date | None:
    if stored_until is not None:
        return stored_until + timedelta(days=1)
    return None if earliest is None else timezone.localdate(earliest)


def _store_points(last: date) -> int:
    first = _first_day(
        _stored_until(DailyPoints),
        LedgerEntry.objects.aggregate(first=Min("created_at"))["first"],
    )
    if first is None or first > last:
        return 0
    period = Period(first, last)
    by_day = {
        row.pop("day"): row
        for row in LedgerEntry.objects.filter(
            created_at__gte=period.since, created_at__lt=period.until
        )
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(**_flows())
    }
    rows = []
    for day in period.days:
        row = by_day.get(day, dict.fromkeys(_FLOWS, 0))
        rows.append(
            DailyPoints(
                day=day,
                **{name: value if name == "issued" else -value for name, value in row.items()},
            )
        )
    DailyPoints.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _store_expiries(last: date) -> int:
    first = _first_day(
        _stored_until(DailyExpiry),
        PointsLot.objects.aggregate(first=Min("expires_at"))["first"],
    )
    if first is None:
        return 0
    left = PointsLot.objects.filter(
        remaining__gt=0,
        expires_at__gte=_midnight(first),
        expires_at__lt=_midnight(last + timedelta(days=1)),
    ).aggregate(first=Min("expires_at"))["first"]
    if left is not None:  # a day with lots not expired yet: stop before it
        last = min(last, timezone.localdate(left) - timedelta(days=1))
    if first > last:
        return 0
    period = Period(first, last)
    points = dict(
        PointsLot.objects.filter(expires_at__gte=period.since, expires_at__lt=period.until)
        .annotate(day=TruncDate("expires_at"))
        .values_list("day")
        .annotate(s=Sum("points"))
    )
    used = dict(
        LotConsumption.objects.filter(
            lot__expires_at__gte=period.since, lot__expires_at__lt=period.until
        )
        .exclude(entry__kind=Kind.EXPIRE)
        .annotate(day=TruncDate("lot__expires_at"))
        .values_list("day")
        .annotate(s=Sum("points"))
    )
    rows = [
        DailyExpiry(day=day, points=points.get(day, 0), used=used.get(day, 0))
        for day in period.days
    ]
    DailyExpiry.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
