"""Whether a customer agreed to marketing emails: read and changed here only.

No record means they were never asked, which counts as no. Each change keeps
when it was made, as data-protection rules ask.
"""

from django.utils import timezone

from .models import MarketingConsent


def marketing_consent(user) -> MarketingConsent:
    """The customer's consent; an unsaved "no" if they never answered."""
    found = MarketingConsent.objects.filter(user=user).first()
    return found or MarketingConsent(user=user, marketing=False, changed_at=None)


def set_marketing_consent(user, marketing: bool) -> MarketingConsent:
    """Record the customer's answer; an unchanged answer keeps its date."""
    if not isinstance(marketing, bool):
        raise TypeError("marketing must be True or False")
    consent, created = MarketingConsent.objects.get_or_create(
        user=user, defaults={"marketing": marketing, "changed_at": timezone.now()}
    )
    if not created and consent.marketing != marketing:
        consent.marketing = marketing
        consent.changed_at = timezone.now()
        consent.save(update_fields=["marketing", "changed_at"])
    return consent
