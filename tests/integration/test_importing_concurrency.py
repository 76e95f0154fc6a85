"""Real threads against PostgreSQL: an import raced by itself, by a spend, by an erasure."""

import io

import pytest

from oscar_loyalty import importing, ledger, privacy
from oscar_loyalty.models import Account, ImportRun, LedgerEntry, PointsLot
from tests.helpers import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
FILE = b"email,points,expires_on\nana@example.com,40,2099-01-01\nana@example.com,60,\n"


def import_once(i):
    run = ImportRun.objects.create(name=f"{i}.csv")
    importing.run(run, io.BytesIO(FILE))
    run.refresh_from_db()
    return run


def test_the_same_file_imported_four_times_at_once_posts_once(customer):
    results = run_together(4, import_once)
    assert all(isinstance(r, ImportRun) for r in results), results
    account = Account.objects.get(user=customer)
    assert account.balance == 100 == ledger.balance_from_entries(account)
    assert LedgerEntry.objects.filter(account=account).count() == 2
    assert sum(r.imported for r in results) == 2 and sum(r.rejected for r in results) == 0


def test_an_import_and_spends_at_once_keep_the_balance_whole(customer):
    account = ledger.get_account(customer)
    ledger.earn(account, 50, key="earn:test:seed", reason="r")

    def work(i):
        if i == 0:
            return import_once(i)
        return ledger.spend(account.pk, 10, key=f"spend:test:{i}", reason="r")

    results = run_together(6, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    account.refresh_from_db()
    assert account.balance == 100 == ledger.balance_from_entries(account)
    lots = PointsLot.objects.filter(account=account).values_list("remaining", flat=True)
    assert sum(lots) == 100


def test_an_erasure_during_an_import_leaves_the_erased_account_empty(customer, staff):
    account = ledger.get_account(customer)
    ledger.earn(account, 5, key="earn:test:seed", reason="r")

    def work(i):
        return import_once(i) if i == 0 else privacy.erase(customer, requested_by=staff)

    results = run_together(2, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    account.refresh_from_db()
    assert account.user is None and account.balance == 0 == ledger.balance_from_entries(account)
    assert not PointsLot.objects.filter(account=account, remaining__gt=0).exists()
