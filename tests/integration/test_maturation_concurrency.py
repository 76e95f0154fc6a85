"""Two maturation runs at once, on PostgreSQL with real threads."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from oscar_loyalty import ledger, maturation
from oscar_loyalty.models import LedgerEntry, PendingAward

from .test_ledger_concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
DAY0 = datetime(2026, 1, 15, 9, tzinfo=UTC)


def test_two_runs_at_once_post_every_award_exactly_once(django_user_model, place_order):
    users = [django_user_model.objects.create_user(f"u{i}", f"u{i}@x.com") for i in range(4)]
    with time_machine.travel(DAY0, tick=False):
        for i in range(24):
            place_order(users[i % 4], [("10.00", 1 + i % 5)])
    later = DAY0 + timedelta(days=31)
    results = run_together(4, lambda i: maturation.mature_due_awards(now=later, chunk_size=3))
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 24
    assert LedgerEntry.objects.filter(kind="earn").count() == 24
    assert not PendingAward.objects.filter(status="pending").exists()
    for user in users:
        account = ledger.get_account(user)
        assert account.balance == ledger.balance_from_entries(account) > 0
