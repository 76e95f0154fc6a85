"""Two tabs spending the same points at the same moment: only one succeeds."""

import pytest
from oscar.core.loading import get_model

from oscar_loyalty import ledger, redemption
from oscar_loyalty.models import Redemption
from tests.helpers import basket_for, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
Basket = get_model("basket", "Basket")


def outcome(results):
    won = [r for r in results if isinstance(r, Redemption)]
    lost = [r for r in results if isinstance(r, redemption.RedemptionError)]
    assert len(won) + len(lost) == len(results), results
    return won, lost


def test_two_baskets_racing_for_the_same_points(customer):
    ledger.earn(ledger.get_account(customer), 80, key="seed", reason="r")
    baskets = [basket_for(customer, "200.00"), basket_for(customer, "200.00")]
    results = run_together(2, lambda i: redemption.redeem_points(customer, baskets[i], 80))
    won, lost = outcome(results)
    assert (len(won), len(lost)) == (1, 1)
    assert "not enough" in lost[0].message
    account = ledger.get_account(customer)
    assert account.balance == 0 == ledger.balance_from_entries(account)


def test_two_tabs_on_one_basket_get_one_points_voucher(customer):
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="r")
    basket = basket_for(customer, "200.00")
    results = run_together(2, lambda i: redemption.redeem_points(customer, basket, 30))
    won, lost = outcome(results)
    assert (len(won), len(lost)) == (1, 1)
    assert "already has a points voucher" in lost[0].message
    assert ledger.get_account(customer).balance == 70
    assert Basket.objects.get(pk=basket.pk).vouchers.count() == 1


def test_restoring_twice_at_once_restores_once(customer):
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="r")
    used = redemption.redeem_points(customer, basket_for(customer, "200.00"), 50)
    run_together(4, lambda i: redemption.restore(used.pk))
    account = ledger.get_account(customer)
    assert account.balance == 100 == ledger.balance_from_entries(account)
