"""A customer's loyalty data: the export holds all of it, erasing leaves nothing personal."""

import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_loyalty import awards, consent, importing, ledger, privacy, redemption, tiers
from oscar_loyalty.models import (
    Account,
    DataRequest,
    ImportRejection,
    ImportRun,
    LedgerEntry,
    MarketingConsent,
    PendingAward,
    PointsLot,
    Redemption,
    Referral,
    ReferralCode,
    SentMessage,
    Tier,
    TierChange,
    TierStatus,
)
from tests.helpers import basket_for, personal_rows

pytestmark = pytest.mark.django_db
Order = get_model("order", "Order")
EMAIL, FIRST, LAST = "zoraida.q@example.com", "Zoraida", "Quintanilla"


@pytest.fixture
def zoraida(django_user_model):
    return django_user_model.objects.create_user(
        username="zq", email=EMAIL, first_name=FIRST, last_name=LAST, password="x"
    )


@pytest.fixture
def history(zoraida, staff, place_order, django_user_model):
    """A customer with a bit of everything: points, a pending award, an adjustment naming
    her, a referral each way, a consent, a sent email and a rejected import row."""
    account = ledger.get_account(zoraida)
    ledger.earn(account, 300, key="earn:test:1", reason="Order 1")
    ledger.adjust(
        account, 20, key="adjust:staff:z1", reason=f"Sorry {FIRST} {LAST}", staff_user=staff
    )
    order = place_order(zoraida, [("80.00", 1)])  # a pending award of 8 points
    friend = django_user_model.objects.create_user(username="f", email="friend@example.com")
    Referral.objects.create(referrer=zoraida, referred=friend, reason=f"{FIRST} asked")
    host = django_user_model.objects.create_user(username="h", email="host@example.com")
    Referral.objects.create(referrer=host, referred=zoraida)
    ReferralCode.objects.create(user=zoraida, code="ZORA1")
    consent.set_marketing_consent(zoraida, True, MarketingConsent.Source.ACCOUNT, "es")
    SentMessage.objects.create(user=zoraida, message="statement", key="statement:2026-10")
    gold = Tier.objects.create(name="Gold", level=2, threshold=500)
    tiers.move(zoraida, gold, f"Welcome to Gold, {FIRST}", staff)
    run = ImportRun.objects.create(name="old.csv")
    importing.run(run, io.BytesIO(f"email,points\n{EMAIL.upper()},-5\n".encode()))
    return {"account": account, "order": order, "friend": friend, "host": host}


def test_the_export_holds_every_section_with_readable_reasons(zoraida, history, staff):
    data = json.loads("".join(privacy.export(zoraida, staff, by_staff=True)))
    assert data["customer"]["email"] == EMAIL
    assert data["account"]["member_number"] == history["account"].pk
    assert data["account"]["balance"] == 320
    assert [e["points"] for e in data["ledger"]] == [300, 20]
    assert data["ledger"][1]["reason"] == f"Sorry {FIRST} {LAST}"
    assert [lot["remaining"] for lot in data["lots"]] == [300, 20]
    assert data["awards"][0]["order"] == str(history["order"].number)
    assert data["awards"][0]["status"] == "pending"
    assert {"your_code": "ZORA1"}.items() <= data["referrals"][0].items()
    assert any("you_referred_a_friend" in r for r in data["referrals"])
    assert any("a_friend_referred_you" in r for r in data["referrals"])
    assert "friend@example.com" not in json.dumps(data)  # a friend's data is theirs
    assert data["consents"][0]["marketing_emails"] is True
    assert data["messages"][0]["about"] == "statement:2026-10"
    assert data["account"]["tier"] == "Gold"
    assert data["tier_history"][0]["to"] == "Gold"
    assert data["tier_history"][0]["reason"] == f"Welcome to Gold, {FIRST}"
    logged = DataRequest.objects.get()
    assert (logged.action, logged.customer, logged.account, logged.requested_by) == (
        "export",
        zoraida,
        history["account"],
        staff,
    )
    assert logged.by_staff


def test_the_export_of_a_customer_without_an_account(customer):
    data = json.loads("".join(privacy.export(customer, customer)))
    assert data["account"] is None and data["ledger"] == []
    logged = DataRequest.objects.get()
    assert logged.requested_by == logged.customer == customer and not logged.by_staff


def test_the_export_streams_a_long_history_in_pieces(customer):
    account = ledger.get_account(customer)
    for n in range(30):
        ledger.earn(account, 1, key=f"earn:test:{n}", reason="r")
    privacy.CHUNK, chunk = 7, privacy.CHUNK
    try:
        pieces = list(privacy.export(customer, customer))
    finally:
        privacy.CHUNK = chunk
    assert len(pieces) > 30  # one piece per entry, never the whole history at once
    assert len(json.loads("".join(pieces))["ledger"]) == 30


