"""Spending points: at checkout, as a voucher off the basket, or on a reward.

Points become a personal single-use Oscar voucher (an ``OwnerCondition`` makes
it worth nothing in anyone else's basket), debited from the ledger in the same
transaction. Oscar then shows, records and reports the discount like any other
voucher. Unused checkout vouchers give their points back when removed from the
basket, when they expire, or when the order that used them is cancelled; each
redemption is restored at most once (key ``restore:redemption:<id>``).

A points voucher pays last, out of what the store's coupons and offers left,
within ``OSCAR_LOYALTY_MAX_BASKET_SHARE`` (``models.PointsBenefit``); when the
basket shrinks, ``fit_to_basket`` gives back what it can no longer pay.

A voucher an order used, or is using, is never given back unless that order
is cancelled. Every change of a redemption locks its voucher's row, then the
redemption's: the voucher row is the one Oscar's ``place_order`` locks first,
so an order and a restore of the same voucher queue up, and whichever comes
second sees what the first did (``use_in_order`` refuses the order if the
points went back first).
"""

import logging
from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.apps.basket.signals import voucher_addition
from oscar.core.loading import get_class, get_model

from . import keys, ledger, reasons, tiers
from .conf import loyalty_settings
from .coupons.codes import DEFAULT_LENGTH, random_characters
from .exceptions import RedemptionError
from .models import Account, LedgerEntry, OwnerCondition, PointsBenefit, Redemption, Reward

logger = logging.getLogger(__name__)
Basket = get_model("basket", "Basket")
Voucher = get_model("voucher", "Voucher")
ConditionalOffer = get_model("offer", "ConditionalOffer")
Range = get_model("offer", "Range")
Condition = get_model("offer", "Condition")
Benefit = get_model("offer", "Benefit")
OrderDiscount = get_model("order", "OrderDiscount")
UnableToPlaceOrder = get_class("order.exceptions", "UnableToPlaceOrder")

# Points vouchers' offers apply after every other offer (Oscar applies the
# highest priority first), so they pay what the store's coupons left.
POINTS_PRIORITY = -1_000_000

Status = Redemption.Status


def point_value(currency) -> Decimal | None:
    """What one point pays in ``currency``; None where points cannot be spent.

    ``POINT_VALUE`` is in the shop's default currency; other currencies need
    their own value in ``POINT_VALUE_BY_CURRENCY``, never the default's at face
    value (a point worth 1 yen must not pay 1 dollar).
    """
    values = loyalty_settings.POINT_VALUE_BY_CURRENCY
    if currency in values:
        return values[currency]
    if currency == settings.OSCAR_DEFAULT_CURRENCY:
        return loyalty_settings.POINT_VALUE
    return None


def points_value(points: int) -> Decimal:
    """What ``points`` are worth when spent, in the shop's default currency."""
    return points * point_value(settings.OSCAR_DEFAULT_CURRENCY)


def available_rewards(now=None) -> list[Reward]:
    """The rewards a customer can claim now, cheapest first."""
    now = now or timezone.now()
    return [reward for reward in Reward.objects.all() if reward.is_available(now)]


def spendable(user, basket) -> dict:
    """What this customer may spend on this basket: balance, its value, the limits.

    ``currency`` is the basket's; ``usable`` is False when points cannot be spent
    in it (the balance's value is then given in the shop's default currency).
    """
    account = Account.objects.filter(user=user).first() if user.is_authenticated else None
    balance = account.balance if account else 0
    currency = (basket.currency if basket.id else None) or settings.OSCAR_DEFAULT_CURRENCY
    value = point_value(currency)
    usable = value is not None
    if not usable:
        currency, value = settings.OSCAR_DEFAULT_CURRENCY, loyalty_settings.POINT_VALUE
    room = payable_by_points(basket_left(basket), value) if basket.id else Decimal(0)
    return {
        "balance": balance,
        "balance_value": balance * value,
        "currency": currency,
        "usable": usable,
        "min_points": loyalty_settings.MIN_POINTS_PER_USE,
        "max_points": min(balance, int(room / value)) if usable else 0,
        # What points could pay on this basket, whatever the balance.
        "room_points": int(room / value) if usable else 0,
        "room_value": room if usable else Decimal(0),
        "missing": max(0, loyalty_settings.MIN_POINTS_PER_USE - balance),
        "active": active_redemption(basket),
        "share": share_text(),
    }


