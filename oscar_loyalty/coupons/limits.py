"""The limit on guessing coupon codes: who is counted, and how many wrong codes they may try.

Wrong codes are counted by django-ratelimit in Django's cache (the one named by
``RATELIMIT_USE_CACHE``, default ``"default"``), in windows of
``OSCAR_LOYALTY_COUPON_FAILURE_WINDOW`` seconds, under two kinds of key:

* the visitor: a signed-in customer by their id (whatever their session or
  address), an anonymous one by their basket and by their session, each up to
  ``OSCAR_LOYALTY_COUPON_MAX_FAILURES``, so a basket cannot escape by changing
  address;
* the client address (IPv6 by its /64, which one subscriber usually holds
  whole), up to ``OSCAR_LOYALTY_COUPON_MAX_FAILURES_PER_ADDRESS``: the limit for
  a guesser who throws cookies away. It is higher, since many customers share
  an office's or a carrier's address, and customers with a good history (signed
  in, with an order) are not held to it, so strangers cannot lock them out.

Only the coupon view calls this module; every route that adds a voucher to a
basket goes through that view (see ``middleware.CouponLimitMiddleware``).
"""

import ipaddress

from django_ratelimit.core import get_usage
from oscar.core.loading import get_model

from ..conf import loyalty_settings

Order = get_model("order", "Order")

GROUP = "oscar_loyalty.coupon"


def client_address(request) -> str:
    """The address the limit counts: an IPv4 address, or an IPv6 /64 network.

    From ``OSCAR_LOYALTY_CLIENT_IP_HEADER`` if set (its last address, the one
    the proxy appended), else from ``REMOTE_ADDR``.
    """
    candidates = []
    header = loyalty_settings.CLIENT_IP_HEADER
    if header:
        candidates.append(request.META.get(header, "").split(",")[-1].strip())
    candidates.append(request.META.get("REMOTE_ADDR", ""))
    for candidate in candidates:
        try:
            ip = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if ip.version == 6 and ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        if ip.version == 6:
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)
    return "unknown"


def _visitor_keys(request) -> list[str]:
    user = request.user
    if user.is_authenticated:
        return [f"customer:{user.pk}"]
    keys = []
    basket = getattr(request, "basket", None)
    if basket is not None and basket.id:
        keys.append(f"basket:{basket.id}")
    if request.session.session_key:
        keys.append(f"session:{request.session.session_key}")
    return keys


def _usage(request, key, limit, increment=False) -> dict:
    rate = f"{limit}/{loyalty_settings.COUPON_FAILURE_WINDOW}s"
    return get_usage(
        request, group=GROUP, key=lambda _group, _request: key, rate=rate, increment=increment
    )


def _counts(request):
    """(key, limit) for every count this request adds to."""
    per_visitor = loyalty_settings.COUPON_MAX_FAILURES
    counts = [(key, per_visitor) for key in _visitor_keys(request)]
    counts.append(
        (f"address:{client_address(request)}", loyalty_settings.COUPON_MAX_FAILURES_PER_ADDRESS)
    )
    return counts


def has_good_history(user) -> bool:
    """A signed-in customer who has placed an order: strangers' guesses do not block them."""
    return user.is_authenticated and Order._default_manager.filter(user=user).exists()


def is_throttled(request) -> bool:
    """Whether the visitor, or (unless they have a good history) their address, is at its limit."""
    for key, limit in _counts(request):
        usage = _usage(request, key, limit)
        if usage is None or usage["count"] < usage["limit"]:
            continue
        if key.startswith("address:") and has_good_history(request.user):
            continue
        return True
    return False


def record_failure(request) -> None:
    """Count one wrong code against the visitor and their address."""
    for key, limit in _counts(request):
        _usage(request, key, limit, increment=True)
