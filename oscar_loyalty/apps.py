from django.urls import path
from django.utils.translation import gettext_lazy as _
from oscar.core.application import OscarConfig


class LoyaltyConfig(OscarConfig):
    name = "oscar_loyalty"
    label = "oscar_loyalty"
    verbose_name = _("Loyalty")
    namespace = "oscar_loyalty"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks, receivers  # noqa: F401  (registers checks and receivers)

    def get_urls(self):
        from .coupons.views import CouponAddView
        from .views import ClaimRewardView, ReferralLinkView, RewardsView, UsePointsView

        urls = [
            path("accounts/rewards/", RewardsView.as_view(), name="rewards"),
            path(
                "accounts/rewards/<int:pk>/claim/",
                ClaimRewardView.as_view(),
                name="claim-reward",
            ),
            path("basket/points/", UsePointsView.as_view(), name="use-points"),
            path("r/<str:code>/", ReferralLinkView.as_view(), name="referral-link"),
            path("basket/coupon/", CouponAddView.as_view(), name="coupon-add"),
        ]
        return self.post_process_urls(urls)
