"""A customer's loyalty data: everything we hold on them as JSON, and erasing it.

Data-protection law (the GDPR, Spain's LOPDGDD) gives customers the right to a
copy of their data and to have it erased. The export is streamed, section by
section, so a customer with a long history costs a constant amount of memory.
Erasing keeps what the shop's books need (the ledger's amounts, on an account
detached from the customer) and removes everything that says who they were.
Each export and erasure is logged in ``DataRequest`` (who, for whom, when).

Points still move only through ``ledger`` (and ``redemption`` for an open
points voucher); consents change only through ``consent``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import awards, ledger, redemption, tiers
from .consent import forget_consent
from .models import (
    Account,
    Birthday,
    DataRequest,
    ImportRejection,
    LedgerEntry,
    MarketingConsent,
    PendingAward,
    PointsLot,
    Redemption,
    Referral,
    ReferralCode,
    SentMessage,
    TierChange,
    TierStatus,
    WinBackCoupon,
)

# Rows read from the database at a time while streaming a long history.
CHUNK = 2000


def log(
    action: str, customer, account: Account | None, requested_by, by_staff: bool
) -> DataRequest:
    """Record an export or an erasure: who asked (a customer or staff), for whom, when."""
    return DataRequest.objects.create(
        action=action,
        customer=customer if getattr(customer, "pk", None) else None,
        account=account,
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
        by_staff=by_staff,
    )


def export(user, requested_by, by_staff: bool = False) -> Iterator[str]:
    """The customer's loyalty data as JSON text, in pieces, logged once when it starts.

    Sections: the account, the ledger with the reason the customer reads, the
    points lots, pending and past awards, redemptions, referrals, the
    marketing consent, the emails sent and the tier history. Friends are not named (their data
    is theirs): a referral says when and how it went, not who.
    """
    account = Account.objects.filter(user=user).first()
    log(DataRequest.Action.EXPORT, user, account, requested_by, by_staff)
    return _export(user, account)


def _export(user, account: Account | None) -> Iterator[str]:
    encoder = DjangoJSONEncoder(ensure_ascii=False, indent=None)
    yield "{"
    yield f'"exported_at": {encoder.encode(timezone.now())}, '
    yield f'"customer": {encoder.encode(_customer(user))}, '
    yield f'"account": {encoder.encode(_account(account))}'
    sections: list[tuple[str, Any]] = [
        ("ledger", _ledger(account)),
        ("lots", _lots(account)),
        ("awards", _awards(account)),
        ("redemptions", _redemptions(account)),
        ("referrals", _referrals(user)),
        ("consents", _consents(user)),
        ("messages", _messages(user)),
        ("tier_history", _tier_history(account)),
        ("birthday", _birthday(user)),
        ("winback_coupons", _winback_coupons(user)),
    ]
    for name, rows in sections:
        yield f', "{name}": ['
        first = True
        for row in rows:
            yield ("" if first else ", ") + encoder.encode(row)
            first = False
        yield "]"
    yield "}\n"


def _birthday(user) -> Iterator[dict]:
    for birthday in Birthday.objects.filter(user=user):
        yield {"day": birthday.day, "month": birthday.month, "consented_at": birthday.consented_at}


def _winback_coupons(user) -> Iterator[dict]:
    for coupon in WinBackCoupon.objects.filter(user=user).select_related("voucher"):
        code = coupon.voucher.code if coupon.voucher_id else None
        yield {"sent_at": coupon.sent_at, "code": code}


def _customer(user) -> dict:
    return {"email": user.email, "name": user.get_full_name(), "joined": user.date_joined}


def _account(account: Account | None) -> dict | None:
    if account is None:
        return None
    status = TierStatus.objects.filter(account=account).select_related("tier").first()
    return {
        "member_number": account.pk,
        "balance": account.balance,
        "created_at": account.created_at,
        "last_activity_at": account.last_activity_at,
        "tier": status.tier.display_name if status and status.tier else None,
        "tier_since": status.since if status and status.tier else None,
    }


def _tier_history(account: Account | None) -> Iterator[dict]:
    if account is None:
        return
    changes = (
        TierChange.objects.filter(account=account)
        .select_related("from_tier", "to_tier")
        .order_by("id")
    )
    for change in changes.iterator(chunk_size=CHUNK):
        yield {
            "date": change.created_at,
            "from": change.from_tier.display_name if change.from_tier_id else None,
            "to": change.to_tier.display_name if change.to_tier_id else None,
            "cause": change.cause,
            "reason": str(change.customer_reason()),
        }


def _ledger(account: Account | None) -> Iterator[dict]:
    if account is None:
        return
    entries = (
        LedgerEntry.objects.filter(account=account)
        .select_related("order", "voucher__loyalty_redemption__order")
        .order_by("id")
    )
    for entry in entries.iterator(chunk_size=CHUNK):
        yield {
            "date": entry.created_at,
            "kind": entry.kind,
            "points": entry.points,
            "balance_after": entry.balance_after,
            "reason": str(entry.customer_reason()),
            "order": entry.order.number if entry.order_id else None,
        }


def _lots(account: Account | None) -> Iterator[dict]:
    if account is None:
        return
    lots = PointsLot.objects.filter(account=account).order_by("id")
    for lot in lots.iterator(chunk_size=CHUNK):
        yield {
            "earned_at": lot.earned_at,
            "expires_at": lot.expires_at,
            "points": lot.points,
            "remaining": lot.remaining,
        }


def _awards(account: Account | None) -> Iterator[dict]:
    if account is None:
        return
    found = PendingAward.objects.filter(account=account).select_related("order").order_by("id")
    for award in found.iterator(chunk_size=CHUNK):
        yield {
            "order": None if award.referral_id else award.order.number,
            "for_a_referral": award.referral_id is not None,
            "points": award.points,
            "points_when_placed": award.original_points,
            "status": award.status,
            "available_from": award.matures_at,
            "created_at": award.created_at,
        }


def _redemptions(account: Account | None) -> Iterator[dict]:
    if account is None:
        return
    found = (
        Redemption.objects.filter(account=account)
        .select_related("reward", "voucher", "order")
        .order_by("id")
    )
    for used in found.iterator(chunk_size=CHUNK):
        yield {
            "points": used.points,
            "value": used.value,
            "reward": used.reward.name if used.reward_id else None,
            "code": used.voucher.code if used.voucher_id else None,
            "status": used.status,
            "order": used.order.number if used.order_id else None,
            "created_at": used.created_at,
            "expires_at": used.expires_at,
        }


def _referrals(user) -> Iterator[dict]:
    code = ReferralCode.objects.filter(user=user).first()
    if code is not None:
        yield {"your_code": code.code, "link_visits": code.visits, "created_at": code.created_at}
    for referral in Referral.objects.filter(referrer=user).order_by("id"):
        yield {"you_referred_a_friend": referral.created_at, "status": referral.status}
    for referral in Referral.objects.filter(referred=user):
        yield {"a_friend_referred_you": referral.created_at, "status": referral.status}


def _consents(user) -> Iterator[dict]:
    for consent in MarketingConsent.objects.filter(user=user):
        yield {
            "marketing_emails": consent.marketing,
            "changed_at": consent.changed_at,
            "where": consent.source,
            "language": consent.language,
        }


def _messages(user) -> Iterator[dict]:
    sent = SentMessage.objects.filter(user=user).order_by("id")
    for message in sent.iterator(chunk_size=CHUNK):
        yield {
            "message": message.message,
            "about": message.key,
            "claimed_at": message.claimed_at,
            "sent_at": message.sent_at,
        }


def export_filename(user) -> str:
    return f"loyalty-data-{user.pk}-{timezone.now():%Y%m%d}.json"


def erase(user, requested_by=None) -> Account | None:
    """Erase the customer's loyalty data; the shop's books keep their amounts.

    In one transaction: the points voucher not used yet gives its points back
    (so no open voucher is left bound to them), pending awards are voided, the
    balance is forfeited and the account detached from the customer
    (``ledger.close_account``, which also blanks staff's free-text reasons), and
    their tier goes, with staff's words on their tier moves (``tiers.forget``);
    the referral code and link, referrals, the consent, the record of emails
    sent, the birthday, the win-back coupons sent and any rejected import row
    naming them are deleted, and the log of their exports no longer names
    them. The erasure is logged against the account (a customer deleted with
    no account leaves no log). Erasing twice changes nothing more. Returns the
    (detached) account, if there was one.

    Runs too when Oscar deletes the customer (``receivers.customer_deleted``),
    inside the deletion's transaction.
    """
    with transaction.atomic():
        account = Account.objects.filter(user=user).first()
        if account is not None:
            for pk in Redemption.objects.filter(
                account=account, status=Redemption.Status.ACTIVE
            ).values_list("pk", flat=True):
                redemption.restore(pk, _("Customer's data erased"))
            awards.void_pending_awards(account)
            ledger.close_account(account)
            tiers.forget(account)
        ReferralCode.objects.filter(user=user).delete()
        Referral.objects.filter(referrer=user).delete()
        Referral.objects.filter(referred=user).delete()
        forget_consent(user)
        SentMessage.objects.filter(user=user).delete()
        Birthday.objects.filter(user=user).delete()
        WinBackCoupon.objects.filter(user=user).delete()
        if user.email:
            ImportRejection.objects.filter(email=user.email.strip().lower()).delete()
        DataRequest.objects.filter(customer=user).update(customer=None)
        DataRequest.objects.filter(requested_by=user, by_staff=False).update(requested_by=None)
        if account is not None or requested_by is not None:
            log(DataRequest.Action.ERASE, None, account, requested_by, requested_by is not None)
    return account
