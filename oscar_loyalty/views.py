from decimal import Decimal

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.generic import TemplateView
from oscar.core.loading import get_class
from oscar.templatetags.currency_filters import currency

from . import maturation
from .conf import loyalty_settings
from .models import Account, LedgerEntry

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
        if account is None:
            return context
        context["pending"] = list(maturation.pending_awards(account))
        context["expiring"] = maturation.expiring_soon(account, days=30)
        entries, older = self.history(account)
        context["entries"] = entries
        context["older_than"] = entries[-1].pk if older else None
        context["is_first_page"] = "before" not in self.request.GET
        return context

    def history(self, account):
        """One page of entries, newest first, before the ``?before=<id>`` cursor."""
        entries = LedgerEntry.objects.filter(account=account).select_related("order")
        before = self.request.GET.get("before", "")
        if before.isdigit() and len(before) < 19:
            entries = entries.filter(pk__lt=int(before))
        page = list(entries.order_by("-pk")[: self.history_size + 1])
        return page[: self.history_size], len(page) > self.history_size


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
    lines.append(
        _("Each %(point)s is worth %(value)s.")
        % {"point": singular, "value": currency(loyalty_settings.POINT_VALUE)}
    )
    return lines
