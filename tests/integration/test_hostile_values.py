"""NUL bytes and year-9999 dates are refused with a clear error, and nothing is written."""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from oscar.core.loading import get_model
from oscar.test.factories import create_offer

from oscar_loyalty import ledger
from oscar_loyalty.models import Account, LedgerEntry, PendingAward, PointsLot

pytestmark = pytest.mark.django_db
Voucher = get_model("voucher", "Voucher")
VoucherSet = get_model("voucher", "VoucherSet")


def nothing_written(account):
    account.refresh_from_db()
    return (
        account.balance,
        LedgerEntry.objects.filter(account=account).count(),
        PointsLot.objects.filter(account=account).count(),
    )


@pytest.fixture
def funded(account):
    ledger.earn(account, 100, key="earn:start", reason="Start")
    return account


def verbs(account, staff, key, reason):
    spend = LedgerEntry.objects.get(idempotency_key="spend:start")
    return {
        "earn": lambda: ledger.earn(account, 5, key=key, reason=reason),
        "spend": lambda: ledger.spend(account, 5, key=key, reason=reason),
        "restore": lambda: ledger.restore(spend, key=key, reason=reason),
        "clawback": lambda: ledger.clawback(account, 5, key=key, reason=reason),
        "adjust": lambda: ledger.adjust(account, 5, key=key, reason=reason, staff_user=staff),
        "expire": lambda: ledger.expire(account.lots.first(), key=key, reason=reason),
    }


@pytest.mark.parametrize("verb", ["earn", "spend", "restore", "clawback", "adjust", "expire"])
@pytest.mark.parametrize(
    "key, reason", [("key:\x00", "A reason"), ("key:1", "A reason \x00"), ("\x00", "\x00")]
)
def test_a_nul_byte_in_a_key_or_reason_is_a_ledger_error(funded, staff, verb, key, reason):
    ledger.spend(funded, 10, key="spend:start", reason="Start")
    before = nothing_written(funded)
    with pytest.raises(ledger.LedgerError, match="NUL"):
        verbs(funded, staff, key, reason)[verb]()
    assert nothing_written(funded) == before


@pytest.mark.parametrize(
    "earned_at, message",
    [
        (datetime(9999, 12, 31, tzinfo=UTC), "future"),
        (datetime(2026, 1, 1), "aware"),
        ("2026-01-01", "aware"),
    ],
)
def test_an_impossible_date_of_earning_is_a_ledger_error(account, earned_at, message):
    with pytest.raises(ledger.LedgerError, match=message):
        ledger.earn(account, 5, key="earn:dated", reason="Dated", earned_at=earned_at)
    assert nothing_written(account) == (0, 0, 0)


def test_a_date_whose_expiry_is_past_the_last_date_there_is(account, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: datetime(9999, 12, 31, 12, tzinfo=UTC))
    with pytest.raises(ledger.LedgerError, match="last date"):
        ledger.earn(account, 5, key="earn:late", reason="Late")
    assert nothing_written(account) == (0, 0, 0)


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "9999-12-31"],
        ["--since", "2026-01-01", "--until", "9999-12-31"],
        ["--since", "0001-01-01"],
        ["--since", "2026-01-01\x00"],
    ],
)
@override_settings(TIME_ZONE="America/Mexico_City")
def test_backfill_refuses_impossible_days(args, customer, place_order):
    place_order(customer)
    PendingAward.objects.all().delete()
    with pytest.raises(CommandError):
        call_command("loyalty_backfill", *args)
    assert not PendingAward.objects.exists()


@pytest.fixture
def offer():
    return create_offer(offer_type="Voucher")


@pytest.mark.parametrize(
    "args",
    [
        ["--name", "Spring\x00"],
        ["--name", "Spring", "--description", "Bad \x00 text"],
        ["--name", "Spring", "--prefix", "SP\x00"],
        ["--name", "Spring", "--end", "9999-12-31"],
        ["--name", "Spring", "--start", "0001-01-01"],
    ],
)
def test_generate_codes_refuses_nul_bytes_and_impossible_dates(args, offer):
    defaults = ["--offer", str(offer.pk), "--usage", "single", "--count", "3"]
    if "--end" not in args:
        defaults += ["--end", "2099-01-01"]
    with pytest.raises(CommandError):
        call_command("loyalty_generate_codes", *args, *defaults)
    assert not VoucherSet.objects.exists()
    assert not Voucher.objects.exists()


def test_generate_codes_refuses_a_nul_byte_in_a_set_name(offer):
    call_command(
        "loyalty_generate_codes",
        *["--name", "Spring", "--offer", str(offer.pk), "--usage", "single"],
        *["--end", "2099-01-01", "--count", "2"],
    )
    with pytest.raises(CommandError, match="NUL"):
        call_command("loyalty_generate_codes", "--set", "Spring\x00", "--count", "2")
    assert Voucher.objects.count() == 2
    assert Account.objects.count() == 0
