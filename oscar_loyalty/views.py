from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import FormView, TemplateView
from oscar.core.loading import get_class
from oscar.core.utils import redirect_to_referrer
from oscar.templatetags.currency_filters import currency

from . import (
    awards,
    bonus,
    expiry,
    notifications,
    privacy,
    reasons,
    redemption,
    referrals,
    shopping,
    tiers,
)
from .conf import loyalty_settings
from .consent import marketing_consent, set_marketing_consent
from .earning import get_earning_rule
from .exceptions import BonusError
from .forms import BirthdayForm, ConsentForm
from .models import (
    Account,
    Birthday,
    LedgerEntry,
    MarketingConsent,
    Redemption,
    Referral,
    Reward,
)

PageTitleMixin = get_class("customer.mixins", "PageTitleMixin")


class RewardsView(LoginRequiredMixin, PageTitleMixin, TemplateView):
    """The customer's Rewards tab: a fixed number of queries however long the history."""

    template_name = "oscar_loyalty/rewards.html"
    page_title = _("Rewards")
    active_tab = "rewards"
    history_size = 20

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        account = Account.objects.filter(user=self.request.user).first()
        context["account"] = account
        context["balance"] = balance = account.balance if account else 0
        context["balance_value"] = currency(balance * loyalty_settings.POINT_VALUE)
        context["how_to_earn"] = how_to_earn()
        context["consent_form"] = ConsentForm(
            initial={"marketing": marketing_consent(self.request.user).marketing}
        )
        statement = notifications.email_setting("statement")
        context["statement_is_marketing"] = statement["send"] and statement["marketing"]
        context.update(self.referral_context())
        # No points yet: "how to earn" comes first.
        context["newcomer"] = True
        context.update(tiers.rewards_page(account))
        context.update(birthday_context(self.request.user))
        context["campaigns"] = announced_campaigns(self.request.user)
        if account is None:
            return context
        context["pending"] = list(awards.pending_awards(account))
        context["expiring"] = expiry.expiring_soon(account, days=30)
        entries, older = self.history(account)
        context["entries"] = entries
        context["newcomer"] = not (balance or context["pending"] or entries)
        context["older_than"] = entries[-1].pk if older else None
        context["is_first_page"] = "before" not in self.request.GET
        context["rewards"] = rewards = tiers.visible_rewards(
            [r for r in Reward.objects.select_related("min_tier") if r.is_available()],
            self.request.user.pk,
        )
        for reward in rewards:
            reward.points_missing = max(0, reward.cost - balance)
        context["claims"] = list(
            Redemption.objects.filter(account=account, reward__isnull=False)
            .select_related("reward", "voucher")
            .order_by("-pk")[:20]
        )
        return context

    def referral_context(self):
        user = self.request.user
        code = referrals.code_for(user)
        url = self.request.build_absolute_uri(
            reverse("oscar_loyalty:referral-link", args=[code.code])
        )
        welcome = Referral.objects.filter(referred=user).select_related("welcome_voucher").first()
        voucher = welcome.welcome_voucher if welcome else None
        return {
            "welcome_gift": shopping.gift_text() if voucher else None,
            "welcome_in_basket": voucher is not None
            and self.request.basket.id is not None
            and self.request.basket.vouchers.filter(pk=voucher.pk).exists(),
            "referral_url": url,
            "share": referrals.share_links(url, referrals.invitation_text()),
            "referral_figures": referrals.figures(user),
            "welcome_voucher": welcome.welcome_voucher if welcome else None,
            "referral_points": loyalty_settings.REFERRAL_POINTS,
            "referral_min_order": currency(loyalty_settings.REFERRAL_MIN_ORDER),
        }

    def history(self, account):
        """One page of entries, newest first, before the ``?before=<id>`` cursor."""
        entries = LedgerEntry.objects.filter(account=account).select_related(
            "order", "voucher__loyalty_redemption__order"
        )
        before = self.request.GET.get("before", "")
        if before.isdigit() and len(before) < 19:
            entries = entries.filter(pk__lt=int(before))
        page = list(entries.order_by("-pk")[: self.history_size + 1])
        reasons.prefetch(page)
        return page[: self.history_size], len(page) > self.history_size


