"""The API's endpoints: read the request, call a service, shape the answer.

A customer's endpoints only ever read or change the signed-in customer's own
data: an id that is not theirs is "not found". Staff endpoints need
``is_staff``. Every write that moves points takes an ``Idempotency-Key``
header, which becomes the ledger entry's key: a retried request posts once.
"""

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import awards, consent, expiry, reasons, redemption, referrals, tiers, till
from ..exceptions import InsufficientPoints, KeyReused, LedgerError, RedemptionError
from ..models import Account, LedgerEntry, MarketingConsent, Redemption, Reward
from . import serializers as s
from .errors import handle_exception
from .throttling import CustomerThrottle, StaffThrottle, TokenThrottle

User = get_user_model()

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    pattern=f"^{till.TILL_KEY.pattern}$",
    description="The till's own key for this request (a UUID): the same key again "
    "posts nothing more and returns the first answer.",
)


def documented(**kwargs):
    """``extend_schema`` based on drf-spectacular's AutoSchema, whatever the store's
    ``DEFAULT_SCHEMA_CLASS`` is (``extend_schema`` alone builds on that setting)."""

    def decorate(method):
        method.schema = AutoSchema
        return extend_schema(**kwargs)(method)

    return decorate


def refused(description):
    return OpenApiResponse(s.ErrorSerializer, description=description)


class LoyaltyAPIView(APIView):
    """The API's defaults, independent of the store's REST_FRAMEWORK setting."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [CustomerThrottle]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    schema = AutoSchema()

    def get_exception_handler(self):
        return handle_exception

    def dispatch(self, request, *args, **kwargs):
        """An app asks for its language with ``Accept-Language``: texts (reasons,
        reward names, errors) answer in it, unless the URL names one (``/es/...``).
        Only for this request: the response is rendered before the language is
        given back, so the thread's next request (or task) is not left in it."""
        if "HTTP_ACCEPT_LANGUAGE" not in request.META or translation.get_language_from_path(
            request.path_info
        ):
            return super().dispatch(request, *args, **kwargs)
        with translation.override(translation.get_language_from_request(request)):
            request.LANGUAGE_CODE = translation.get_language()
            response = super().dispatch(request, *args, **kwargs)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
            return response


class StaffAPIView(LoyaltyAPIView):
    permission_classes = [IsAdminUser]
    throttle_classes = [StaffThrottle]


class NewestFirst(CursorPagination):
    ordering = "-id"
    page_size = 20


def own_account(user):
    """The customer's account, or None: reading never creates one."""
    return Account.objects.filter(user=user).first()


# The customer's own data ----------------------------------------------------------


class BalanceView(LoyaltyAPIView):
    @documented(responses=s.BalanceSerializer, summary="Points balance, its value and the tier")
    def get(self, request):
        account = own_account(request.user)
        balance = account.balance if account else 0
        page = tiers.rewards_page(account)
        upcoming = page.get("tier_progress")
        data = {
            "balance": balance,
            "value": redemption.points_value(balance),
            "currency": settings.OSCAR_DEFAULT_CURRENCY,
            "tier": page.get("tier"),
            "next_tier": upcoming
            and {
                "name": upcoming.tier.display_name,
                "measure": upcoming.tier.measure,
                "missing": upcoming.missing,
                "before": upcoming.by,
            },
        }
        return Response(s.BalanceSerializer(data).data)


class PendingView(LoyaltyAPIView):
    @documented(responses=s.PendingSerializer(many=True), summary="Points on their way, with dates")
    def get(self, request):
        account = own_account(request.user)
        pending = awards.pending_awards(account) if account else []
        return Response(s.PendingSerializer(pending, many=True).data)


