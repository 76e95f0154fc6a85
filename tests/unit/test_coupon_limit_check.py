"""The start-up check of the coupon guessing limit: a per-process cache or a missing middleware."""

import pytest
from django.conf import settings
from django.test import override_settings

from oscar_loyalty.checks import check_coupon_guessing_limit

REDIS = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x:6379"}
LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
DUMMY = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}


def ids(messages):
    return [m.id for m in messages]


def test_a_shared_cache_and_the_middleware_pass():
    with override_settings(CACHES={"default": REDIS}):
        assert check_coupon_guessing_limit() == []


@pytest.mark.parametrize("backend", [LOCMEM, DUMMY])
def test_a_per_process_cache_is_warned_about(backend):
    with override_settings(CACHES={"default": backend}):
        warnings = check_coupon_guessing_limit()
    assert ids(warnings) == ["oscar_loyalty.W101"]
    assert "shared cache" in warnings[0].msg


def test_the_cache_named_by_ratelimit_use_cache_is_the_one_checked():
    caches = {"default": REDIS, "limits": LOCMEM}
    with override_settings(CACHES=caches, RATELIMIT_USE_CACHE="limits"):
        assert ids(check_coupon_guessing_limit()) == ["oscar_loyalty.W101"]
    with override_settings(
        CACHES={"default": LOCMEM, "limits": REDIS}, RATELIMIT_USE_CACHE="limits"
    ):
        assert check_coupon_guessing_limit() == []


def test_a_missing_middleware_is_an_error():
    middleware = [m for m in settings.MIDDLEWARE if "CouponLimitMiddleware" not in m]
    with override_settings(CACHES={"default": REDIS}, MIDDLEWARE=middleware):
        errors = check_coupon_guessing_limit()
    assert ids(errors) == ["oscar_loyalty.E101"]
    assert "oscar_loyalty.middleware.CouponLimitMiddleware" in errors[0].hint


@pytest.mark.parametrize(
    "name,value",
    [
        ("CLIENT_IP_HEADER", "X-Forwarded-For"),
        ("CLIENT_IP_HEADER", 1),
        ("COUPON_MAX_FAILURES_PER_ADDRESS", 0),
    ],
)
def test_bad_limit_settings_are_errors(name, value):
    with override_settings(CACHES={"default": REDIS}, **{f"OSCAR_LOYALTY_{name}": value}):
        errors = check_coupon_guessing_limit()
    assert len(errors) == 1 and f"OSCAR_LOYALTY_{name}" in errors[0].msg