class DataExportView(LoginRequiredMixin, View):
    """The customer downloads all their loyalty data (JSON): their own, whatever is asked.

    The page takes no customer id, so no one can ask for another's; each
    download is logged.
    """

    def get(self, request):
        return json_download(privacy.export(request.user, request.user), request.user)


def json_download(chunks, user) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{privacy.export_filename(user)}"'
    response["Cache-Control"] = "no-store"
    return response


class PointsForm(forms.Form):
    points = forms.IntegerField(label=_("Points to use"), min_value=1, max_value=10**9)


class UsePointsView(LoginRequiredMixin, FormView):
    """Use points off the basket: a personal voucher, added in one step."""

    form_class = PointsForm
    http_method_names = ["post"]

    def form_valid(self, form):
        basket = self.request.basket
        try:
            used = redemption.redeem_points(self.request.user, basket, form.cleaned_data["points"])
        except redemption.RedemptionError as refusal:
            messages.error(self.request, refusal.message)
        else:
            messages.success(
                self.request,
                _("You used %(points)d points: %(value)s off your basket.")
                % {"points": used.points, "value": currency(used.value, basket.currency)},
            )
        return redirect_to_referrer(self.request, "basket:summary")

    def form_invalid(self, form):
        messages.error(self.request, _("Enter a whole number of points."))
        return redirect_to_referrer(self.request, "basket:summary")


class ClaimRewardView(LoginRequiredMixin, FormView):
    http_method_names = ["post"]
    form_class = forms.Form

    def form_valid(self, form):
        try:
            claim = redemption.claim_reward(self.request.user, self.kwargs["pk"])
        except redemption.RedemptionError as refusal:
            messages.error(self.request, refusal.message)
        else:
            messages.success(
                self.request,
                _("Here is your code for %(reward)s: %(code)s")
                % {"reward": claim.reward.display_name, "code": claim.voucher.code},
            )
        return redirect("oscar_loyalty:rewards")


class BirthdayView(LoginRequiredMixin, View):
    """The Rewards page's birthday: saved with consent, or removed."""

    http_method_names = ["post"]

    def post(self, request):
        if "remove" in request.POST:
            bonus.remove_birthday(request.user)
            messages.success(request, _("We have forgotten your birthday."))
            return redirect("oscar_loyalty:rewards")
        form = BirthdayForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, " ".join(errors))
            return redirect("oscar_loyalty:rewards")
        data = form.cleaned_data
        try:
            bonus.set_birthday(request.user, data["month"], data["day"], data["consent"])
        except BonusError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Thank you: we will remember your birthday."))
        return redirect("oscar_loyalty:rewards")


class ConsentView(LoginRequiredMixin, FormView):
    """The Rewards page's "send me offers" switch."""

    form_class = ConsentForm
    http_method_names = ["post"]

    def form_valid(self, form):
        marketing = form.cleaned_data["marketing"]
        set_marketing_consent(
            self.request.user,
            marketing,
            MarketingConsent.Source.ACCOUNT,
            language=getattr(self.request, "LANGUAGE_CODE", ""),
        )
        if marketing:
            messages.success(self.request, _("We will send you offers and news by email."))
        else:
            messages.success(self.request, _("We will not send you offers and news by email."))
        return redirect("oscar_loyalty:rewards")


@method_decorator(csrf_exempt, name="dispatch")
class UnsubscribeView(TemplateView):
    """One-click unsubscribe from marketing emails (RFC 8058), no sign-in needed.

    The signed token in the link is the proof. Opening the link shows a button
    (a mail scanner following links changes nothing); a POST, from that button
    or from the mail client's own unsubscribe button, turns off the marketing
    consent and nothing else. CSRF protection is off: mail clients post without
    cookies, and the token already proves who asked.
    """

    template_name = "oscar_loyalty/unsubscribe.html"

    def get(self, request, token):
        return self.respond(token, done=False)

    def post(self, request, token):
        return self.respond(token, done=True)

    def respond(self, token, done):
        user = notifications.user_for_token(token)
        if user is None:
            return self.render_to_response({"invalid": True}, status=400)
        if done:
            set_marketing_consent(user, False, MarketingConsent.Source.UNSUBSCRIBE)
        return self.render_to_response({"done": done, "token": token})


