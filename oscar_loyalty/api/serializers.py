"""What the API reads and returns. Shapes only: the rules are in the services."""

import re
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..models import LedgerEntry, PendingAward, Redemption, Reward
from ..redemption import points_value
from ..till import MAX_AMOUNT, MAX_REFERENCE_LENGTH

MAX_POINTS = 1_000_000_000


# Input fields take exactly the types the schema promises: DRF would also take
# 10.0 or "10" for an integer, 5 for a text, a number for a decimal string,
# and an app that sends those should learn it at once, not in production.

INTEGER_TEXT = re.compile(r"-?[0-9]+")
DECIMAL_TEXT = re.compile(r"-?[0-9]{0,10}(\.[0-9]{0,2})?")


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON whole number in a body; digits in a query string (``in_query``)."""

    def __init__(self, *, in_query=False, **kwargs):
        self.in_query = in_query
        super().__init__(**kwargs)

    def get_value(self, dictionary):
        # DRF reads an empty ``?days=`` as absent (the default): here it is refused.
        if self.in_query and self.field_name in dictionary:
            return dictionary[self.field_name]
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        if self.in_query:
            if not isinstance(data, str) or not INTEGER_TEXT.fullmatch(data):
                self.fail("invalid")
        elif isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDecimalField(serializers.DecimalField):
    """Money as a JSON string ("125.50"): a JSON number may already have lost cents."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not DECIMAL_TEXT.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Why the request was refused, for the user.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For bad input: each refused field, and why.",
    )


class TierSerializer(serializers.Serializer):
    name = serializers.CharField(source="display_name", help_text="In the app's language.")
    level = serializers.IntegerField(help_text="Higher is better.")
    multiplier = serializers.DecimalField(
        max_digits=5, decimal_places=2, help_text="Points multiplier on every order."
    )
    hidden = serializers.BooleanField(help_text="A secret tier, shown once reached.")


class NextTierSerializer(serializers.Serializer):
    name = serializers.CharField()
    measure = serializers.ChoiceField(
        choices=["points", "spend"], help_text="What counts: points earned or money spent."
    )
    missing = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Points or money still to go."
    )
    before = serializers.DateTimeField(
        allow_null=True, help_text="When the count starts again (calendar year); null: never."
    )


class BalanceSerializer(serializers.Serializer):
    balance = serializers.IntegerField(help_text="Points the customer can spend now.")
    value = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="What they are worth, in `currency`."
    )
    currency = serializers.CharField()
    tier = TierSerializer(allow_null=True, help_text="The customer's tier; null: none.")
    next_tier = NextTierSerializer(
        allow_null=True, help_text="The next tier shown to the customer; null: none above."
    )


class PendingSerializer(serializers.ModelSerializer):
    kind = serializers.SerializerMethodField(help_text="`order`, or `referral` for a friend's.")
    order_number = serializers.SerializerMethodField(
        help_text="The customer's own order; empty for a referral (the friend's order is theirs)."
    )

    class Meta:
        model = PendingAward
        fields = ["kind", "order_number", "points", "matures_at"]

    def get_kind(self, award) -> str:
        return "referral" if award.referral_id else "order"

    def get_order_number(self, award) -> str | None:
        return None if award.referral_id else award.order.number


class EntrySerializer(serializers.ModelSerializer):
    reason = serializers.SerializerMethodField(help_text="Why the balance changed.")
    order_number = serializers.SerializerMethodField()

    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "points", "balance_after", "reason", "order_number", "created_at"]

    def get_reason(self, entry) -> str:
        return str(entry.customer_reason())

    def get_order_number(self, entry) -> str | None:
        return entry.order.number if entry.order_id else None


class ExpiringQuerySerializer(serializers.Serializer):
    days = StrictIntegerField(in_query=True, min_value=1, max_value=366, default=30)


class ExpiringSerializer(serializers.Serializer):
    date = serializers.DateField()
    points = serializers.IntegerField()


