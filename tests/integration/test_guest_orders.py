"""A guest's earlier orders, credited once when they verify the same address."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.account.signals import email_confirmed

from oscar_loyalty import awards, guests
from oscar_loyalty.models import GuestOrderCredit, PendingAward
from tests.helpers import balance

pytestmark = pytest.mark.django_db
DAY0 = datetime(2026, 6, 1, 10, tzinfo=UTC)


def verify(user, email, django_capture_on_commit_callbacks):
    address = EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    with django_capture_on_commit_callbacks(execute=True):
        email_confirmed.send(sender=EmailAddress, request=None, email_address=address)


def test_guest_orders_become_pending_awards_from_the_day_they_were_placed(
    customer, place_order, django_capture_on_commit_callbacks
):
    with time_machine.travel(DAY0, tick=False):
        order = place_order(None, [("100.00", 1)], guest_email="Ana@Example.com")
    with time_machine.travel(DAY0 + timedelta(days=3), tick=False):
        verify(customer, "ana@example.com", django_capture_on_commit_callbacks)
    award = PendingAward.objects.get(order=order)
    assert award.account.user == customer
    assert award.points == 10 and award.status == PendingAward.Status.PENDING
    assert award.matures_at == DAY0 + timedelta(days=30)
    awards.mature_due_awards(now=DAY0 + timedelta(days=30))
    assert balance(customer) == 10


def test_an_order_past_its_return_window_earns_at_once(
    customer, place_order, django_capture_on_commit_callbacks
):
    with time_machine.travel(DAY0, tick=False):
        order = place_order(None, [("250.00", 1)], guest_email="ana@example.com")
    with time_machine.travel(DAY0 + timedelta(days=90), tick=False):
        verify(customer, "ana@example.com", django_capture_on_commit_callbacks)
    assert PendingAward.objects.get(order=order).status == PendingAward.Status.EARNED
    assert balance(customer) == 25


def test_spellings_of_one_gmail_address_are_one_customer(
    django_user_model, place_order, django_capture_on_commit_callbacks
):
    place_order(None, [("100.00", 1)], guest_email="J.Doe+shop@googlemail.com")
    place_order(None, [("50.00", 1)], guest_email="someone.else@gmail.com")
    user = django_user_model.objects.create_user("jd", "jdoe@gmail.com", "x")
    verify(user, "jdoe@gmail.com", django_capture_on_commit_callbacks)
    assert PendingAward.objects.filter(account__user=user).count() == 1


def test_verifying_again_or_a_second_account_credits_nothing_more(
    customer, django_user_model, place_order, django_capture_on_commit_callbacks
):
    place_order(None, [("100.00", 1)], guest_email="ana@example.com")
    verify(customer, "ana@example.com", django_capture_on_commit_callbacks)
    assert guests.credit_guest_orders(customer, "ana@example.com") == []
    twin = django_user_model.objects.create_user("twin", "ana+twin@example.com", "x")
    verify(twin, "ana+twin@example.com", django_capture_on_commit_callbacks)
    assert PendingAward.objects.count() == 1
    assert GuestOrderCredit.objects.get().user == customer
    assert not PendingAward.objects.filter(account__user=twin).exists()


def test_cancelled_and_refunded_guest_orders_earn_what_they_kept(
    customer, place_order, django_capture_on_commit_callbacks
):
    cancelled = place_order(None, [("100.00", 1)], guest_email="ana@example.com")
    cancelled.set_status("Cancelled")
    partly = place_order(None, [("100.00", 1), ("60.00", 1)], guest_email="ana@example.com")
    partly.lines.get(line_price_incl_tax="60.00").set_status("Refunded")
    verify(customer, "ana@example.com", django_capture_on_commit_callbacks)
    assert not PendingAward.objects.filter(order=cancelled).exists()
    assert PendingAward.objects.get(order=partly).points == 10


def test_orders_with_another_address_or_of_signed_in_customers_are_left_alone(
    customer, django_user_model, place_order, django_capture_on_commit_callbacks
):
    other = django_user_model.objects.create_user("o", "other@example.com", "x")
    place_order(other, [("100.00", 1)])
    place_order(None, [("100.00", 1)], guest_email="ana@example.org")
    verify(customer, "ana@example.com", django_capture_on_commit_callbacks)
    assert not PendingAward.objects.filter(account__user=customer).exists()


@pytest.mark.parametrize("email", ["", None, "not-an-address", "@", "a@"])
def test_garbage_addresses_credit_nothing(customer, place_order, email):
    place_order(None, [("100.00", 1)], guest_email="ana@example.com")
    assert guests.credit_guest_orders(customer, email) == []
    assert not GuestOrderCredit.objects.exists()


def test_a_credited_guest_order_refunded_after_maturing_is_taken_back(
    customer, place_order, django_capture_on_commit_callbacks
):
    with time_machine.travel(DAY0, tick=False):
        order = place_order(None, [("100.00", 1), ("60.00", 1)], guest_email="ana@example.com")
    with time_machine.travel(DAY0 + timedelta(days=40), tick=False):
        verify(customer, "ana@example.com", django_capture_on_commit_callbacks)
        assert balance(customer) == 16
        order.lines.get(line_price_incl_tax="100.00").set_status("Refunded")
    assert balance(customer) == 6