def share_text() -> str:
    """The share of a basket points may pay, as a percentage: "50%"."""
    share = min(loyalty_settings.MAX_BASKET_SHARE, Decimal(1)) * 100
    return f"{share.normalize():f}%"


def points_left_on(line) -> Decimal:
    """What is left to pay on ``line`` after every discount except points."""
    price = line.unit_effective_price
    if price is None:
        return Decimal(0)
    others = sum((d.amount for d in line.discounts if not _is_points_offer(d.offer)), Decimal(0))
    return max(Decimal(0), price * line.quantity - others)


def basket_left(basket) -> Decimal:
    """What is left to pay on the basket's discountable lines, before points."""
    return sum(
        (points_left_on(line) for line in basket.all_lines() if line.product.is_discountable),
        Decimal(0),
    )


def payable_by_points(left, point) -> Decimal:
    """How much of ``left`` points worth ``point`` each may pay: the share, in whole points."""
    share = loyalty_settings.MAX_BASKET_SHARE
    cap = min(left * share, left)
    return (cap / point).to_integral_value(rounding=ROUND_FLOOR) * point


def _is_points_offer(offer) -> bool:
    return offer is not None and offer.benefit.proxy_class == PointsBenefit.path()


def active_redemption(basket):
    if not basket.id:
        return None
    return (
        Redemption.objects.filter(basket=basket, reward=None, status=Status.ACTIVE)
        .select_related("voucher")
        .first()
    )


def redeem_points(user, basket, points) -> Redemption:
    """Turn ``points`` into a voucher off ``basket``, debiting them at once."""
    if not user.is_authenticated:
        raise RedemptionError(_("Please sign in to use your points."))
    if isinstance(points, bool) or not isinstance(points, int):
        raise RedemptionError(_("Enter a whole number of points."))
    if not basket.id or basket.is_empty:
        raise RedemptionError(_("Your basket is empty."))
    point = point_value(basket.currency)
    if point is None:
        raise RedemptionError(
            _("Points cannot be used on a basket in %(currency)s.") % {"currency": basket.currency}
        )
    with transaction.atomic():
        # One points voucher per basket: two tabs on one basket queue up here.
        Basket.objects.select_for_update().filter(pk=basket.pk).first()
        if active_redemption(basket) is not None:
            raise RedemptionError(
                _("Your basket already has a points voucher. Remove it to use a different amount.")
            )
        limits = spendable(user, basket)
        if points < limits["min_points"]:
            raise RedemptionError(
                _("Use at least %(min)d points at a time.") % {"min": limits["min_points"]}
            )
        if points > limits["balance"]:
            raise RedemptionError(
                _("You have %(balance)d points.") % {"balance": limits["balance"]}
            )
        if points > limits["max_points"]:
            raise RedemptionError(
                _("You can use at most %(max)d points on this basket.")
                % {"max": limits["max_points"]}
            )
        value = points * point
        now = timezone.now()
        expires = now + timedelta(hours=loyalty_settings.REDEMPTION_LIFETIME_HOURS)
        redemption = Redemption.objects.create(
            account=ledger.get_account(user),
            points=points,
            value=value,
            basket=basket,
            expires_at=expires,
        )
        voucher = _personal_voucher(
            redemption,
            _points_name(points),
            "PTS",
            Benefit(proxy_class=PointsBenefit.path(), value=value, range=_all_products()),
            _all_products(),
            priority=POINTS_PRIORITY,
        )
        _spend(redemption, reasons.Reason(reasons.CHECKOUT))
        basket.vouchers.add(voucher)
        voucher_addition.send(sender=redeem_points, basket=basket, voucher=voucher)
    return redemption