class RewardSerializer(serializers.ModelSerializer):
    name = serializers.CharField(
        source="display_name", read_only=True, help_text="In the request's language, if translated."
    )
    left = serializers.IntegerField(
        allow_null=True, read_only=True, help_text="How many can still be claimed; empty: no limit."
    )

    class Meta:
        model = Reward
        fields = ["id", "name", "description", "kind", "cost", "value", "left", "ends_at"]


class ClaimSerializer(serializers.ModelSerializer):
    reward = serializers.SerializerMethodField()
    code = serializers.SerializerMethodField(help_text="The personal code to use at checkout.")

    class Meta:
        model = Redemption
        fields = ["id", "reward", "points", "value", "code", "status", "created_at", "expires_at"]

    def get_reward(self, claim) -> dict:
        return {"id": claim.reward_id, "name": claim.reward.display_name}

    def get_code(self, claim) -> str | None:
        return claim.voucher.code if claim.voucher_id else None


class ShareLinksSerializer(serializers.Serializer):
    email = serializers.CharField()
    whatsapp = serializers.URLField()
    facebook = serializers.URLField()
    x = serializers.URLField()


class ReferralSerializer(serializers.Serializer):
    code = serializers.CharField()
    url = serializers.URLField(help_text="The link to share: a friend who signs up through it.")
    share = ShareLinksSerializer()
    visits = serializers.IntegerField()
    signups = serializers.IntegerField()
    rewarded = serializers.IntegerField()


class StrictBooleanField(serializers.BooleanField):
    """JSON's true or false only: 0, "yes" or "off" are not an answer to a consent question."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class ConsentSerializer(serializers.Serializer):
    marketing = StrictBooleanField(help_text="Whether the customer accepts marketing emails.")
    changed_at = serializers.DateTimeField(read_only=True, allow_null=True)


class CardSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Show it at the till (as a QR code, for instance).")
    expires_at = serializers.DateTimeField()


# Staff ---------------------------------------------------------------------------


class CustomerQuerySerializer(serializers.Serializer):
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    card = serializers.CharField(required=False, allow_blank=True, max_length=200)

    def validate(self, data):
        if not data.get("email", "").strip() and not data.get("card", "").strip():
            raise serializers.ValidationError(_("Give an email or a card code."))
        return data


class CustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField(source="get_full_name")
    balance = serializers.SerializerMethodField()

    def get_balance(self, user) -> int:
        account = getattr(user, "loyalty_account", None)
        return account.balance if account is not None else 0


class AwardSerializer(serializers.Serializer):
    amount = StrictDecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        help_text=f"What the customer paid at the till, in {settings.OSCAR_DEFAULT_CURRENCY}.",
    )
    reference = StrictCharField(
        required=False, allow_blank=True, max_length=MAX_REFERENCE_LENGTH, help_text="Receipt."
    )


class RedeemSerializer(serializers.Serializer):
    points = StrictIntegerField(min_value=1, max_value=MAX_POINTS)
    reference = StrictCharField(
        required=False, allow_blank=True, max_length=MAX_REFERENCE_LENGTH, help_text="Receipt."
    )


class AdjustSerializer(serializers.Serializer):
    points = StrictIntegerField(
        min_value=-MAX_POINTS, max_value=MAX_POINTS, help_text="Positive adds, negative takes away."
    )
    reason = StrictCharField(max_length=255, help_text="The customer reads it.")


class PostingSerializer(EntrySerializer):
    value = serializers.SerializerMethodField(
        help_text="What the points are worth: for a redemption, the discount to give."
    )

    class Meta(EntrySerializer.Meta):
        fields = [*EntrySerializer.Meta.fields, "value"]

    def get_value(self, entry) -> str:
        return str(points_value(abs(entry.points)))


class CredentialsSerializer(serializers.Serializer):
    email = StrictCharField(max_length=254)
    password = StrictCharField(max_length=4096, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
