"""Two maturation runs at once, on PostgreSQL with real threads."""

from datetime import timedelta

import pytest
import time_machine

from oscar_loyalty import awards, ledger
from oscar_loyalty.ledger import bulk
from oscar_loyalty.models import Account, LedgerEntry, PendingAward
from tests.helpers import DAY0, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=["postgresql", "portable"], autouse=True)
def maturation_path(request, monkeypatch):
    if request.param == "portable":
        monkeypatch.setattr(bulk, "earn_due_awards", bulk._earn_due_awards_portable)


def test_two_runs_at_once_post_every_award_exactly_once(django_user_model, place_order):
    users = [django_user_model.objects.create_user(f"u{i}", f"u{i}@x.com") for i in range(4)]
    with time_machine.travel(DAY0, tick=False):
        for i in range(24):
            place_order(users[i % 4], [("10.00", 1 + i % 5)])
    later = DAY0 + timedelta(days=31)
    results = run_together(4, lambda i: awards.mature_due_awards(now=later, chunk_size=3))
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 24
    assert LedgerEntry.objects.filter(kind="earn").count() == 24
    assert not PendingAward.objects.filter(status="pending").exists()
    for user in users:
        account = ledger.get_account(user)
        assert account.balance == ledger.balance_from_entries(account) > 0


def test_maturation_racing_other_writers_keeps_every_balance_right(django_user_model, place_order):
    """Entries posted by others while a chunk runs are counted in the chunk's running balances."""
    users = [django_user_model.objects.create_user(f"u{i}", f"u{i}@x.com") for i in range(3)]
    with time_machine.travel(DAY0, tick=False):
        for i in range(30):
            place_order(users[i % 3], [("10.00", 1 + i % 4)])
    accounts = [ledger.get_account(u).pk for u in users]
    later = DAY0 + timedelta(days=31)

    def work(i):
        if i < 2:
            return awards.mature_due_awards(now=later, chunk_size=4)
        for n in range(20):
            ledger.earn(accounts[n % 3], 1, key=f"bonus:{i}:{n}", reason="Bonus")
        return 0

    results = run_together(4, work)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 30
    for pk in accounts:
        balances = list(
            LedgerEntry.objects.filter(account_id=pk)
            .order_by("id")
            .values_list("points", "balance_after")
        )
        running = 0
        for points, after in balances:
            running += points
            assert after == running
        assert Account.objects.get(pk=pk).balance == running
