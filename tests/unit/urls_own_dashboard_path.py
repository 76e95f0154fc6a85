"""A store whose dashboard lives at /shop-admin/ (for the dashboard URL test)."""

from django.apps import apps
from django.urls import include, path

urlpatterns = [
    path("shop-admin/loyalty/", apps.get_app_config("oscar_loyalty_dashboard").urls),
    path("", include("oscar_loyalty.urls")),
]
