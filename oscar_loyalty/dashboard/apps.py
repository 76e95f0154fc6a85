from django.urls import path
from django.utils.translation import gettext_lazy as _
from oscar.core.application import OscarDashboardConfig
from oscar.core.loading import get_class

VIEWS = "oscar_loyalty_dashboard.views"


class LoyaltyDashboardConfig(OscarDashboardConfig):
    """Staff pages under Oscar's dashboard: views set in ``ready()`` and a
    ``permissions_map`` by URL name, both changed by subclassing this config."""

    default = True  # the bare "oscar_loyalty.dashboard" in INSTALLED_APPS picks it
    name = "oscar_loyalty.dashboard"
    label = "oscar_loyalty_dashboard"
    namespace = "loyalty-dashboard"
    verbose_name = _("Loyalty dashboard")
    default_permissions = ["is_staff"]

    def configure_permissions(self):
        """Staff may use every page; a store requiring more lists it here, e.g.
        ``["is_staff", "voucher.change_voucher"]`` for ``coupon-update``."""
        self.permissions_map = {
            name: ["is_staff"]
            for name in (
                "coupon-list",
                "coupon-create",
                "coupon-update",
                "coupon-codes",
                "reward-list",
                "reward-create",
                "reward-update",
            )
        }

    def ready(self):
        self.configure_permissions()
        self.coupon_list_view = get_class(VIEWS, "CouponListView")
        self.coupon_create_view = get_class(VIEWS, "CouponCreateView")
        self.coupon_update_view = get_class(VIEWS, "CouponUpdateView")
        self.coupon_codes_view = get_class(VIEWS, "CouponCodesView")
        self.reward_list_view = get_class(VIEWS, "RewardListView")
        self.reward_create_view = get_class(VIEWS, "RewardCreateView")
        self.reward_update_view = get_class(VIEWS, "RewardUpdateView")

    def get_urls(self):
        urls = [
            path("coupons/", self.coupon_list_view.as_view(), name="coupon-list"),
            path("coupons/create/", self.coupon_create_view.as_view(), name="coupon-create"),
            path("coupons/<int:pk>/", self.coupon_update_view.as_view(), name="coupon-update"),
            path("coupons/<int:pk>/codes/", self.coupon_codes_view.as_view(), name="coupon-codes"),
            path("rewards/", self.reward_list_view.as_view(), name="reward-list"),
            path("rewards/create/", self.reward_create_view.as_view(), name="reward-create"),
            path("rewards/<int:pk>/", self.reward_update_view.as_view(), name="reward-update"),
        ]
        return self.post_process_urls(urls)
