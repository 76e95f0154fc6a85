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
                "kpis",
                "at-risk",
                "customer-list",
                "customer-detail",
                "customer-adjust",
                "referral-void",
                "in-store",
                "record-list",
                "campaign-list",
                "campaign-create",
                "campaign-update",
                "campaign-delete",
                "customer-export",
                "customer-erase",
                "import",
                "import-detail",
                "import-progress",
                "import-report",
                "accounting",
                "tier-list",
                "tier-create",
                "tier-update",
                "tier-delete",
                "customer-tier",
                "bonus-action-list",
                "bonus-action-update",
                "segment-list",
                "segment-create",
                "segment-update",
                "winback-list",
                "winback-create",
                "winback-update",
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
        self.kpi_view = get_class(VIEWS, "KpiView")
        self.at_risk_view = get_class(VIEWS, "AtRiskView")
        self.customer_list_view = get_class(VIEWS, "CustomerListView")
        self.customer_detail_view = get_class(VIEWS, "CustomerDetailView")
        self.adjust_points_view = get_class(VIEWS, "AdjustPointsView")
        self.referral_void_view = get_class(VIEWS, "ReferralVoidView")
        self.in_store_view = get_class(VIEWS, "InStoreView")
        self.record_list_view = get_class(VIEWS, "RecordListView")
        self.campaign_list_view = get_class(VIEWS, "CampaignListView")
        self.campaign_create_view = get_class(VIEWS, "CampaignCreateView")
        self.campaign_update_view = get_class(VIEWS, "CampaignUpdateView")
        self.campaign_delete_view = get_class(VIEWS, "CampaignDeleteView")
        self.customer_export_view = get_class(VIEWS, "CustomerExportView")
        self.customer_erase_view = get_class(VIEWS, "CustomerEraseView")
        self.import_view = get_class(VIEWS, "ImportView")
        self.import_detail_view = get_class(VIEWS, "ImportDetailView")
        self.import_progress_view = get_class(VIEWS, "ImportProgressView")
        self.import_report_view = get_class(VIEWS, "ImportReportView")
        self.accounting_view = get_class(VIEWS, "AccountingView")
        self.tier_list_view = get_class(VIEWS, "TierListView")
        self.tier_create_view = get_class(VIEWS, "TierCreateView")
        self.tier_update_view = get_class(VIEWS, "TierUpdateView")
        self.tier_delete_view = get_class(VIEWS, "TierDeleteView")
        self.move_tier_view = get_class(VIEWS, "MoveTierView")
        self.bonus_action_list_view = get_class(VIEWS, "BonusActionListView")
        self.bonus_action_update_view = get_class(VIEWS, "BonusActionUpdateView")
        self.segment_list_view = get_class(VIEWS, "SegmentListView")
        self.segment_create_view = get_class(VIEWS, "SegmentCreateView")
        self.segment_update_view = get_class(VIEWS, "SegmentUpdateView")
        self.winback_list_view = get_class(VIEWS, "WinBackListView")
        self.winback_create_view = get_class(VIEWS, "WinBackCreateView")
        self.winback_update_view = get_class(VIEWS, "WinBackUpdateView")

    def get_urls(self):
        urls = [
            path("coupons/", self.coupon_list_view.as_view(), name="coupon-list"),
            path("coupons/create/", self.coupon_create_view.as_view(), name="coupon-create"),
            path("coupons/<int:pk>/", self.coupon_update_view.as_view(), name="coupon-update"),
            path("coupons/<int:pk>/codes/", self.coupon_codes_view.as_view(), name="coupon-codes"),
            path("rewards/", self.reward_list_view.as_view(), name="reward-list"),
            path("rewards/create/", self.reward_create_view.as_view(), name="reward-create"),
            path("rewards/<int:pk>/", self.reward_update_view.as_view(), name="reward-update"),
            path("kpis/", self.kpi_view.as_view(), name="kpis"),
            path("kpis/at-risk/", self.at_risk_view.as_view(), name="at-risk"),
            path("customers/", self.customer_list_view.as_view(), name="customer-list"),
            path(
                "customers/<int:pk>/",
                self.customer_detail_view.as_view(),
                name="customer-detail",
            ),
            path(
                "customers/<int:pk>/adjust/",
                self.adjust_points_view.as_view(),
                name="customer-adjust",
            ),
            path(
                "customers/<int:pk>/export/",
                self.customer_export_view.as_view(),
                name="customer-export",
            ),
            path(
                "customers/<int:pk>/erase/",
                self.customer_erase_view.as_view(),
                name="customer-erase",
            ),
            path("imports/", self.import_view.as_view(), name="import"),
            path("imports/<int:pk>/", self.import_detail_view.as_view(), name="import-detail"),
            path(
                "imports/<int:pk>/progress/",
                self.import_progress_view.as_view(),
                name="import-progress",
            ),
            path(
                "imports/<int:pk>/rejected/",
                self.import_report_view.as_view(),
                name="import-report",
            ),
            path("accounting/", self.accounting_view.as_view(), name="accounting"),
            path(
                "referrals/<int:pk>/void/", self.referral_void_view.as_view(), name="referral-void"
            ),
            path("in-store/", self.in_store_view.as_view(), name="in-store"),
            path("records/<slug:slug>/", self.record_list_view.as_view(), name="record-list"),
            path("campaigns/", self.campaign_list_view.as_view(), name="campaign-list"),
            path("campaigns/create/", self.campaign_create_view.as_view(), name="campaign-create"),
            path(
                "campaigns/<int:pk>/", self.campaign_update_view.as_view(), name="campaign-update"
            ),
            path(
                "campaigns/<int:pk>/delete/",
                self.campaign_delete_view.as_view(),
                name="campaign-delete",
            ),
            path("tiers/", self.tier_list_view.as_view(), name="tier-list"),
            path("tiers/create/", self.tier_create_view.as_view(), name="tier-create"),
            path("tiers/<int:pk>/", self.tier_update_view.as_view(), name="tier-update"),
            path("tiers/<int:pk>/delete/", self.tier_delete_view.as_view(), name="tier-delete"),
            path("customers/<int:pk>/tier/", self.move_tier_view.as_view(), name="customer-tier"),
            path("bonus/", self.bonus_action_list_view.as_view(), name="bonus-action-list"),
            path(
                "bonus/<str:action>/",
                self.bonus_action_update_view.as_view(),
                name="bonus-action-update",
            ),
            path("segments/", self.segment_list_view.as_view(), name="segment-list"),
            path("segments/create/", self.segment_create_view.as_view(), name="segment-create"),
            path("segments/<int:pk>/", self.segment_update_view.as_view(), name="segment-update"),
            path("win-back/", self.winback_list_view.as_view(), name="winback-list"),
            path("win-back/create/", self.winback_create_view.as_view(), name="winback-create"),
            path("win-back/<int:pk>/", self.winback_update_view.as_view(), name="winback-update"),
        ]
        return self.post_process_urls(urls)
