from django.urls import path

from . import views
from .coupons.views import CouponAddView

app_name = "oscar_loyalty"

urlpatterns = [
    path("accounts/rewards/", views.RewardsView.as_view(), name="rewards"),
    path("basket/coupon/", CouponAddView.as_view(), name="coupon-add"),
]
