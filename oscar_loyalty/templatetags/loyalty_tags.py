from django import template

from ..conf import loyalty_settings

register = template.Library()


@register.filter
def points(value):
    """``120`` -> "120 points", in the shop's own name for points."""
    singular, plural = loyalty_settings.POINTS_NAME
    return f"{value} {singular if abs(value) == 1 else plural}"


@register.simple_tag
def loyalty_hooks() -> bool:
    """Whether our blocks in Oscar's templates show (``OSCAR_LOYALTY_HOOKS``): when
    not, each renders Oscar's own block."""
    return bool(loyalty_settings.HOOKS)


@register.simple_tag
def order_points(order):
    """The pending award ``order`` earns (points, matures_at), or None."""
    from ..awards import order_points
    from ..shopping import quietly

    return quietly(order_points)(order) if order is not None else None


@register.simple_tag
def coupon_exclusions(basket):
    """[(line, code, brand)] for the basket's lines its coupons do not discount."""
    from ..coupons.applying import excluded_lines

    if basket is None or not getattr(basket, "id", None):
        return []
    return excluded_lines(basket)


@register.simple_tag
def points_to_spend(basket, user):
    """Balance, value and limits for the basket's "use points" form (None for guests)."""
    from ..redemption import spendable

    if basket is None or not getattr(user, "is_authenticated", False):
        return None
    return spendable(user, basket)


@register.simple_tag(takes_context=True)
def product_earning(context, product):
    """What ``product`` earns this visitor (see ``shopping.product_earning``), or None."""
    from ..shopping import product_earning

    return product_earning(context.get("request"), product)


@register.simple_tag(takes_context=True)
def basket_earning(context, basket):
    """What ``basket`` earns as it stands, or None."""
    from ..shopping import basket_earning

    return basket_earning(context.get("request"), basket)


@register.simple_tag
def voucher_labels(basket):
    """{voucher id: "Points (10)" or "Reward: ..."} for the basket's own vouchers."""
    from ..shopping import voucher_labels

    return voucher_labels(basket) or {}


@register.filter
def get_item(mapping, key):
    """``mapping[key]`` in a template, or None."""
    return mapping.get(key) if mapping else None


@register.simple_tag(takes_context=True)
def referral_invitation(context):
    """Who invited this visitor and their gift, from the referral cookie, or None."""
    from ..shopping import invitation

    return invitation(context.get("request"))


@register.simple_tag
def welcome_gift(user):
    """The referred customer's welcome coupon, or None."""
    from ..shopping import welcome_gift

    return welcome_gift(user)
