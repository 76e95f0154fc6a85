"""Random sequences of ledger operations, with replays, against a simple model."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from oscar_loyalty import ledger
from oscar_loyalty.models import LedgerEntry, PointsLot

KEYS = st.sampled_from([f"key{i}" for i in range(8)])
POINTS = st.integers(min_value=1, max_value=400)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # Each run gets its own customer: runs share the test's transaction.
        self.uid = uuid.uuid4().hex
        user = get_user_model().objects.create_user(self.uid[:30], f"{self.uid}@example.com")
        self.staff = get_user_model().objects.create_user(f"s{self.uid[:29]}", is_staff=True)
        self.account = ledger.get_account(user)
        self.balance = 0
        self.used = {}  # key -> (kind, entry id)

    def key(self, name):
        return f"{self.uid}:{name}"

    def snapshot(self):
        self.account.refresh_from_db()
        return (
            self.account.balance,
            list(LedgerEntry.objects.filter(account=self.account).values_list("id", "points")),
            list(PointsLot.objects.filter(account=self.account).values_list("id", "remaining")),
        )

    def post(self, kind, name, call, expected_change):
        """Run ``call``; check it posted ``expected_change`` once, or was a replay."""
        key = self.key(name)
        before = self.snapshot()
        if key in self.used:
            used_kind, entry_id = self.used[key]
            if used_kind == kind:
                assert call(key).pk == entry_id
            else:
                with pytest.raises(ledger.LedgerError):
                    call(key)
            assert self.snapshot() == before, "a replay changed something"
            return
        if expected_change is None:  # must be refused
            with pytest.raises(ledger.LedgerError):
                call(key)
            assert self.snapshot() == before, "a refused operation changed something"
            return
        entry = call(key)
        if expected_change == 0:
            assert entry is None
            return
        assert entry.points == expected_change
        self.used[key] = (kind, entry.pk)
        self.balance += expected_change

    @rule(points=POINTS, name=KEYS)
    def earn(self, points, name):
        self.post(
            "earn", name, lambda k: ledger.earn(self.account, points, key=k, reason="r"), points
        )

    @rule(points=POINTS, name=KEYS)
    def spend(self, points, name):
        expected = -points if points <= self.balance else None
        self.post(
            "spend", name, lambda k: ledger.spend(self.account, points, key=k, reason="r"), expected
        )

    @rule(points=POINTS, name=KEYS)
    def clawback(self, points, name):
        self.post(
            "clawback",
            name,
            lambda k: ledger.clawback(self.account, points, key=k, reason="r"),
            -min(points, self.balance),
        )

    @rule(points=st.integers(-400, 400).filter(bool), name=KEYS)
    def adjust(self, points, name):
        expected = points if self.balance + points >= 0 else None
        self.post(
            "adjustment",
            name,
            lambda k: ledger.adjust(self.account, points, key=k, reason="r", staff_user=self.staff),
            expected,
        )

    @precondition(lambda self: any(kind == "spend" for kind, _ in self.used.values()))
    @rule(data=st.data(), name=KEYS, partial=st.booleans())
    def restore(self, data, name, partial):
        spends = sorted(pk for kind, pk in self.used.values() if kind == "spend")
        spent = LedgerEntry.objects.get(pk=data.draw(st.sampled_from(spends)))
        restored = sum(LedgerEntry.objects.filter(reverses=spent).values_list("points", flat=True))
        left = -spent.points - restored
        points = data.draw(st.integers(1, -spent.points)) if partial else None
        amount = left if points is None else points
        expected = amount if 0 < amount <= left else None
        self.post(
            "restore",
            name,
            lambda k: ledger.restore(spent, key=k, reason="r", points=points),
            expected,
        )

    @precondition(lambda self: self.balance > 0)
    @rule(data=st.data())
    def expire(self, data):
        lots = list(PointsLot.objects.filter(account=self.account, remaining__gt=0))
        lot = data.draw(st.sampled_from(lots))
        entry = ledger.expire(lot)
        assert entry.points == -lot.remaining
        self.balance -= lot.remaining
        assert ledger.expire(lot) == entry  # a replay posts nothing

    @invariant()
    def balance_is_the_sum_of_entries_and_of_lots(self):
        self.account.refresh_from_db()
        lots = PointsLot.objects.filter(account=self.account).values_list("remaining", flat=True)
        assert self.account.balance == ledger.balance_from_entries(self.account) == sum(lots)
        assert self.account.balance == self.balance >= 0

    @invariant()
    def lots_stay_within_their_size(self):
        for lot in PointsLot.objects.filter(account=self.account):
            assert 0 <= lot.remaining <= lot.points


@pytest.mark.django_db
def test_ledger_invariants_hold_for_random_operation_sequences():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
