"""The plugin's own signals reach a receiver once the work commits, and never before."""

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction

from oscar_loyalty import awards, expiry, ledger, signals
from oscar_loyalty.ledger import bulk
from oscar_loyalty.models import LedgerEntry, PendingAward, PointsLot, Referral
from tests.helpers import DAY0

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """Every signal of ours received, as (signal name, sender, arguments)."""
    received = []
    connected = []
    for name in ("points_posted", "award_matured", "points_expired", "referral_rewarded"):
        signal = getattr(signals, name)

        def receiver(sender, name=name, signal=None, **kwargs):
            received.append((name, sender, kwargs))

        signal.connect(receiver, weak=False, dispatch_uid=f"test-{name}")
        connected.append((signal, f"test-{name}"))
    yield received
    for signal, uid in connected:
        signal.disconnect(dispatch_uid=uid)


def test_points_posted_after_commit_only(account, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        entry = ledger.earn(account, 50, key="k1", reason="r")
        assert heard == []  # not before the commit
    assert len(callbacks) == 1
    assert heard == [("points_posted", LedgerEntry, {"entry": entry})]


def test_nothing_is_sent_for_a_rollback_or_a_replay(
    account, heard, django_capture_on_commit_callbacks
):
    ledger.earn(account, 50, key="k1", reason="r")
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            ledger.earn(account, 10, key="k2", reason="r")
            raise RuntimeError("the caller's transaction fails")
        ledger.earn(account, 50, key="k1", reason="r")  # replayed: posts nothing
    assert heard == []


@pytest.mark.parametrize("path", ["postgresql", "portable"])
def test_award_matured_once_per_chunk_with_the_entries(
    path, django_user_model, place_order, heard, monkeypatch, django_capture_on_commit_callbacks
):
    if path == "portable":
        monkeypatch.setattr(bulk, "earn_due_awards", bulk._earn_due_awards_portable)
    users = [django_user_model.objects.create_user(f"u{i}", f"u{i}@x.com") for i in range(3)]
    with time_machine.travel(DAY0, tick=False):
        for user in users:
            place_order(user, [("100.00", 1)])
    with django_capture_on_commit_callbacks(execute=True):
        posted = awards.mature_due_awards(now=DAY0 + timedelta(days=31), chunk_size=2)
        assert heard == []
    assert posted == 3
    assert [(name, sender) for name, sender, _kw in heard] == [
        ("award_matured", PendingAward),
        ("award_matured", PendingAward),
    ]
    entry_ids = [pk for _n, _s, kwargs in heard for pk in kwargs["entry_ids"]]
    earned = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EARN)
    assert sorted(entry_ids) == sorted(earned.values_list("pk", flat=True))


def test_points_expired_per_chunk(account, heard, django_capture_on_commit_callbacks):
    with time_machine.travel(DAY0, tick=False):
        ledger.earn(account, 50, key="k1", reason="r")
    heard.clear()
    lot = PointsLot.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert expiry.expire_due_points(now=lot.expires_at) == 1
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.EXPIRE)
    assert heard == [("points_expired", PointsLot, {"entry_ids": [entry.pk]})]


def test_referral_rewarded(customer, django_user_model, place_order, heard):
    friend = django_user_model.objects.create_user("friend", "friend@x.com")
    referral = Referral.objects.create(referrer=customer, referred=friend)
    place_order(friend, [("100.00", 1)])  # commits: its task runs, then the signal is sent
    rewarded = [kw for name, _sender, kw in heard if name == "referral_rewarded"]
    assert rewarded == [
        {"referral": referral, "award": PendingAward.objects.get(referral=referral)}
    ]
