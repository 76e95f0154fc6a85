"""Everything the plugin serves: ``path("", include("oscar_loyalty.urls"))``.

The storefront pages are in the ``oscar_loyalty`` namespace, the dashboard
pages (when ``oscar_loyalty.dashboard`` is installed) in ``loyalty-dashboard``.
"""

from django.apps import apps
from django.urls import path

urlpatterns = [path("", apps.get_app_config("oscar_loyalty").urls)]

if apps.is_installed("oscar_loyalty.dashboard"):
    urlpatterns.append(
        path("dashboard/loyalty/", apps.get_app_config("oscar_loyalty_dashboard").urls)
    )
