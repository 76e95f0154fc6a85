from django import forms
from django.utils.translation import gettext_lazy as _

from . import referrals


class ConsentForm(forms.Form):
    marketing = forms.BooleanField(label=_("Send me offers and news by email"), required=False)


class SignupForm(forms.Form):
    """Extra sign-up fields for django-allauth (``ACCOUNT_SIGNUP_FORM_CLASS``).

    Asks for consent to marketing emails, unticked by default, and stores it.
    """

    marketing_consent = forms.BooleanField(
        label=_("Send me offers and news by email"), required=False, initial=False
    )

    def signup(self, request, user):
        referrals.signed_up(request, user, marketing=self.cleaned_data["marketing_consent"])
