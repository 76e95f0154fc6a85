"""System checks: refuse bad loyalty settings at start-up, not at checkout."""

import re
from decimal import Decimal

from django.conf import settings
from django.core import checks
from django.core.checks import Error, register

from .conf import EXPIRY_POLICIES, PREFIX, RULES, get_rule, loyalty_settings

API_THROTTLE_SCOPES = ("customer", "staff", "token")
# What Django REST framework's throttles read: requests per second, minute, hour or day.
THROTTLE_RATE = re.compile(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)")


def _error(name, message, n):
    return Error(f"{PREFIX}{name}: {message}", id=f"oscar_loyalty.E{n:03d}")


@register()
def check_settings(app_configs=None, **kwargs):
    errors = []
    s = loyalty_settings
    for n, name in enumerate(("POINTS_PER_UNIT", "POINT_VALUE"), start=1):
        value = getattr(s, name)
        if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
            errors.append(_error(name, f"must be a positive Decimal, got {value!r}.", n))
    for n, name in enumerate(("RETURN_WINDOW_DAYS", "EXPIRY_MONTHS"), start=3):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(_error(name, f"must be a whole number of at least 1, got {value!r}.", n))
    if s.EXPIRY_POLICY not in EXPIRY_POLICIES:
        errors.append(
            _error(
                "EXPIRY_POLICY", f"must be one of {EXPIRY_POLICIES}, got {s.EXPIRY_POLICY!r}.", 5
            )
        )
    rates = s.POINTS_PER_UNIT_BY_CURRENCY
    if not isinstance(rates, dict) or not all(
        isinstance(v, Decimal) and v.is_finite() and v >= 0 for v in rates.values()
    ):
        errors.append(
            _error(
                "POINTS_PER_UNIT_BY_CURRENCY",
                f"must map currency codes to Decimal rates of 0 or more, got {rates!r}.",
                7,
            )
        )
    chunk = s.TASK_CHUNK_SIZE
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= 100_000:
        errors.append(
            _error("TASK_CHUNK_SIZE", f"must be a whole number from 1 to 100000, got {chunk!r}.", 8)
        )
    for n, name in enumerate(
        ("CANCELLED_ORDER_STATUSES", "REFUNDED_LINE_STATUSES", "REFUND_EVENT_TYPES"), start=9
    ):
        value = getattr(s, name)
        if not isinstance(value, tuple | list) or not all(isinstance(v, str) for v in value):
            errors.append(_error(name, f"must be a list of names, got {value!r}.", n))
    for rule, n in zip(RULES, (12, 19), strict=True):
        try:
            get_rule(rule)
        except Exception as exc:
            errors.append(_error(rule, f"cannot be loaded: {exc}", n))
    for n, name in enumerate(("COUPON_MAX_FAILURES", "COUPON_FAILURE_WINDOW"), start=13):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(_error(name, f"must be a whole number of at least 1, got {value!r}.", n))
    if not s.BRAND_CATEGORY and not s.BRAND_ATTRIBUTE:
        errors.append(_error("BRAND_ATTRIBUTE", "or BRAND_CATEGORY must be set.", 15))
    value = s.MIN_POINTS_PER_USE
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        errors.append(_error("MIN_POINTS_PER_USE", f"must be at least 1, got {value!r}.", 16))
    share = s.MAX_BASKET_SHARE
    if not isinstance(share, Decimal) or not share.is_finite() or not 0 < share <= 1:
        errors.append(
            _error("MAX_BASKET_SHARE", f"must be a Decimal above 0, at most 1, got {share!r}.", 17)
        )
    hours = s.REDEMPTION_LIFETIME_HOURS
    if isinstance(hours, bool) or not isinstance(hours, int) or hours < 1:
        errors.append(
            _error("REDEMPTION_LIFETIME_HOURS", f"must be at least 1, got {hours!r}.", 18)
        )
    minutes = s.CARD_CODE_MINUTES
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 1440:
        errors.append(
            _error(
                "CARD_CODE_MINUTES", f"must be a whole number from 1 to 1440, got {minutes!r}.", 40
            )
        )
    rates = s.API_THROTTLE_RATES
    if not (
        isinstance(rates, dict)
        and set(rates) == set(API_THROTTLE_SCOPES)
        and all(isinstance(r, str) and THROTTLE_RATE.fullmatch(r) for r in rates.values())
    ):
        errors.append(
            _error(
                "API_THROTTLE_RATES",
                f"must give a rate such as '120/minute' for each of {API_THROTTLE_SCOPES}, "
                f"got {rates!r}.",
                41,
            )
        )
    for n, name in enumerate(("RECONCILE_AFTER_MINUTES", "RECONCILE_DAYS"), start=19):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(_error(name, f"must be a whole number of at least 1, got {value!r}.", n))
    timeout = s.QUEUE_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 30:
        errors.append(
            _error(
                "QUEUE_TIMEOUT",
                f"must be a number of seconds above 0, at most 30, got {timeout!r}.",
                21,
            )
        )
    name = s.POINTS_NAME
    if not (isinstance(name, tuple | list) and len(name) == 2 and all(name)):
        errors.append(_error("POINTS_NAME", f"must be a (singular, plural) pair, got {name!r}.", 6))
    return errors


PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
COUPON_LIMIT_MIDDLEWARE = "oscar_loyalty.middleware.CouponLimitMiddleware"


@register()
def check_coupon_guessing_limit(app_configs=None, **kwargs):
    """The limit on guessing coupon codes: its settings, middleware and cache."""
    messages = []
    s = loyalty_settings
    value = s.COUPON_MAX_FAILURES_PER_ADDRESS
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        messages.append(
            _error(
                "COUPON_MAX_FAILURES_PER_ADDRESS",
                f"must be a whole number of at least 1, got {value!r}.",
                102,
            )
        )
    header = s.CLIENT_IP_HEADER
    if header is not None and not (isinstance(header, str) and header.isupper()):
        messages.append(
            _error(
                "CLIENT_IP_HEADER",
                f"must be None or a request.META key such as 'HTTP_X_FORWARDED_FOR', "
                f"got {header!r}.",
                103,
            )
        )
    if COUPON_LIMIT_MIDDLEWARE not in settings.MIDDLEWARE:
        messages.append(
            Error(
                "Oscar's own voucher view (basket:vouchers-add) is not limited: coupon codes "
                "can be guessed through it.",
                hint=f"Add {COUPON_LIMIT_MIDDLEWARE!r} to MIDDLEWARE, after Oscar's "
                "BasketMiddleware.",
                id="oscar_loyalty.E101",
            )
        )
    alias = getattr(settings, "RATELIMIT_USE_CACHE", "default")
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if backend in PER_PROCESS_CACHES:
        messages.append(
            checks.Warning(
                f"The coupon guessing limit counts in the {alias!r} cache, which is not a "
                "shared cache: each web process counts for itself (or, with DummyCache, not "
                "at all), so the limit does not hold.",
                hint="Use a shared cache (Redis, Memcached) in production; RATELIMIT_USE_CACHE "
                "names the cache the limit uses.",
                id="oscar_loyalty.W101",
            )
        )
    return messages


@register()
def check_referral_reward_affordable(app_configs=None, **kwargs):
    """Warn when one referral pays the referrer more than the friend's order must spend.

    A reward worth more than the minimum order is a loss on every referral,
    and an invitation to refer oneself through a second account.
    """
    s = loyalty_settings
    points, value, minimum = s.REFERRAL_POINTS, s.POINT_VALUE, s.REFERRAL_MIN_ORDER
    if not all(isinstance(v, int | Decimal) and not isinstance(v, bool) for v in (points, value)):
        return []  # check_settings reports a bad POINT_VALUE
    if not isinstance(minimum, Decimal):
        return []
    worth = points * value
    if worth <= minimum:
        return []
    return [
        checks.Warning(
            f"{PREFIX}REFERRAL_POINTS: one referral pays {worth} ({points} points at "
            f"{value} each), more than the {minimum} order it needs "
            f"({PREFIX}REFERRAL_MIN_ORDER).",
            hint=f"Pay a fraction of the minimum order, e.g. {PREFIX}REFERRAL_POINTS = "
            f"{int(minimum / value / 10) or 1} with a {minimum} minimum.",
            id="oscar_loyalty.W201",
        )
    ]


@register()
def check_point_values_by_currency(app_configs=None, **kwargs):
    """Each currency's point value is a positive Decimal in whole cents, like POINT_VALUE."""
    values = loyalty_settings.POINT_VALUE_BY_CURRENCY
    if isinstance(values, dict) and all(
        isinstance(v, Decimal) and v.is_finite() and v > 0 and v == v.quantize(Decimal("0.01"))
        for v in values.values()
    ):
        return []
    return [
        Error(
            f"{PREFIX}POINT_VALUE_BY_CURRENCY: must map currency codes to positive Decimal "
            f"amounts with at most 2 decimal places, got {values!r}.",
            id="oscar_loyalty.E201",
        )
    ]
