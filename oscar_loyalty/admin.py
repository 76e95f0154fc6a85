"""Read-only admin: points change only through the ledger, never by editing rows."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import referrals
from .models import (
    Account,
    BonusCampaign,
    DataRequest,
    ImportRun,
    LedgerEntry,
    MarketingConsent,
    PendingAward,
    PointsLot,
    Referral,
    SentMessage,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ["created_at", "kind", "points", "balance_after", "reason", "order"]
    readonly_fields = fields
    ordering = ["-id"]
    extra = 0
    max_num = 0
    show_change_link = True

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["user", "balance", "last_activity_at", "created_at"]
    search_fields = ["user__email", "user__username"]
    raw_id_fields = ["user"]
    inlines = [EntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "kind", "points", "balance_after", "reason"]
    list_filter = ["kind"]
    search_fields = ["account__user__email", "idempotency_key", "reason"]
    raw_id_fields = ["account", "order", "voucher", "staff_user", "reverses"]
    date_hierarchy = "created_at"


@admin.register(PointsLot)
class PointsLotAdmin(ReadOnlyAdmin):
    list_display = ["account", "points", "remaining", "earned_at", "expires_at"]
    raw_id_fields = ["account", "entry"]


@admin.register(PendingAward)
class PendingAwardAdmin(ReadOnlyAdmin):
    list_display = ["order", "account", "points", "original_points", "status", "matures_at"]
    list_filter = ["status"]
    search_fields = ["order__number", "account__user__email"]
    raw_id_fields = ["order", "account"]


@admin.register(BonusCampaign)
class BonusCampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "multiplier", "starts_at", "ends_at"]
    filter_horizontal = ["products", "categories"]


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    list_display = ["referrer", "referred", "status", "reason", "created_at"]
    list_filter = ["status"]
    search_fields = ["referrer__email", "referred__email"]
    actions = ["void_referrals"]

    @admin.action(
        description=_("Void the selected referrals (no reward; take back what was earned)")
    )
    def void_referrals(self, request, queryset):
        for referral in queryset:
            referrals.void(referral, request.user)

    def has_change_permission(self, request, obj=None):
        # Needed for the action; the fields stay read-only.
        return request.user.is_staff and obj is None


@admin.register(MarketingConsent)
class MarketingConsentAdmin(ReadOnlyAdmin):
    """Read-only: only the customer changes their consent (evidence of when and where)."""

    list_display = ["user", "marketing", "changed_at", "source", "language"]
    list_filter = ["marketing", "source"]
    search_fields = ["user__email"]


@admin.register(SentMessage)
class SentMessageAdmin(ReadOnlyAdmin):
    list_display = ["user", "message", "key", "claimed_at", "sent_at"]
    list_filter = ["message"]
    search_fields = ["user__email", "key"]
    raw_id_fields = ["user"]


@admin.register(DataRequest)
class DataRequestAdmin(ReadOnlyAdmin):
    """The log of exports and erasures: who asked, for which account, when."""

    list_display = ["created_at", "action", "customer", "account", "requested_by", "by_staff"]
    list_filter = ["action", "by_staff"]
    raw_id_fields = ["customer", "account", "requested_by"]
    date_hierarchy = "created_at"


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "name", "status", "rows", "imported", "rejected", "points"]
    list_filter = ["status"]
    exclude = ["file"]
