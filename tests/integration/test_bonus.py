"""Points for actions: joining, a birthday, an approved review, a completed profile."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings
from oscar.apps.customer.signals import user_registered
from oscar.core.loading import get_model
from oscar.test.factories import create_product

from oscar_loyalty import bonus, keys, ledger
from oscar_loyalty.earning import EarningRule
from oscar_loyalty.exceptions import BonusError
from oscar_loyalty.models import Birthday, BonusAction, LedgerEntry
from tests.helpers import balance

pytestmark = pytest.mark.django_db
ProductReview = get_model("reviews", "ProductReview")
Action = BonusAction.Action
DAY0 = datetime(2026, 5, 10, 9, tzinfo=UTC)


def switch_on(action, points, **caps):
    return BonusAction.objects.update_or_create(
        action=action, defaults={"enabled": True, "points": points, **caps}
    )[0]


def review(user, product=None, status=ProductReview.APPROVED):
    return ProductReview.objects.create(
        product=product or create_product(),
        user=user,
        title="Great",
        body="Really good",
        score=5,
        status=status,
    )


# Joining


def test_joining_pays_what_the_merchant_set(customer, django_user_model):
    switch_on(Action.JOIN, 40)
    new = django_user_model.objects.create_user("new", "new@example.com", "x")
    user_registered.send(sender=None, request=None, user=new)
    user_registered.send(sender=None, request=None, user=new)  # a signal fired twice
    assert balance(new) == 40
    entry = LedgerEntry.objects.get(account__user=new)
    assert entry.idempotency_key == keys.welcome_earn(new.pk)
    assert str(entry.customer_reason()) == "Welcome bonus"


@override_settings(OSCAR_LOYALTY_WELCOME_BONUS_POINTS=25)
def test_joining_defaults_to_the_old_welcome_setting_until_the_merchant_saves_it(customer):
    assert bonus.joined(customer).points == 25
    BonusAction.objects.update_or_create(action=Action.JOIN, defaults={"enabled": False})
    other = type(customer).objects.create_user("other", "other@example.com", "x")
    assert bonus.joined(other) is None
    assert balance(other) == 0


def test_an_action_switched_off_or_worth_nothing_pays_nothing(customer):
    assert bonus.profile_saved(customer) is None  # off by default
    switch_on(Action.PROFILE, 0)
    customer.first_name, customer.last_name = "Ana", "Ruiz"
    customer.save()
    assert balance(customer) == 0


# Reviews


def test_an_approved_review_pays_once_per_product(customer):
    switch_on(Action.REVIEW, 15)
    product = create_product()
    written = review(customer, product, status=ProductReview.FOR_MODERATION)
    assert balance(customer) == 0
    written.status = ProductReview.APPROVED
    written.save()
    written.save()  # saved again: no second bonus
    assert balance(customer) == 15
    review(customer)  # another product earns again
    assert balance(customer) == 30
    entry = LedgerEntry.objects.filter(account__user=customer).last()
    assert entry.idempotency_key == keys.review_earn(customer.pk, product.pk)


def test_an_anonymous_review_earns_nothing(customer):
    switch_on(Action.REVIEW, 15)
    ProductReview.objects.create(
        product=create_product(),
        name="Guest",
        email="g@example.com",
        title="t",
        body="b",
        score=3,
        status=ProductReview.APPROVED,
    )
    assert not LedgerEntry.objects.exists()


def test_a_review_unapproved_or_deleted_gives_its_bonus_back_and_pays_once_only(customer):
    switch_on(Action.REVIEW, 15)
    written = review(customer)
    assert balance(customer) == 15
    written.status = ProductReview.REJECTED
    written.save()
    assert balance(customer) == 0
    written.status = ProductReview.APPROVED  # approved again: one bonus per product, ever
    written.save()
    assert balance(customer) == 0
    second = review(customer)
    second.delete()
    assert balance(customer) == 0
    clawbacks = LedgerEntry.objects.filter(account__user=customer, kind="clawback")
    assert (
        sorted(str(e.customer_reason()) for e in clawbacks)
        == ["Your product review was withdrawn"] * 2
    )


def test_a_withdrawn_review_never_overdraws(customer):
    switch_on(Action.REVIEW, 15)
    written = review(customer)
    account = ledger.get_account(customer)
    ledger.spend(account, 10, key="spend:redemption:999001", reason="spent")
    written.status = ProductReview.REJECTED
    written.save()
    assert balance(customer) == 0


def test_review_caps_count_a_day_and_ever(customer):
    switch_on(Action.REVIEW, 5, daily_cap=2, lifetime_cap=3)
    with time_machine.travel(DAY0, tick=False):
        for _ in range(3):
            review(customer)
    assert balance(customer) == 10
    with time_machine.travel(DAY0 + timedelta(days=1), tick=False):
        review(customer)
        review(customer)
    assert balance(customer) == 15


# Profile


def test_completing_the_profile_pays_once(customer):
    switch_on(Action.PROFILE, 20)
    customer.first_name = "Ana"
    customer.save()
    assert balance(customer) == 0  # no last name yet
    customer.last_name = "Ruiz"
    customer.save()
    customer.first_name = "Ana María"
    customer.save()
    assert balance(customer) == 20


def test_a_login_does_not_look_at_the_profile(customer, django_assert_max_num_queries):
    switch_on(Action.PROFILE, 20)
    with django_assert_max_num_queries(1):
        customer.save(update_fields=["last_login"])


class GenerousRule(EarningRule):
    def action_points(self, action, user, settings):
        return (
            settings.points * 3
            if action == "review"
            else super().action_points(action, user, settings)
        )


@override_settings(OSCAR_LOYALTY_EARNING_RULE="tests.integration.test_bonus.GenerousRule")
def test_a_store_changes_what_an_action_is_worth_in_its_earning_rule(customer):
    switch_on(Action.REVIEW, 5)
    review(customer)
    assert balance(customer) == 15


# Birthdays


def test_a_birthday_pays_once_a_year_on_the_day(customer):
    switch_on(Action.BIRTHDAY, 50)
    bonus.set_birthday(customer, 5, 10, consent=True)
    assert bonus.give_birthday_bonuses(DAY0 - timedelta(days=1)) == 0
    assert bonus.give_birthday_bonuses(DAY0) == 1
    bonus.give_birthday_bonuses(DAY0 + timedelta(hours=5))  # the job ran twice
    assert balance(customer) == 50
    bonus.give_birthday_bonuses(DAY0.replace(year=2027))
    assert balance(customer) == 100
    entry = LedgerEntry.objects.filter(account__user=customer).first()
    assert entry.idempotency_key == keys.birthday_earn(customer.pk, 2027)
    assert str(entry.customer_reason()) == "Happy birthday!"


def test_a_29_february_birthday_is_celebrated_on_the_28th_in_other_years(customer):
    switch_on(Action.BIRTHDAY, 50)
    bonus.set_birthday(customer, 2, 29, consent=True)
    bonus.give_birthday_bonuses(datetime(2027, 2, 28, 9, tzinfo=UTC))
    assert balance(customer) == 50
    bonus.give_birthday_bonuses(datetime(2028, 2, 28, 9, tzinfo=UTC))
    assert balance(customer) == 50  # 2028 has a 29th
    bonus.give_birthday_bonuses(datetime(2028, 2, 29, 9, tzinfo=UTC))
    assert balance(customer) == 100


def test_birthdays_switched_off_pay_nothing(customer):
    bonus.set_birthday(customer, 5, 10, consent=True)
    assert bonus.give_birthday_bonuses(DAY0) == 0
    assert balance(customer) == 0


@pytest.mark.parametrize(
    "month,day,consent",
    [
        (2, 30, True),
        (4, 31, True),
        (13, 1, True),
        (0, 5, True),
        (-1, 5, True),
        ("x", 1, True),
        (None, None, True),
        (10**12, 1, True),
        (5, 10, False),
        (5, 10, "yes"),
    ],
)
def test_a_bad_birthday_or_no_consent_is_refused_and_nothing_kept(customer, month, day, consent):
    with pytest.raises(BonusError):
        bonus.set_birthday(customer, month, day, consent=consent)
    assert not Birthday.objects.exists()


def test_a_saved_birthday_cannot_be_moved_only_removed(customer):
    bonus.set_birthday(customer, 5, 10, consent=True)
    bonus.set_birthday(customer, 5, 10, consent=True)  # the same again is fine
    with pytest.raises(BonusError):
        bonus.set_birthday(customer, 5, 11, consent=True)
    bonus.remove_birthday(customer)
    assert not Birthday.objects.exists()


def test_an_inactive_customer_gets_no_birthday_bonus(customer):
    switch_on(Action.BIRTHDAY, 50)
    bonus.set_birthday(customer, 5, 10, consent=True)
    customer.is_active = False
    customer.save()
    assert bonus.give_birthday_bonuses(DAY0) == 0


def test_erasing_the_customer_forgets_their_birthday(customer, staff):
    from oscar_loyalty import privacy

    bonus.set_birthday(customer, 5, 10, consent=True)
    exported = "".join(privacy.export(customer, requested_by=customer))
    assert '"birthday": [{"day": 10, "month": 5' in exported
    privacy.erase(customer, requested_by=staff)
    assert not Birthday.objects.exists()
