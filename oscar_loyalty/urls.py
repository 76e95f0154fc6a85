"""Everything the plugin serves: ``path("", include("oscar_loyalty.urls"))``.

The storefront pages are in the ``oscar_loyalty`` namespace, the dashboard
pages (when ``oscar_loyalty.dashboard`` is installed) in ``loyalty-dashboard``,
the REST API (when ``oscar_loyalty.api`` is installed) under ``api/loyalty/``
in ``loyalty-api``.
"""

from django.apps import apps
from django.urls import include, path

urlpatterns = [path("", apps.get_app_config("oscar_loyalty").urls)]

if apps.is_installed("oscar_loyalty.dashboard"):
    urlpatterns.append(
        path("dashboard/loyalty/", apps.get_app_config("oscar_loyalty_dashboard").urls)
    )

if apps.is_installed("oscar_loyalty.api"):
    urlpatterns.append(path("api/loyalty/", include("oscar_loyalty.api.urls")))