def test_erasing_leaves_nothing_personal_in_any_loyalty_table(zoraida, history, staff):
    assert personal_rows(EMAIL, FIRST, LAST), "the search finds the customer before"
    entries = LedgerEntry.objects.filter(account=history["account"]).count()

    privacy.export(zoraida, zoraida)  # logged, naming her
    account = privacy.erase(zoraida, requested_by=staff)

    assert personal_rows(EMAIL, FIRST, LAST) == []
    account.refresh_from_db()
    assert account.user is None and account.closed_at is not None
    # the ledger keeps its amounts: what was there, plus the forfeits of the 320 points
    assert LedgerEntry.objects.filter(account=account).count() == entries + 2
    assert account.balance == 0 == ledger.balance_from_entries(account)
    assert PendingAward.objects.get(order=history["order"]).status == "void"
    assert not ReferralCode.objects.filter(user=zoraida).exists()
    assert not Referral.objects.filter(referrer=zoraida).exists()
    assert not Referral.objects.filter(referred=zoraida).exists()
    assert not MarketingConsent.objects.filter(user=zoraida).exists()
    assert not SentMessage.objects.filter(user=zoraida).exists()
    assert not ImportRejection.objects.exists()
    assert not TierStatus.objects.filter(account=account).exists()
    assert TierChange.objects.get(account=account).reason == ""  # the move stays, unnamed
    logged = DataRequest.objects.get(action="erase")
    assert (logged.account, logged.requested_by, logged.by_staff) == (account, staff, True)
    # the log no longer says whose the account was: not even her own export's entry
    assert not DataRequest.objects.filter(customer=zoraida).exists()
    assert not DataRequest.objects.filter(requested_by=zoraida).exists()
    assert DataRequest.objects.get(action="export").account == account
    # the customer still shops: a new, empty account the day they earn again
    assert ledger.get_account(zoraida).pk != account.pk


def test_erasing_twice_changes_nothing_more(zoraida, history, staff):
    privacy.erase(zoraida, requested_by=staff)
    before = (
        list(LedgerEntry.objects.values_list("pk", "points", "reason")),
        list(PointsLot.objects.values_list("pk", "remaining")),
    )
    assert privacy.erase(zoraida, requested_by=staff) is None  # no account is theirs now
    after = (
        list(LedgerEntry.objects.values_list("pk", "points", "reason")),
        list(PointsLot.objects.values_list("pk", "remaining")),
    )
    assert after == before


def test_erasing_while_a_points_voucher_is_open_gives_its_points_back_first(customer, staff):
    account = ledger.get_account(customer)
    ledger.earn(account, 100, key="earn:test:v", reason="r")
    basket = basket_for(customer, "120.00")
    used = redemption.redeem_points(customer, basket, 40)

    privacy.erase(customer, requested_by=staff)

    used.refresh_from_db()
    assert used.status == Redemption.Status.RESTORED
    assert not basket.vouchers.exists()
    assert used.voucher.end_datetime <= timezone.now()  # the code no longer works
    account.refresh_from_db()
    assert account.balance == 0 == ledger.balance_from_entries(account)
    assert sum(PointsLot.objects.filter(account=account).values_list("remaining", flat=True)) == 0


def test_points_coming_back_to_an_erased_account_are_forfeited(customer, staff, place_order):
    """An order paid with points, cancelled after the customer was erased."""
    account = ledger.get_account(customer)
    ledger.earn(account, 100, key="earn:test:c", reason="r")
    spent = ledger.spend(account, 30, key="spend:test:c", reason="r")
    privacy.erase(customer, requested_by=staff)

    ledger.restore(spent, key="restore:test:c", reason="Order cancelled")

    account.refresh_from_db()
    assert account.balance == 0 == ledger.balance_from_entries(account)
    assert not PointsLot.objects.filter(account=account, remaining__gt=0).exists()


def test_erasing_while_an_award_is_pending_voids_it_and_maturing_posts_nothing(
    customer, staff, place_order
):
    order = place_order(customer, [("200.00", 1)])
    account = ledger.get_account(customer)
    privacy.erase(customer, requested_by=staff)
    assert awards.mature_due_awards(now=timezone.now() + timedelta(days=400)) == 0
    assert PendingAward.objects.get(order=order).status == PendingAward.Status.VOID
    assert Account.objects.get(pk=account.pk).balance == 0
