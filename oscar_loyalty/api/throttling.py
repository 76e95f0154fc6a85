"""Request rates from ``OSCAR_LOYALTY_API_THROTTLE_RATES``, not the store's REST_FRAMEWORK.

Customers and staff are counted per user, token requests per client address
(they come before anyone is signed in). Counts live in Django's default cache.
"""

from rest_framework.throttling import SimpleRateThrottle

from ..conf import loyalty_settings


class LoyaltyThrottle(SimpleRateThrottle):
    def get_rate(self):
        return loyalty_settings.API_THROTTLE_RATES[self.scope]

    def get_cache_key(self, request, view):
        user = request.user
        ident = user.pk if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class CustomerThrottle(LoyaltyThrottle):
    scope = "customer"


class StaffThrottle(LoyaltyThrottle):
    scope = "staff"


class TokenThrottle(LoyaltyThrottle):
    scope = "token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
