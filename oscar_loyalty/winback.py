"""Win-back: a personal single-use coupon, by email, for customers at risk.

At risk as the figures page says (``kpis.at_risk``: one and only order more
than N days old). Each enabled ``WinBackCampaign`` sends each such customer
one coupon, only with their marketing consent (the email is marketing, with
its unsubscribe link; ``notifications.send`` checks consent again), once per
customer and campaign (``WinBackCoupon`` is unique per pair; the email is
claimed once under ``keys.winback_email``). A daily job sends them.

``results`` tells the merchant how many came back (ordered after their
coupon was sent) and what they spent. This module never changes points.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, DecimalField, Exists, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from oscar.core.loading import get_model
from oscar.templatetags.currency_filters import currency

from . import keys, kpis, notifications, segments
from .coupons.codes import DEFAULT_LENGTH, random_characters
from .coupons.creation import FIXED, PERCENTAGE, CouponSpec, save_coupon
from .models import WinBackCampaign, WinBackCoupon

logger = logging.getLogger(__name__)
Voucher = get_model("voucher", "Voucher")


def recipients(campaign: WinBackCampaign, now: datetime | None = None):
    """Customers at risk, who agreed to marketing emails, and have no coupon of this campaign."""
    now = now or timezone.now()
    found = (
        get_user_model()
        .objects.filter(pk__in=kpis.at_risk_user_ids(campaign.days, now))
        .filter(loyalty_consent__marketing=True)
        .exclude(email="")
        .exclude(Exists(WinBackCoupon.objects.filter(campaign=campaign, user=OuterRef("pk"))))
    )
    if campaign.segment_id:
        found = found.filter(pk__in=segments.members(campaign.segment, now).values("pk"))
    return found


def send_campaign(campaign: WinBackCampaign, now: datetime | None = None) -> int:
    """Send the campaign's coupons to whoever is due one; how many emails went."""
    now = now or timezone.now()
    if not campaign.enabled or not notifications.email_setting("winback")["send"]:
        return 0
    User = recipients(campaign, now).model
    sent, after = 0, 0
    while True:
        ids = list(
            recipients(campaign, now)
            .filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[: notifications.BATCH_SIZE]
        )
        if not ids:
            return sent
        for user in User.objects.filter(pk__in=ids).order_by("pk"):
            sent += send_one(campaign, user, now)
        after = ids[-1]


def send_one(campaign: WinBackCampaign, user, now: datetime) -> bool:
    """One customer's coupon and email. If the email fails the coupon is taken back, so
    the next run tries again; a coupon claimed by another run is skipped."""
    try:
        with transaction.atomic():
            claim = WinBackCoupon.objects.create(campaign=campaign, user=user, sent_at=now)
            claim.voucher = save_coupon(
                CouponSpec(
                    name=f"Win-back {campaign.pk} {user.pk}",
                    code="BACK-" + random_characters(DEFAULT_LENGTH),
                    kind=FIXED if campaign.kind == WinBackCampaign.Kind.FIXED else PERCENTAGE,
                    value=campaign.value,
                    start=now,
                    end=now + timedelta(days=campaign.valid_days),
                    usage=Voucher.SINGLE_USE,
                    personal=True,
                )
            )
            claim.save(update_fields=["voucher"])
    except IntegrityError:
        return False
    voucher = claim.voucher
    context = {
        "code": voucher.code,
        "end": voucher.end_datetime,
        "discount": (
            currency(campaign.value)
            if campaign.kind == WinBackCampaign.Kind.FIXED
            else f"{campaign.value.normalize()}%"
        ),
    }
    try:
        went = notifications.send(user, "winback", keys.winback_email(campaign.pk), context)
    except Exception:
        with transaction.atomic():
            claim.delete()
            voucher.delete()
        raise
    return went


def send_all(now: datetime | None = None) -> int:
    """The daily job: every enabled campaign. A campaign that fails is logged, the others go."""
    sent = 0
    for campaign in WinBackCampaign.objects.filter(enabled=True).order_by("pk"):
        try:
            sent += send_campaign(campaign, now)
        except Exception:
            logger.exception("oscar_loyalty: win-back campaign %s failed", campaign.pk)
    return sent


def results(campaigns) -> dict[int, dict]:
    """By campaign id: coupons sent, customers who came back (ordered after their
    coupon was sent, not cancelled), what those orders total, and coupons used. One query."""
    orders = segments.counted_orders().filter(
        user_id=OuterRef("user_id"), date_placed__gt=OuterRef("sent_at")
    )
    spent = Subquery(
        orders.order_by().values("user_id").annotate(total=Sum("total_incl_tax")).values("total"),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )
    rows = (
        WinBackCoupon.objects.filter(campaign__in=campaigns)
        .annotate(came_back=Exists(orders), spent=spent)
        .order_by()
        .values("campaign_id")
        .annotate(
            sent=Count("pk"),
            returned=Count("pk", filter=Q(came_back=True)),
            revenue=Coalesce(Sum("spent"), 0, output_field=DecimalField()),
            used=Count("pk", filter=Q(voucher__num_orders__gt=0)),
        )
    )
    empty = {"sent": 0, "returned": 0, "revenue": 0, "used": 0}
    found = {row.pop("campaign_id"): row for row in rows}
    return {c.pk: found.get(c.pk, empty) for c in campaigns}
