"""Whether a customer agreed to marketing emails: read and changed here only.

No record means they were never asked, which counts as no. Each change keeps
when it was made and where (sign-up, Rewards page, app, unsubscribe link,
import), as data-protection rules ask; the customer's language is kept beside
it, so emails sent by a periodic job speak it.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .models import MarketingConsent


def marketing_consent(user) -> MarketingConsent:
    """The customer's consent; an unsaved "no" if they never answered."""
    found = MarketingConsent.objects.filter(user=user).first()
    return found or MarketingConsent(user=user, marketing=False, changed_at=None)


def set_marketing_consent(
    user,
    marketing: bool,
    source: str,
    language: str = "",
    changed_at: datetime | None = None,
) -> MarketingConsent:
    """Record the customer's answer, with when and where (``MarketingConsent.Source``) they gave it.

    An unchanged answer keeps its date and source (ticking "yes" again keeps
    the day consent was first given); a language given is kept up to date.
    ``changed_at`` is for importing consents given elsewhere.
    """
    if not isinstance(marketing, bool):
        raise TypeError("marketing must be True or False")
    with transaction.atomic():
        consent, created = MarketingConsent.objects.select_for_update().get_or_create(
            user=user,
            defaults={
                "marketing": marketing,
                "source": source,
                "language": language,
                "changed_at": changed_at or timezone.now(),
            },
        )
        if created:
            return consent
        fields = []
        if consent.marketing != marketing:
            consent.marketing, consent.source = marketing, source
            consent.changed_at = changed_at or timezone.now()
            fields += ["marketing", "source", "changed_at"]
        if language and consent.language != language:
            consent.language = language
            fields.append("language")
        if fields:
            consent.save(update_fields=fields)
    return consent


def import_consents(answers: dict[int, tuple[bool, datetime]]) -> set[int]:
    """Record answers given in another program: ``{user id: (marketing, when)}``.

    A customer with no answer here gets the imported one (source "import");
    one whose own answer is older and different gets it too; a newer answer
    of theirs, or the same one, is kept as it is, so importing the same file
    again changes nothing and never overrides what a customer said since.
    Returns the ids of the customers whose consent changed. Three statements
    for any number of customers: the caller runs it inside a transaction.
    """
    if not answers:
        return set()
    existing = {
        c.user_id: c
        for c in MarketingConsent.objects.select_for_update().filter(user_id__in=list(answers))
    }
    new, changed = [], []
    for user_id, (marketing, when) in answers.items():
        consent = existing.get(user_id)
        if consent is None:
            new.append(
                MarketingConsent(
                    user_id=user_id,
                    marketing=marketing,
                    changed_at=when,
                    source=MarketingConsent.Source.IMPORT,
                )
            )
        elif consent.marketing != marketing and consent.changed_at < when:
            consent.marketing, consent.changed_at = marketing, when
            consent.source = MarketingConsent.Source.IMPORT
            changed.append(consent)
    MarketingConsent.objects.bulk_create(new, ignore_conflicts=True)
    MarketingConsent.objects.bulk_update(changed, ["marketing", "changed_at", "source"])
    return {c.user_id for c in new} | {c.user_id for c in changed}


def forget_consent(user) -> int:
    """Erase the customer's consent record (``privacy.erase``): they count as never asked."""
    return MarketingConsent.objects.filter(user=user).delete()[0]
