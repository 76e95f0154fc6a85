"""The API's URLs, served by ``oscar_loyalty.urls`` under ``api/loyalty/``."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.permissions import AllowAny

from . import views
from .errors import not_found
from .schema import SCHEMA_SETTINGS

app_name = "loyalty-api"

urlpatterns = [
    path("balance/", views.BalanceView.as_view(), name="balance"),
    path("pending/", views.PendingView.as_view(), name="pending"),
    path("history/", views.HistoryView.as_view(), name="history"),
    path("expiring/", views.ExpiringView.as_view(), name="expiring"),
    path("rewards/", views.RewardListView.as_view(), name="rewards"),
    path("rewards/<int:pk>/claim/", views.ClaimRewardView.as_view(), name="claim-reward"),
    path("claims/", views.ClaimListView.as_view(), name="claims"),
    path("claims/<int:pk>/", views.ClaimDetailView.as_view(), name="claim"),
    path("referral/", views.ReferralView.as_view(), name="referral"),
    path("consent/", views.ConsentView.as_view(), name="consent"),
    path("card/", views.CardView.as_view(), name="card"),
    path("token/", views.TokenView.as_view(), name="token"),
    path("staff/customers/", views.CustomerSearchView.as_view(), name="customers"),
    path("staff/customers/<int:pk>/", views.CustomerDetailView.as_view(), name="customer"),
    path("staff/customers/<int:pk>/award/", views.AwardView.as_view(), name="award"),
    path("staff/customers/<int:pk>/redeem/", views.RedeemView.as_view(), name="redeem"),
    path("staff/customers/<int:pk>/adjust/", views.AdjustView.as_view(), name="adjust"),
    path(
        "schema/",
        SpectacularAPIView.as_view(
            custom_settings=SCHEMA_SETTINGS,
            authentication_classes=[],
            permission_classes=[AllowAny],
        ),
        name="schema",
    ),
    path(
        "docs/",
        SpectacularRedocView.as_view(
            url_name="loyalty-api:schema", authentication_classes=[], permission_classes=[AllowAny]
        ),
        name="docs",
    ),
    re_path(r"", not_found),
]