def claim_reward(user, reward_id) -> Redemption:
    """Claim a reward: debit its cost, return the redemption with its personal code."""
    if not user.is_authenticated:
        raise RedemptionError(_("Please sign in to claim rewards."))
    with transaction.atomic():
        reward = Reward.objects.select_for_update().filter(pk=reward_id).first()
        if reward is None:
            raise RedemptionError(_("This reward does not exist."))
        now = timezone.now()
        if reward.stock is not None and reward.claimed >= reward.stock:
            raise RedemptionError(_("Sorry, this reward has run out."))
        if not reward.is_available(now):
            raise RedemptionError(_("This reward is not available now."))
        if not tiers.may_claim(user.pk, reward):
            raise RedemptionError(
                _("This reward is for customers in %(tier)s or above.")
                % {"tier": reward.min_tier.display_name}
            )
        benefit, condition_range = _reward_benefit(reward)
        expires = now + timedelta(days=reward.code_valid_days)
        if reward.ends_at:
            expires = max(min(expires, reward.ends_at), now + timedelta(days=1))
        redemption = Redemption.objects.create(
            account=ledger.get_account(user),
            points=reward.cost,
            value=reward.value or Decimal(0),
            reward=reward,
            expires_at=expires,
        )
        _personal_voucher(redemption, reward.name, "RWD", benefit, condition_range)
        _spend(redemption, reasons.reward(reward.pk, reward.name))
        reward.claimed += 1
        reward.save(update_fields=["claimed"])
    return redemption


def voucher_removed(voucher) -> None:
    """A voucher was taken out of a basket: if it was a points voucher, its points come back."""
    active = Redemption.objects.filter(
        voucher=voucher, reward=None, status=Status.ACTIVE
    ).values_list("pk", flat=True)
    for pk in active:
        try:
            restore(pk, reasons.Reason(reasons.VOUCHER_REMOVED))
        except Exception:
            logger.exception("oscar_loyalty: restoring redemption %s failed", pk)


def restore(redemption_id, reason=None) -> LedgerEntry | None:
    """Give back the points of a redemption no order used, once.

    Refused (None) if an order used the voucher or a checkout is placing one
    with it: its basket is frozen while the voucher is still valid.
    """
    with transaction.atomic():
        redemption = _lock(redemption_id)
        if redemption is None or redemption.status != Status.ACTIVE or _in_use(redemption):
            return None
        return _give_back(redemption, reason or reasons.Reason(reasons.POINTS_RETURNED))


def restore_for_cancelled(order) -> None:
    """The order was cancelled: the points vouchers it used give their points back."""
    for pk in Redemption.objects.filter(order=order, status=Status.USED).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            redemption = _lock(pk)
            if redemption.status == Status.USED and redemption.order_id == order.pk:
                _give_back(
                    redemption,
                    reasons.order(order.number, reasons.ORDER_CANCELLED),
                )


def use_in_order(order, voucher_id) -> None:
    """An order being placed records a discount from this voucher: it is used.

    Runs inside Oscar's ``place_order`` transaction (an ``OrderDiscount`` was
    saved), so the voucher is used for good when the order commits. If its
    points went back a moment ago (the customer removed it in another tab
    after the checkout priced the basket), the order is refused with a
    message: Oscar shows it on the preview page, thaws the basket and prices
    it again.
    """
    pk = Redemption.objects.filter(voucher_id=voucher_id).values_list("pk", flat=True).first()
    if pk is None:
        return
    redemption = _lock(pk)
    if redemption.status == Status.RESTORED or redemption.order_id not in (None, order.pk):
        raise UnableToPlaceOrder(
            _(
                "Your points voucher was taken out of your basket while you were checking "
                "out, and its points are back in your account. Please check your basket's "
                "total and place the order again."
            )
        )
    if redemption.status == Status.ACTIVE:
        redemption.status = Status.USED
        redemption.order = order
        redemption.save(update_fields=["status", "order"])


