from django import forms
from django.utils.dates import MONTHS
from django.utils.translation import gettext_lazy as _

from . import bonus, referrals
from .exceptions import BonusError


class ConsentForm(forms.Form):
    marketing = forms.BooleanField(label=_("Send me offers and news by email"), required=False)


class BirthdayForm(forms.Form):
    """The Rewards page's birthday, kept only with the customer's consent (day and month)."""

    day = forms.IntegerField(label=_("Day"), min_value=1, max_value=31)
    month = forms.TypedChoiceField(label=_("Month"), coerce=int, choices=[])
    consent = forms.BooleanField(
        label=_("Keep my birthday to give me a present each year"), required=True
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["month"].choices = [(m, MONTHS[m]) for m in range(1, 13)]

    def clean(self):
        data = super().clean()
        if "day" in data and "month" in data:
            try:
                bonus.check_birthday(data["month"], data["day"])
            except BonusError as error:
                raise forms.ValidationError(error.message) from None
        return data


class SignupForm(forms.Form):
    """Extra sign-up fields for django-allauth (``ACCOUNT_SIGNUP_FORM_CLASS``).

    Asks for consent to marketing emails, unticked by default, and stores it.
    """

    marketing_consent = forms.BooleanField(
        label=_("Send me offers and news by email"), required=False, initial=False
    )

    def signup(self, request, user):
        referrals.signed_up(request, user, marketing=self.cleaned_data["marketing_consent"])
