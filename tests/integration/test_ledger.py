from datetime import UTC as utc
from datetime import datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings

from oscar_loyalty import ledger
from oscar_loyalty.models import Account, LedgerEntry, LotConsumption, PointsLot

pytestmark = pytest.mark.django_db
Kind = LedgerEntry.Kind
DAY0 = datetime(2026, 1, 10, 12, tzinfo=utc)


def state(account):
    account.refresh_from_db()
    return (
        account.balance,
        LedgerEntry.objects.count(),
        sorted(PointsLot.objects.values_list("id", "remaining")),
        LotConsumption.objects.count(),
    )


def assert_consistent(account):
    account.refresh_from_db()
    lots = sum(PointsLot.objects.filter(account=account).values_list("remaining", flat=True))
    assert account.balance == ledger.balance_from_entries(account) == lots
    assert account.balance >= 0


def test_account_is_created_on_first_need_once(customer):
    first = ledger.get_account(customer)
    assert ledger.get_account(customer) == first
    assert Account.objects.count() == 1
    assert first.balance == 0


def test_anonymous_has_no_account():
    with pytest.raises(ledger.LedgerError):
        ledger.get_account(AnonymousUser())
    with pytest.raises(ledger.LedgerError):
        ledger.get_account(None)


def test_earn_credits_a_lot_that_expires_by_policy(account):
    with time_machine.travel(DAY0, tick=False):
        entry = ledger.earn(account, 120, key="earn:order:1", reason="Order 1")
    assert (entry.kind, entry.points, entry.balance_after) == (Kind.EARN, 120, 120)
    lot = PointsLot.objects.get(entry=entry)
    assert (lot.points, lot.remaining, lot.earned_at) == (120, 120, DAY0)
    assert lot.expires_at == datetime(2027, 1, 10, 12, tzinfo=utc)
    account.refresh_from_db()
    assert account.balance == 120
    assert account.last_activity_at == DAY0


@override_settings(OSCAR_LOYALTY_EXPIRY_POLICY="never")
def test_points_never_expire_when_policy_says_so(account):
    entry = ledger.earn(account, 5, key="k", reason="r")
    assert PointsLot.objects.get(entry=entry).expires_at is None


def test_same_key_posts_once_and_returns_the_first_entry(account):
    first = ledger.earn(account, 10, key="earn:order:7", reason="Order 7")
    before = state(account)
    again = ledger.earn(account, 999, key="earn:order:7", reason="Order 7, again")
    assert again == first and again.points == 10
    assert state(account) == before


def test_key_of_another_kind_or_account_is_refused(account, django_user_model):
    ledger.earn(account, 10, key="shared", reason="r")
    other = ledger.get_account(django_user_model.objects.create_user("bo", "bo@example.com"))
    before = state(account)
    with pytest.raises(ledger.LedgerError):
        ledger.spend(account, 5, key="shared", reason="r")
    with pytest.raises(ledger.LedgerError):
        ledger.earn(other, 10, key="shared", reason="r")
    assert state(account) == before


def test_spend_takes_soonest_expiring_lots_first(account):
    with time_machine.travel(DAY0, tick=False):
        old = ledger.earn(account, 30, key="a", reason="r")
    with time_machine.travel(DAY0 + timedelta(days=40), tick=False):
        new = ledger.earn(account, 50, key="b", reason="r")
        ledger.spend(account, 40, key="s", reason="Used in order 3")
    assert PointsLot.objects.get(entry=old).remaining == 0
    assert PointsLot.objects.get(entry=new).remaining == 40
    assert_consistent(account)


def test_spend_never_overdraws(account):
    ledger.earn(account, 30, key="a", reason="r")
    before = state(account)
    with pytest.raises(ledger.InsufficientPoints) as exc:
        ledger.spend(account, 31, key="s", reason="r")
    assert (exc.value.available, exc.value.requested) == (30, 31)
    assert isinstance(exc.value, ledger.LedgerError)
    assert state(account) == before


def test_restore_gives_back_points_with_their_original_expiry(account):
    with time_machine.travel(DAY0, tick=False):
        ledger.earn(account, 30, key="a", reason="r")
    with time_machine.travel(DAY0 + timedelta(days=100), tick=False):
        ledger.earn(account, 30, key="b", reason="r")
        spent = ledger.spend(account, 40, key="s", reason="r")
    restored = ledger.restore(spent, key="restore:s", reason="Voucher removed")
    assert (restored.kind, restored.points, restored.reverses) == (Kind.RESTORE, 40, spent)
    expiries = sorted(
        (lot.expires_at, lot.remaining) for lot in PointsLot.objects.filter(entry=restored)
    )
    assert expiries == [
        (DAY0 + timedelta(days=365), 30),
        (DAY0 + timedelta(days=100 + 365), 10),
    ]
    assert_consistent(account)


def test_restore_cannot_give_back_more_than_was_spent(account):
    ledger.earn(account, 50, key="a", reason="r")
    spent = ledger.spend(account, 40, key="s", reason="r")
    ledger.restore(spent, key="r1", reason="r", points=25)
    before = state(account)
    with pytest.raises(ledger.LedgerError):
        ledger.restore(spent, key="r2", reason="r", points=16)
    assert state(account) == before
    last = ledger.restore(spent, key="r3", reason="r")
    assert last.points == 15
    with pytest.raises(ledger.LedgerError):
        ledger.restore(spent, key="r4", reason="r")
    assert_consistent(account)
    account.refresh_from_db()
    assert account.balance == 50


