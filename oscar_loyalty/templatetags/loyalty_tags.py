from django import template

from ..conf import loyalty_settings

register = template.Library()


@register.filter
def points(value):
    """``120`` -> "120 points", in the shop's own name for points."""
    singular, plural = loyalty_settings.POINTS_NAME
    return f"{value} {singular if abs(value) == 1 else plural}"
