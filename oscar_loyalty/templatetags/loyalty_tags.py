from django import template

from ..conf import loyalty_settings

register = template.Library()


@register.filter
def points(value):
    """``120`` -> "120 points", in the shop's own name for points."""
    singular, plural = loyalty_settings.POINTS_NAME
    return f"{value} {singular if abs(value) == 1 else plural}"


@register.simple_tag
def coupon_exclusions(basket):
    """[(line, code, brand)] for the basket's lines its coupons do not discount."""
    from ..coupons.applying import excluded_lines

    if basket is None or not getattr(basket, "id", None):
        return []
    return excluded_lines(basket)
