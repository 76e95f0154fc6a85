"""The maturing job fanned out: ranges of due awards, one task each, shared by workers."""

from datetime import timedelta

import pytest
from django.test import override_settings

from oscar_loyalty import awards, ledger, tasks
from oscar_loyalty.ledger import bulk
from oscar_loyalty.models import LedgerEntry, PendingAward
from tests.helpers import DAY0, at, run_together

pytestmark = pytest.mark.django_db
LATER = DAY0 + timedelta(days=31)


@pytest.fixture(params=["postgresql", "portable"], autouse=True)
def maturation_path(request, monkeypatch):
    if request.param == "portable":
        monkeypatch.setattr(bulk, "earn_due_awards", bulk._earn_due_awards_portable)


@pytest.fixture
def due(django_user_model, place_order):
    """17 awards over 3 customers, all due by LATER (some at the same instant)."""
    users = [django_user_model.objects.create_user(f"f{i}", f"f{i}@x.com") for i in range(3)]
    for i in range(17):
        at(DAY0 + timedelta(hours=i // 2), place_order, users[i % 3], [("10.00", 1 + i % 4)])
    return users


def test_ranges_cover_every_due_award_once_in_order(due):
    ranges = awards.due_ranges(LATER, 5)
    assert len(ranges) == 4  # 5 + 5 + 5 + the open-ended rest (2)
    assert ranges[0][0] is None and ranges[-1][1] is None
    assert all(ranges[i][1] == ranges[i + 1][0] for i in range(3))
    posted = [awards.mature_due_awards(LATER, 2, after, until) for after, until in ranges]
    assert posted == [5, 5, 5, 2]
    assert not PendingAward.objects.filter(status="pending").exists()
    assert LedgerEntry.objects.filter(kind="earn").count() == 17


def test_a_range_run_twice_or_by_two_at_once_posts_once(due):
    ranges = awards.due_ranges(LATER, 6)
    after, until = ranges[1]
    assert awards.mature_due_awards(LATER, 4, after, until) == 6
    assert awards.mature_due_awards(LATER, 4, after, until) == 0
    assert awards.mature_due_awards(LATER, 4) == 11  # the rest, and nothing again
    for user in due:
        account = ledger.get_account(user)
        assert account.balance == ledger.balance_from_entries(account) > 0


def test_nothing_due_queues_nothing(due):
    assert awards.due_ranges(DAY0, 5) == []


@override_settings(OSCAR_LOYALTY_TASK_CHUNK_SIZE=1)
def test_the_periodic_task_fans_out_one_task_a_range(due, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.mature_award_range, "delay", lambda *a: queued.append(a))
    monkeypatch.setattr(tasks, "CHUNKS_PER_TASK", 4)
    assert at(LATER, tasks.mature_awards) == 5  # 17 awards, 4 a task
    assert queued[0][0] is None and queued[-1][1] is None
    assert not LedgerEntry.objects.exists()  # the queued tasks do the work
    # Each task's arguments go through JSON (Celery's serializer) and back.
    import json

    posted = [tasks.mature_award_range(*json.loads(json.dumps(args))) for args in queued]
    assert sum(posted) == 17
    assert LedgerEntry.objects.filter(kind="earn").count() == 17


@pytest.mark.parametrize(
    "position",
    [
        "garbage",
        ["2026-01-01T00:00:00", 3],  # no time zone
        ["not a date", 3],
        ["2026-01-01T00:00:00+00:00", "3"],
        ["2026-01-01T00:00:00+00:00", True],
        ["2026-01-01T00:00:00+00:00"],
    ],
)
def test_a_forged_range_is_refused_and_posts_nothing(due, position):
    with pytest.raises(ValueError):
        at(LATER, tasks.mature_award_range, position, None)
    assert not LedgerEntry.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_sharing_the_ranges_post_every_award_once(due):
    ranges = awards.due_ranges(LATER, 3) * 2  # every range given to two workers

    def work(i):
        return sum(
            awards.mature_due_awards(LATER, 2, after, until) for after, until in ranges[i::4]
        )

    results = run_together(4, work)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 17
    assert LedgerEntry.objects.filter(kind="earn").count() == 17
    for user in due:
        account = ledger.get_account(user)
        assert account.balance == ledger.balance_from_entries(account) > 0
