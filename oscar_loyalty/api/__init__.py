"""The REST API for the customer's app and the shop's till (``oscar-loyalty[api]``).

A store turns it on with one line in its settings::

    from oscar_loyalty.api import LOYALTY_API_APPS
    INSTALLED_APPS += LOYALTY_API_APPS

and ``oscar_loyalty.urls`` then serves it under ``api/loyalty/``. Only this
package imports Django REST framework, and nothing outside it imports this
package (this module imports nothing): a store without the extra never loads
it. The views are thin: the rules are the plugin's service functions.
"""

LOYALTY_API_APPS = [
    "oscar_loyalty.api.apps.LoyaltyApiConfig",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
]
