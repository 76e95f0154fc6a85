"""Real threads against PostgreSQL: row locks and unique keys, not luck."""

import pytest

from oscar_loyalty import ledger
from oscar_loyalty.models import LedgerEntry
from tests.helpers import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_sixteen_spends_from_an_account_that_affords_ten(account):
    ledger.earn(account, 100, key="seed", reason="r")
    results = run_together(16, lambda i: ledger.spend(account.pk, 10, key=f"spend:{i}", reason="r"))
    succeeded = [r for r in results if isinstance(r, LedgerEntry)]
    refused = [r for r in results if isinstance(r, ledger.InsufficientPoints)]
    assert (len(succeeded), len(refused)) == (10, 6), results
    account.refresh_from_db()
    assert account.balance == 0 == ledger.balance_from_entries(account)
    balances = LedgerEntry.objects.filter(account=account).values_list("balance_after", flat=True)
    assert min(balances) == 0


def test_eight_identical_earns_post_one_entry(account):
    results = run_together(
        8, lambda i: ledger.earn(account.pk, 50, key="earn:order:42", reason="Order 42")
    )
    assert all(isinstance(r, LedgerEntry) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert LedgerEntry.objects.filter(idempotency_key="earn:order:42").count() == 1
    account.refresh_from_db()
    assert account.balance == 50


def test_one_key_raced_by_two_accounts_posts_once(account, django_user_model):
    other = ledger.get_account(django_user_model.objects.create_user("bo", "bo@example.com"))
    accounts = [account, other] * 4
    results = run_together(8, lambda i: ledger.earn(accounts[i].pk, 5, key="k", reason="r"))
    assert LedgerEntry.objects.filter(idempotency_key="k").count() == 1
    winner = LedgerEntry.objects.get(idempotency_key="k").account_id
    for acct, result in zip(accounts, results, strict=True):
        expected = LedgerEntry if acct.pk == winner else ledger.LedgerError
        assert isinstance(result, expected), result