def restore_unused_voucher(voucher) -> bool:
    """Give back the points of a points voucher that gives its basket nothing."""
    pk = (
        Redemption.objects.filter(voucher=voucher, reward=None, status=Status.ACTIVE)
        .values_list("pk", flat=True)
        .first()
    )
    return pk is not None and restore(pk, reasons.Reason(reasons.VOUCHER_UNUSED)) is not None


def mark_used(order) -> int:
    """The order used personal vouchers: they are spent for good.

    ``use_in_order`` does this as the order is placed; this catches orders
    placed before it existed, or by code that records no discounts.
    """
    return Redemption.objects.filter(
        voucher__applications__order=order, status=Status.ACTIVE
    ).update(status=Status.USED, order=order)


def fit_to_basket(basket) -> tuple[Redemption, int] | None:
    """Shrink the basket's points voucher to what points may pay now.

    The basket changed (a line removed, a quantity lowered, a coupon added)
    and its points voucher would pay more than the share points may pay: the
    voucher keeps what fits and the rest of its points go back to the
    customer. Returns the redemption and the points given back, or None.
    """
    active = active_redemption(basket)
    if active is None:
        return None
    point = point_value(basket.currency)  # None: points cannot pay in this currency
    room = payable_by_points(basket_left(basket), point) if point else Decimal(0)
    keep = min(active.points, int(room / point)) if point else 0
    if keep == active.points:
        return None
    with transaction.atomic():
        redemption = _lock(active.pk)
        if redemption.status != Status.ACTIVE or _in_use(redemption):
            return None
        if keep >= redemption.points:  # another request fitted it meanwhile
            return None
        reason = reasons.Reason(reasons.BASKET_CHANGED)
        if keep == 0:
            given = redemption.points
            _give_back(redemption, reason)
            return redemption, given
        given = redemption.points - keep
        spent = LedgerEntry.objects.get(idempotency_key=keys.redemption_spend(redemption.pk))
        key = keys.redemption_restore_to(redemption.pk, keep)
        ledger.restore(spent, key=key, reason=reason, points=given)
        value = (redemption.value * keep / redemption.points).quantize(
            Decimal("0.01"), rounding=ROUND_DOWN
        )
        redemption.points, redemption.value = keep, value
        redemption.save(update_fields=["points", "value"])
        name = f"{_points_name(keep)} #{redemption.pk}"[:128]
        Voucher.objects.filter(pk=redemption.voucher_id).update(name=name)
        offers = ConditionalOffer.objects.filter(vouchers=redemption.voucher_id)
        Benefit.objects.filter(offers__in=offers).update(value=value)
        offers.update(name=name)
    return redemption, given


def expire_unused(now=None) -> int:
    """Give back the points of checkout vouchers left unused past their time."""
    now = now or timezone.now()
    # An order that used the voucher may not have been processed yet (a queued task).
    due = (
        Redemption.objects.filter(status=Status.ACTIVE, reward=None, expires_at__lte=now)
        .exclude(voucher__applications__isnull=False)
        .values_list("pk", flat=True)
    )
    return sum(1 for pk in list(due) if restore(pk, reasons.Reason(reasons.VOUCHER_EXPIRED)))


def _lock(redemption_id) -> Redemption | None:
    """Lock the redemption's voucher row, then the redemption (see the module's docstring)."""
    voucher_id = Redemption.objects.filter(pk=redemption_id).values("voucher_id")
    list(Voucher.objects.select_for_update().filter(pk__in=voucher_id).values_list("pk"))
    rows = Redemption.objects.filter(pk=redemption_id)
    if connection.features.has_select_for_update_of:
        return rows.select_for_update(of=("self",)).select_related("basket").first()
    # MariaDB has no FOR UPDATE OF: lock this row alone, and read its basket when asked.
    return rows.select_for_update().first()


