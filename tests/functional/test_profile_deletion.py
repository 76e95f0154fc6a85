"""A customer with points deletes their profile on Oscar's own page."""

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from oscar.core.loading import get_model

from oscar_loyalty import awards, consent, importing, ledger
from oscar_loyalty.models import (
    Account,
    DataRequest,
    ImportRun,
    LedgerEntry,
    MarketingConsent,
    PendingAward,
    PointsLot,
    Referral,
    ReferralCode,
    SentMessage,
)
from tests.helpers import personal_rows

pytestmark = pytest.mark.django_db
User = get_model("auth", "User")
Order = get_model("order", "Order")
Kind = LedgerEntry.Kind
DAY0 = datetime(2026, 5, 4, 10, tzinfo=UTC)


def delete_profile(app, user):
    page = app.get(reverse("customer:profile-delete"), user=user)
    form = next(f for f in page.forms.values() if "password" in f.fields)
    form["password"] = "x"
    return form.submit(user=user)


def test_deleting_a_profile_with_points_keeps_the_ledger_detached(
    django_app, customer, place_order, staff
):
    with time_machine.travel(DAY0, tick=False):
        earned = place_order(customer, [("200.00", 1)])  # 20 points
    with time_machine.travel(DAY0 + timedelta(days=31), tick=False):
        awards.mature_due_awards()
        pending = place_order(customer, [("50.00", 1)])  # 5 points, still pending
        account = ledger.get_account(customer)
        ledger.spend(account, 4, key="spend:gift", reason="Gift")
        ledger.adjust(account, 3, key="adjust:1", reason="Sorry, Ana García", staff_user=staff)
        entries = LedgerEntry.objects.filter(account=account).count()

        response = delete_profile(django_app, customer)

    assert response.status_code == 302
    assert not User.objects.filter(pk=customer.pk).exists()
    account = Account.objects.get(pk=account.pk)
    assert account.user is None and account.closed_at is not None
    # nothing removed: the 19 points left are forfeited, an expiry per lot (the earned
    # one and the adjustment's); the pending award is voided
    forfeits = LedgerEntry.objects.filter(account=account, idempotency_key__startswith="close:")
    assert LedgerEntry.objects.filter(account=account).count() == entries + 2
    assert {e.kind for e in forfeits} == {Kind.EXPIRE}
    assert sorted(e.points for e in forfeits) == [-16, -3]
    assert account.balance == 0 == ledger.balance_from_entries(account)
    assert not PointsLot.objects.filter(account=account, remaining__gt=0).exists()
    assert PendingAward.objects.get(order=pending).status == PendingAward.Status.VOID
    # anonymised: no entry keeps words a person wrote about the customer
    assert not LedgerEntry.objects.filter(reason__contains="Ana").exists()
    # Oscar keeps the orders, without their customer, and the entries still point at them
    assert Order.objects.get(pk=earned.pk).user is None
    assert LedgerEntry.objects.get(kind=Kind.EARN, account=account).order_id == earned.pk
    assert "Deleted customer" in str(account)


def test_deleting_a_customer_without_an_account_or_twice_is_harmless(django_user_model):
    user = django_user_model.objects.create_user(username="b", email="b@example.com")
    user.delete()
    account = ledger.get_account(
        django_user_model.objects.create_user(username="c", email="c@example.com")
    )
    assert ledger.close_account(account) == 0
    assert ledger.close_account(account) == 0


def test_a_referrer_who_deletes_their_profile(django_app, customer, django_user_model):
    friend = django_user_model.objects.create_user(username="f", email="f@example.com")
    Referral.objects.create(referrer=customer, referred=friend)
    ledger.get_account(customer)
    delete_profile(django_app, customer)
    assert not Referral.objects.exists()
    assert User.objects.filter(pk=friend.pk).exists()


def test_deleting_a_profile_leaves_nothing_personal_in_any_loyalty_table(
    django_app, django_user_model, staff
):
    """The deletion erases the customer's data as staff erasing it would (``privacy.erase``)."""
    user = django_user_model.objects.create_user(
        username="zq",
        email="zoraida.q@example.com",
        first_name="Zoraida",
        last_name="Quintanilla",
        password="x",
    )
    account = ledger.get_account(user)
    ledger.adjust(account, 5, key="adjust:z", reason="For Zoraida Quintanilla", staff_user=staff)
    consent.set_marketing_consent(user, True, MarketingConsent.Source.SIGNUP)
    SentMessage.objects.create(user=user, message="statement", key="statement:2026-10")
    ReferralCode.objects.create(user=user, code="ZQ1")
    importing.run(
        ImportRun.objects.create(name="old.csv"),
        io.BytesIO(b"email,points\nZoraida.Q@example.com,-4\n"),
    )
    needles = ("zoraida.q@example.com", "Zoraida", "Quintanilla")
    assert personal_rows(*needles)

    delete_profile(django_app, user)

    assert personal_rows(*needles) == []
    assert DataRequest.objects.get().account == account
    assert Account.objects.get(pk=account.pk).balance == 0
