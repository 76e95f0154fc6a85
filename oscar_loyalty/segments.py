"""Customer segments: who is in one, set-based.

A segment's members are one SQL statement (``members``): the customers'
orders are grouped once (count, spend, last order) and matched with the
segment's rules in the database, never customer by customer. Lists are read
by keyset in chunks (``member_id_chunks``); one customer's membership is the
same statement narrowed to them (``is_member``), which is what the offer
condition ``SegmentCondition`` asks.

Segments never change points: they pick customers for offers, vouchers,
bonus campaigns and win-back coupons.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone
from oscar.core.loading import get_model

from .conf import loyalty_settings
from .coupons import brands
from .models import Segment, SegmentCondition

Order = get_model("order", "Order")
Line = get_model("order", "Line")
Product = get_model("catalogue", "Product")
Range = get_model("offer", "Range")
Condition = get_model("offer", "Condition")


def counted_orders():
    """The orders segments count: customers', in the default currency, not cancelled."""
    return Order.objects.filter(
        user__isnull=False, currency=settings.OSCAR_DEFAULT_CURRENCY
    ).exclude(status__in=loyalty_settings.CANCELLED_ORDER_STATUSES)


def _order_rules(segment: Segment, now: datetime) -> dict:
    having = {}
    if segment.min_orders is not None:
        having["n__gte"] = segment.min_orders
    if segment.max_orders is not None:
        having["n__lte"] = segment.max_orders
    if segment.min_spend is not None:
        having["spend__gte"] = segment.min_spend
    if segment.max_spend is not None:
        having["spend__lte"] = segment.max_spend
    if segment.min_days_since_order is not None:
        having["last__lte"] = now - timedelta(days=segment.min_days_since_order)
    if segment.max_days_since_order is not None:
        having["last__gte"] = now - timedelta(days=segment.max_days_since_order)
    return having


def _no_order_qualifies(segment: Segment) -> bool:
    """Whether a customer who never ordered meets the order rules (0 orders, 0 spent)."""
    return (
        not segment.min_orders
        and not segment.min_spend
        and segment.min_days_since_order is None
        and segment.max_days_since_order is None
    )


def members(segment: Segment, now: datetime | None = None, user_ids=None) -> QuerySet:
    """The segment's customers (active, not staff), as one statement.

    ``user_ids`` narrows it to some customers (the orders read are theirs only).
    """
    now = now or timezone.now()
    customers = get_user_model().objects.filter(is_active=True, is_staff=False)
    # Orders placed before ``now``: asked while an order is placed, a segment of
    # customers "not seen for 90 days" is judged without that order.
    orders = counted_orders().filter(date_placed__lt=now)
    if user_ids is not None:
        customers = customers.filter(pk__in=user_ids)
        orders = orders.filter(user_id__in=user_ids)
    rules = Q()
    having = _order_rules(segment, now)
    if having:
        grouped = (
            orders.order_by()
            .values("user_id")
            .annotate(n=Count("id"), spend=Sum("total_incl_tax"), last=Max("date_placed"))
            .filter(**having)
            .values("user_id")
        )
        matched = Q(pk__in=grouped)
        if _no_order_qualifies(segment):
            matched |= ~Q(pk__in=orders.order_by().values("user_id"))
        rules &= matched
    products = _bought_products(segment)
    if products is not None:
        lines = Line.objects.filter(order__in=orders, product_id__in=products)
        rules &= Q(pk__in=lines.values("order__user_id"))
    if segment.marketing == Segment.Consent.YES:
        rules &= Q(loyalty_consent__marketing=True)
    elif segment.marketing == Segment.Consent.NO:
        rules &= ~Q(loyalty_consent__marketing=True)
    return customers.filter(rules)


def _bought_products(segment: Segment):
    """The products (and their variants) in the segment's categories or brands, as a
    subquery: the catalogue is small next to the order lines, so it is picked first."""
    paths = [c.path for c in segment.categories.all()] if segment.pk else []
    names = segment.brand_list()
    if not paths and not names:
        return None
    q = Q(pk__in=[])
    for path in paths:
        q |= Q(categories__path__startswith=path) | Q(parent__categories__path__startswith=path)
    for brand in names:
        q |= Q(pk__in=brands.products_of_brand(brand).values("pk"))
    return Product.objects.filter(q).values("pk")


def count(segment: Segment, now: datetime | None = None) -> int:
    return members(segment, now).count()


def member_id_chunks(
    segment: Segment, chunk_size: int | None = None, now: datetime | None = None
) -> Iterator[list[int]]:
    """The members' ids in ascending chunks, one statement a chunk (keyset, no OFFSET)."""
    chunk_size = chunk_size or loyalty_settings.TASK_CHUNK_SIZE
    now = now or timezone.now()
    query = members(segment, now).order_by("pk").values_list("pk", flat=True)
    after = 0
    while True:
        ids = list(query.filter(pk__gt=after)[:chunk_size])
        if not ids:
            return
        yield ids
        after = ids[-1]


def is_member(segment: Segment, user, now: datetime | None = None) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        return False
    return members(segment, now, user_ids=[user.pk]).exists()


def basket_owner_in(segment: Segment, basket) -> bool:
    """Whether the basket's owner is in ``segment``: asked once per basket and segment
    (Oscar asks a condition several times while it applies offers)."""
    cache = basket.__dict__.setdefault("_loyalty_segments", {})
    if segment.pk not in cache:
        cache[segment.pk] = is_member(segment, basket.owner)
    return cache[segment.pk]


@transaction.atomic
def save_condition(segment: Segment) -> Condition:
    """The segment's offer condition ("customer is in segment X"), made once.

    A count condition of one item of the whole catalogue, so it is met by any
    basket of a member; Oscar's offer dashboard lists it among the custom
    conditions.
    """
    if segment.condition_id:
        return segment.condition
    everything, _created = Range.objects.get_or_create(
        name="All products (loyalty)", defaults={"includes_all_products": True}
    )
    condition = Condition.objects.create(
        range=everything, type=Condition.COUNT, value=1, proxy_class=SegmentCondition.path()
    )
    Segment.objects.filter(pk=segment.pk).update(condition=condition)
    segment.condition = condition
    return condition
