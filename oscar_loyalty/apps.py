from django.urls import path
from django.utils.translation import gettext_lazy as _
from oscar.core.application import OscarConfig
from oscar.core.loading import get_class


class LoyaltyConfig(OscarConfig):
    """The storefront app. As in Oscar's own apps, each view is an attribute set in
    ``ready()``: a store swaps one by subclassing this config and setting it.
    ``default`` makes the bare ``"oscar_loyalty"`` in INSTALLED_APPS pick it
    (this module also holds Oscar's base config)."""

    default = True
    name = "oscar_loyalty"
    label = "oscar_loyalty"
    verbose_name = _("Loyalty")
    namespace = "oscar_loyalty"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks, receivers  # noqa: F401  (registers checks and receivers)

        self.rewards_view = get_class("oscar_loyalty.views", "RewardsView")
        self.claim_reward_view = get_class("oscar_loyalty.views", "ClaimRewardView")
        self.use_points_view = get_class("oscar_loyalty.views", "UsePointsView")
        self.referral_link_view = get_class("oscar_loyalty.views", "ReferralLinkView")
        self.coupon_add_view = get_class("oscar_loyalty.coupons.views", "CouponAddView")
        self.consent_view = get_class("oscar_loyalty.views", "ConsentView")
        self.birthday_view = get_class("oscar_loyalty.views", "BirthdayView")
        self.unsubscribe_view = get_class("oscar_loyalty.views", "UnsubscribeView")
        self.data_export_view = get_class("oscar_loyalty.views", "DataExportView")

    def get_urls(self):
        urls = [
            path("accounts/rewards/", self.rewards_view.as_view(), name="rewards"),
            path(
                "accounts/rewards/<int:pk>/claim/",
                self.claim_reward_view.as_view(),
                name="claim-reward",
            ),
            path("accounts/rewards/consent/", self.consent_view.as_view(), name="consent"),
            path("accounts/rewards/my-data/", self.data_export_view.as_view(), name="data-export"),
            path("accounts/rewards/birthday/", self.birthday_view.as_view(), name="birthday"),
            path(
                "rewards/unsubscribe/<str:token>/",
                self.unsubscribe_view.as_view(),
                name="unsubscribe",
            ),
            path("basket/points/", self.use_points_view.as_view(), name="use-points"),
            path("r/<str:code>/", self.referral_link_view.as_view(), name="referral-link"),
            path("basket/coupon/", self.coupon_add_view.as_view(), name="coupon-add"),
        ]
        return self.post_process_urls(urls)