def _in_use(redemption) -> bool:
    """An order recorded a discount from the voucher, or a checkout is placing one."""
    if not redemption.voucher_id:
        return False
    if OrderDiscount.objects.filter(voucher_id=redemption.voucher_id).exists():
        return True
    basket = redemption.basket
    return (
        basket is not None
        and basket.status == Basket.FROZEN
        and Voucher.objects.filter(
            pk=redemption.voucher_id, end_datetime__gt=timezone.now()
        ).exists()
    )


def _give_back(redemption, reason) -> LedgerEntry:
    spent = LedgerEntry.objects.get(idempotency_key=keys.redemption_spend(redemption.pk))
    entry = ledger.restore(spent, key=keys.redemption_restore(redemption.pk), reason=reason)
    redemption.status = Status.RESTORED
    redemption.save(update_fields=["status"])
    if redemption.voucher_id:
        Voucher.objects.filter(pk=redemption.voucher_id).update(end_datetime=timezone.now())
        Basket.vouchers.through.objects.filter(voucher_id=redemption.voucher_id).delete()
    return entry


def _points_name(points) -> str:
    return _("%(points)d points") % {"points": points}


def _spend(redemption, reason):
    try:
        ledger.spend(
            redemption.account,
            redemption.points,
            key=keys.redemption_spend(redemption.pk),
            reason=reason,
            voucher=redemption.voucher,
        )
    except ledger.InsufficientPoints as exc:
        raise RedemptionError(
            _("You have %(balance)d points: not enough for this.") % {"balance": exc.available}
        ) from None


def _all_products():
    range_, _created = Range.objects.get_or_create(
        name="All products (loyalty)", defaults={"includes_all_products": True}
    )
    return range_


def _reward_benefit(reward):
    if reward.kind == Reward.Kind.DISCOUNT:
        return Benefit(type=Benefit.FIXED, value=reward.value, range=_all_products()), (
            _all_products()
        )
    if reward.kind == Reward.Kind.FREE_SHIPPING:
        return Benefit(type=Benefit.SHIPPING_PERCENTAGE, value=Decimal(100)), _all_products()
    range_, created = Range.objects.get_or_create(
        name=f"Reward product {reward.product_id} (loyalty)"[:128]
    )
    if created:
        range_.add_product(reward.product)
    benefit = Benefit(
        type=Benefit.PERCENTAGE, value=Decimal(100), range=range_, max_affected_items=1
    )
    return benefit, range_


def _personal_voucher(redemption, name, prefix, benefit, condition_range, priority=0) -> Voucher:
    """The redemption's voucher, valid from now until the redemption expires."""
    code = f"{prefix}-" + random_characters(DEFAULT_LENGTH)  # as hard to guess as other codes
    start, end = redemption.created_at, redemption.expires_at
    name = f"{name} #{redemption.pk}"  # Oscar wants offer and voucher names unique
    benefit.save()
    condition = Condition.objects.create(
        proxy_class=OwnerCondition.path(),
        type=Condition.COUNT,
        value=1,
        range=condition_range,
    )
    offer = ConditionalOffer.objects.create(
        name=name[:128],
        offer_type=ConditionalOffer.VOUCHER,
        condition=condition,
        benefit=benefit,
        max_global_applications=1,
        priority=priority,
        start_datetime=start,
        end_datetime=end,
    )
    voucher = Voucher.objects.create(
        name=name[:128],
        code=code,
        usage=Voucher.SINGLE_USE,
        start_datetime=start,
        end_datetime=end,
    )
    voucher.offers.add(offer)
    redemption.voucher = voucher
    redemption.save(update_fields=["voucher"])
    return voucher