class HistoryView(LoyaltyAPIView, generics.ListAPIView):
    """Every change of the balance, newest first, a page at a time (``next`` is the cursor)."""

    serializer_class = s.EntrySerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        return LedgerEntry.objects.filter(account__user=self.request.user).select_related(
            "order", "voucher__loyalty_redemption__order"
        )

    def paginate_queryset(self, queryset):
        """A page of entries, with the rewards their reasons name (one query)."""
        page = super().paginate_queryset(queryset)
        reasons.prefetch(page or [])
        return page

    @documented(
        summary="Balance history",
        responses={200: s.EntrySerializer(many=True), 404: refused("A cursor that is not ours.")},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ExpiringView(LoyaltyAPIView):
    @documented(
        parameters=[s.ExpiringQuerySerializer],
        responses={200: s.ExpiringSerializer(many=True), 400: refused("Bad number of days.")},
        summary="Points expiring soon, by date",
    )
    def get(self, request):
        query = s.ExpiringQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        account = own_account(request.user)
        soon = expiry.expiring_soon(account, days=query.validated_data["days"]) if account else []
        data = [{"date": day, "points": points} for day, points in soon]
        return Response(s.ExpiringSerializer(data, many=True).data)


class RewardListView(LoyaltyAPIView):
    @documented(responses=s.RewardSerializer(many=True), summary="Rewards to claim now")
    def get(self, request):
        return Response(s.RewardSerializer(redemption.available_rewards(), many=True).data)


class ClaimRewardView(LoyaltyAPIView):
    @documented(
        request=None,
        responses={
            201: s.ClaimSerializer,
            404: refused("No such reward."),
            409: refused("Not enough points, sold out, or not available now."),
        },
        summary="Claim a reward: spend its points, get its code",
    )
    def post(self, request, pk):
        get_object_or_404(Reward, pk=pk)
        try:
            claim = redemption.claim_reward(request.user, pk)
        except RedemptionError as refusal:
            return Response({"detail": refusal.message}, status=status.HTTP_409_CONFLICT)
        return Response(s.ClaimSerializer(claim).data, status=status.HTTP_201_CREATED)


class ClaimQuerysetMixin:
    serializer_class = s.ClaimSerializer

    def get_queryset(self):
        return Redemption.objects.filter(
            account__user=self.request.user, reward__isnull=False
        ).select_related("reward", "voucher")


class ClaimListView(ClaimQuerysetMixin, LoyaltyAPIView, generics.ListAPIView):
    pagination_class = NewestFirst

    @documented(
        summary="The customer's claimed rewards, newest first",
        responses={200: s.ClaimSerializer(many=True), 404: refused("A cursor that is not ours.")},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ClaimDetailView(ClaimQuerysetMixin, LoyaltyAPIView, generics.RetrieveAPIView):
    @documented(
        summary="One claimed reward",
        responses={200: s.ClaimSerializer, 404: refused("Not yours, or no such claim.")},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ReferralView(LoyaltyAPIView):
    @documented(responses=s.ReferralSerializer, summary="The customer's refer-a-friend link")
    def get(self, request):
        code = referrals.code_for(request.user)
        url = request.build_absolute_uri(reverse("oscar_loyalty:referral-link", args=[code.code]))
        data = {
            "code": code.code,
            "url": url,
            "share": referrals.share_links(url, referrals.invitation_text()),
            **referrals.figures(request.user),
        }
        return Response(s.ReferralSerializer(data).data)


class ConsentView(LoyaltyAPIView):
    @documented(responses=s.ConsentSerializer, summary="Marketing consent")
    def get(self, request):
        return Response(s.ConsentSerializer(consent.marketing_consent(request.user)).data)

    @documented(
        request=s.ConsentSerializer,
        responses={200: s.ConsentSerializer, 400: refused("Not true or false.")},
        summary="Give or withdraw marketing consent",
    )
    def put(self, request):
        answer = s.ConsentSerializer(data=request.data)
        answer.is_valid(raise_exception=True)
        saved = consent.set_marketing_consent(
            request.user, answer.validated_data["marketing"], MarketingConsent.Source.API
        )
        return Response(s.ConsentSerializer(saved).data)


class CardView(LoyaltyAPIView):
    @documented(responses=s.CardSerializer, summary="A short-lived code to show at the till")
    def get(self, request):
        code, expires_at = till.card_code(request.user)
        return Response(s.CardSerializer({"code": code, "expires_at": expires_at}).data)


# Tokens for apps and tills --------------------------------------------------------


class TokenView(LoyaltyAPIView):
    """An app's or till's token, from the customer's (or staff member's) email and password."""

    throttle_classes = [TokenThrottle]

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    @documented(
        request=s.CredentialsSerializer,
        responses={200: s.TokenSerializer, 400: refused("Wrong email or password.")},
        auth=[],
        summary="Get a token",
    )
    def post(self, request):
        given = s.CredentialsSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        user = authenticate(
            request,
            username=given.validated_data["email"],
            password=given.validated_data["password"],
        )
        if user is None or not user.is_active:
            raise ValidationError({"detail": _("Wrong email or password.")})
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})

    @documented(request=None, responses={204: None}, summary="Revoke the token")
    def delete(self, request):
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


# Staff: the till and customer service -------------------------------------------


class CustomerSearchView(StaffAPIView):
    @documented(
        parameters=[s.CustomerQuerySerializer],
        responses={200: s.CustomerSerializer(many=True), 400: refused("No email or card code.")},
        summary="Find a customer by email or by their app's card code",
    )
    def get(self, request):
        query = s.CustomerQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = till.find_customers(
            email=query.validated_data.get("email", ""), card=query.validated_data.get("card", "")
        )
        return Response(s.CustomerSerializer(found, many=True).data)


class CustomerMixin:
    def customer(self, pk):
        return get_object_or_404(
            User.objects.select_related("loyalty_account"), pk=pk, is_active=True
        )


class CustomerDetailView(CustomerMixin, StaffAPIView):
    @documented(
        responses={200: s.CustomerSerializer, 404: refused("No such customer.")},
        summary="A customer's balance",
    )
    def get(self, request, pk):
        return Response(s.CustomerSerializer(self.customer(pk)).data)


class PostingView(CustomerMixin, StaffAPIView):
    """A staff posting: validate the body, post once per ``Idempotency-Key``."""

    input_serializer = None

    def post(self, request, pk):
        customer = self.customer(pk)
        body = self.input_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key", "")
        if not key:
            raise ValidationError({"detail": _("Send an Idempotency-Key header.")})
        try:
            entry = self.post_points(customer, key, body.validated_data)
        except (InsufficientPoints, KeyReused) as refusal:
            return Response({"detail": str(refusal)}, status=status.HTTP_409_CONFLICT)
        except LedgerError as refusal:
            raise ValidationError({"detail": str(refusal)}) from None
        return Response(s.PostingSerializer(entry).data, status=status.HTTP_201_CREATED)


POSTING_RESPONSES = {
    201: s.PostingSerializer,
    400: refused("Bad body or key."),
    404: refused("No such customer."),
}


class AwardView(PostingView):
    input_serializer = s.AwardSerializer

    @documented(
        request=s.AwardSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={**POSTING_RESPONSES, 409: refused("The key was used for another request.")},
        summary="Points for a purchase paid at the till",
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def post_points(self, customer, key, data):
        return till.award_purchase(
            customer,
            data["amount"],
            key=key,
            reference=data.get("reference", ""),
            staff_user=self.request.user,
        )


class RedeemView(PostingView):
    input_serializer = s.RedeemSerializer

    @documented(
        request=s.RedeemSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            **POSTING_RESPONSES,
            409: refused("Not enough points, or the key was used for another request."),
        },
        summary="Spend points for a discount at the till",
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def post_points(self, customer, key, data):
        return till.redeem(
            customer,
            data["points"],
            key=key,
            reference=data.get("reference", ""),
            staff_user=self.request.user,
        )


class AdjustView(PostingView):
    input_serializer = s.AdjustSerializer

    @documented(
        request=s.AdjustSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            **POSTING_RESPONSES,
            409: refused("Not enough points, or the key was used for another request."),
        },
        summary="Correct a balance, with the reason the customer will read",
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def post_points(self, customer, key, data):
        return till.adjust(
            customer, data["points"], key=key, reason=data["reason"], staff_user=self.request.user
        )