def test_only_a_spend_can_be_restored(account):
    earned = ledger.earn(account, 50, key="a", reason="r")
    with pytest.raises(ledger.LedgerError):
        ledger.restore(earned, key="r", reason="r")


def test_expire_takes_what_is_left_of_a_lot_once(account):
    earned = ledger.earn(account, 50, key="a", reason="r")
    ledger.spend(account, 20, key="s", reason="r")
    lot = PointsLot.objects.get(entry=earned)
    entry = ledger.expire(lot)
    assert (entry.kind, entry.points, entry.reason) == (Kind.EXPIRE, -30, "Expired")
    assert ledger.expire(lot) == entry
    lot.refresh_from_db()
    assert lot.remaining == 0
    assert_consistent(account)


def test_clawback_takes_only_what_is_left(account):
    earned = ledger.earn(account, 50, key="earn:order:1", reason="Order 1")
    ledger.earn(account, 10, key="earn:order:2", reason="Order 2")
    ledger.spend(account, 45, key="s", reason="r")
    entry = ledger.clawback(
        account, 50, key="clawback:order:1", reason="Order 1 refunded", reverses=earned
    )
    assert entry.points == -15
    account.refresh_from_db()
    assert account.balance == 0
    assert ledger.clawback(account, 50, key="clawback:order:9", reason="r") is None
    assert_consistent(account)


def test_clawback_takes_from_the_reversed_order_lot_first(account):
    ledger.earn(account, 10, key="old", reason="r")
    earned = ledger.earn(account, 20, key="new", reason="r")
    ledger.clawback(account, 20, key="c", reason="r", reverses=earned)
    assert PointsLot.objects.get(entry=earned).remaining == 0
    assert PointsLot.objects.get(entry__idempotency_key="old").remaining == 10


def test_adjust_by_staff_up_and_down(account, staff):
    up = ledger.adjust(account, 25, key="adj:1", reason="Sorry for the delay", staff_user=staff)
    assert (up.kind, up.staff_user, up.reason) == (Kind.ADJUSTMENT, staff, "Sorry for the delay")
    down = ledger.adjust(account, -5, key="adj:2", reason="Typo", staff_user=staff)
    assert down.points == -5
    before = state(account)
    with pytest.raises(ledger.InsufficientPoints):
        ledger.adjust(account, -21, key="adj:3", reason="Too much", staff_user=staff)
    assert state(account) == before
    assert_consistent(account)


def test_adjust_needs_staff(account, customer):
    with pytest.raises(ledger.LedgerError):
        ledger.adjust(account, 25, key="adj", reason="r", staff_user=customer)
    with pytest.raises(ledger.LedgerError):
        ledger.adjust(account, 25, key="adj", reason="r", staff_user=None)
    assert LedgerEntry.objects.count() == 0


BAD_POINTS = [0, -1, -500, 1.5, 2.0, "10", None, True, ledger.MAX_POINTS + 1, 10**30]


VERBS = {
    "earn": lambda a, p: ledger.earn(a, p, key="k", reason="r"),
    "spend": lambda a, p: ledger.spend(a, p, key="k", reason="r"),
    "clawback": lambda a, p: ledger.clawback(a, p, key="k", reason="r"),
    "restore": lambda a, p: ledger.restore(
        LedgerEntry.objects.get(kind=Kind.SPEND), key="k", reason="r", points=p
    ),
}


@pytest.mark.parametrize(
    "verb,points",
    [
        pytest.param(VERBS[name], p, id=f"{name}-{p!r}"[:40])
        for name in VERBS
        for p in BAD_POINTS
        if not (name == "restore" and p is None)  # None restores all: valid
    ],
)
def test_bad_amounts_are_refused_and_write_nothing(account, verb, points):
    ledger.earn(account, 100, key="seed", reason="r")
    ledger.spend(account, 10, key="seed-spend", reason="r")
    before = state(account)
    with pytest.raises(ledger.LedgerError):
        verb(account, points)
    assert state(account) == before


@pytest.mark.parametrize("points", [0, 1.5, "3", None, True, -(ledger.MAX_POINTS + 1)])
def test_bad_adjustments_are_refused(account, staff, points):
    before = state(account)
    with pytest.raises(ledger.LedgerError):
        ledger.adjust(account, points, key="k", reason="r", staff_user=staff)
    assert state(account) == before


@pytest.mark.parametrize(
    "key,reason",
    [
        ("", "r"),
        ("   ", "r"),
        (None, "r"),
        (42, "r"),
        ("k" * 129, "r"),
        ("k", ""),
        ("k", None),
        ("k", "x" * 256),
    ],
)
def test_bad_keys_and_reasons_are_refused(account, key, reason):
    before = state(account)
    with pytest.raises(ledger.LedgerError):
        ledger.earn(account, 5, key=key, reason=reason)
    assert state(account) == before


@pytest.mark.parametrize("bad", [987654, "1", None, 1.0, True, object()])
def test_unknown_accounts_are_refused(account, bad):
    before = state(account)
    with pytest.raises(ledger.LedgerError):
        ledger.earn(bad, 5, key="k", reason="r")
    with pytest.raises(ledger.LedgerError):
        ledger.spend(bad, 5, key="k2", reason="r")
    assert state(account) == before


def test_verbs_accept_an_account_id(account):
    ledger.earn(account.pk, 5, key="k", reason="r")
    account.refresh_from_db()
    assert account.balance == 5


def test_expire_and_restore_refuse_what_is_not_theirs(account):
    with pytest.raises(ledger.LedgerError):
        ledger.expire(PointsLot(account=account, points=1, remaining=1))
    with pytest.raises(ledger.LedgerError):
        ledger.restore("spend:1", key="k", reason="r")
