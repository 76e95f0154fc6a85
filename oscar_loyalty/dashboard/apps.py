from django.urls import path
from django.utils.translation import gettext_lazy as _
from oscar.core.application import OscarDashboardConfig


class LoyaltyDashboardConfig(OscarDashboardConfig):
    name = "oscar_loyalty.dashboard"
    label = "oscar_loyalty_dashboard"
    namespace = "loyalty-dashboard"
    verbose_name = _("Loyalty dashboard")
    default_permissions = ["is_staff"]

    def get_urls(self):
        from . import views

        urls = [
            path("coupons/", views.CouponListView.as_view(), name="coupon-list"),
            path("coupons/create/", views.CouponCreateView.as_view(), name="coupon-create"),
            path("coupons/<int:pk>/", views.CouponUpdateView.as_view(), name="coupon-update"),
            path(
                "coupons/<int:pk>/codes/",
                views.CouponCodesView.as_view(),
                name="coupon-codes",
            ),
            path("rewards/", views.RewardListView.as_view(), name="reward-list"),
            path("rewards/create/", views.RewardCreateView.as_view(), name="reward-create"),
            path("rewards/<int:pk>/", views.RewardUpdateView.as_view(), name="reward-update"),
        ]
        return self.post_process_urls(urls)