class ReferralLinkView(View):
    """A friend's link: remember who sent the visitor, then show the shop."""

    def get(self, request, code):
        response = redirect(settings.OSCAR_HOMEPAGE)
        found = referrals.visit(request, response, code)
        if found:  # the shop opens with a banner: who invited them, and the gift
            messages.success(
                request,
                shopping.welcome_message(
                    shopping.inviter_name(found.user), reverse("customer:register")
                ),
                extra_tags="safe referral-welcome",
            )
        return response

    def head(self, request, code):
        """Link checkers and previews: the same redirect, neither counted nor remembered."""
        return redirect(settings.OSCAR_HOMEPAGE)


def announced_campaigns(user) -> list:
    """Campaigns giving more points right now to this customer (exclusions are not news)."""
    running = get_earning_rule().running(timezone.now(), user)
    return [c for c in running if c.multiplier > 1]


def birthday_context(user) -> dict:
    """The birthday block: shown only while the merchant pays a birthday bonus."""
    settings_ = bonus.action_settings(bonus.Action.BIRTHDAY)
    if not settings_.enabled or not settings_.points:
        return {}
    return {
        "birthday_points": settings_.points,
        "birthday": Birthday.objects.filter(user=user).first(),
        "birthday_form": BirthdayForm(),
    }


def how_to_earn() -> list[str]:
    """The earning rules in plain words, from the settings."""
    rate = loyalty_settings.POINTS_PER_UNIT
    days = loyalty_settings.RETURN_WINDOW_DAYS
    singular, plural = loyalty_settings.POINTS_NAME
    if rate <= 1 and (1 / rate) == (1 / rate).to_integral_value():
        earn = _("1 %(point)s for every %(amount)s you spend") % {
            "point": singular,
            "amount": currency((1 / rate).quantize(Decimal(1)), settings.OSCAR_DEFAULT_CURRENCY),
        }
    else:
        earn = _("%(rate)s %(points)s for every %(amount)s you spend") % {
            "rate": rate.normalize(),
            "points": plural,
            "amount": currency(Decimal(1), settings.OSCAR_DEFAULT_CURRENCY),
        }
    lines = [
        ngettext(
            "%(earn)s, yours %(days)d day after your order.",
            "%(earn)s, yours %(days)d days after your order.",
            days,
        )
        % {"earn": earn, "days": days}
    ]
    months = loyalty_settings.EXPIRY_MONTHS
    if loyalty_settings.EXPIRY_POLICY == "lifetime":
        lines.append(
            ngettext(
                "They expire %(months)d month after you earn them.",
                "They expire %(months)d months after you earn them.",
                months,
            )
            % {"months": months}
        )
    elif loyalty_settings.EXPIRY_POLICY == "inactivity":
        lines.append(
            ngettext(
                "They expire after %(months)d month without earning or using any.",
                "They expire after %(months)d months without earning or using any.",
                months,
            )
            % {"months": months}
        )
    lines.extend(bonus_lines())
    lines.append(
        _("Each %(point)s is worth %(value)s.")
        % {"point": singular, "value": currency(loyalty_settings.POINT_VALUE)}
    )
    return lines


def bonus_lines() -> list[str]:
    """The bonus actions the merchant pays for, in plain words."""
    texts = {
        bonus.Action.JOIN: _("%(points)s for joining."),
        bonus.Action.BIRTHDAY: _("%(points)s on your birthday, every year."),
        bonus.Action.REVIEW: _("%(points)s for each product review we publish."),
        bonus.Action.PROFILE: _("%(points)s for completing your profile (first and last name)."),
    }
    return [
        texts[action.action] % {"points": points_text(action.points)}
        for action in bonus.all_action_settings()
        if action.enabled and action.points > 0
    ]


def points_text(value: int) -> str:
    singular, plural = loyalty_settings.POINTS_NAME
    return f"{value} {singular if abs(value) == 1 else plural}"
