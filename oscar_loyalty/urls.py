"""The storefront pages, in the ``oscar_loyalty`` namespace, and the REST API (when
``oscar_loyalty.api`` is installed) under ``api/loyalty/`` in ``loyalty-api``::

    path("", include("oscar_loyalty.urls"))

The dashboard pages (``loyalty-dashboard`` namespace) go under the store's own
dashboard path, wherever it is mounted::

    path("dashboard/loyalty/", apps.get_app_config("oscar_loyalty_dashboard").urls)
"""

from django.apps import apps
from django.urls import include, path

urlpatterns = [path("", apps.get_app_config("oscar_loyalty").urls)]

if apps.is_installed("oscar_loyalty.api"):
    urlpatterns.append(path("api/loyalty/", include("oscar_loyalty.api.urls")))
