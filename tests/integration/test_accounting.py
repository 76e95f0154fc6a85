"""The accountant's export: a period's entries, and what members held at its end, in money."""

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import override_settings

from oscar_loyalty import accounting, ledger

pytestmark = pytest.mark.django_db
JAN, FEB, MAR = (datetime(2026, m, 10, 12, tzinfo=UTC) for m in (1, 2, 3))


@pytest.fixture
def books(customer, django_user_model):
    bea = django_user_model.objects.create_user(username="bea", email="bea@example.com")
    ana, b = ledger.get_account(customer), ledger.get_account(bea)
    with time_machine.travel(JAN, tick=False):
        ledger.earn(ana, 100, key="e:1", reason="Order 1")
        ledger.earn(b, 40, key="e:2", reason="Order 2")
    with time_machine.travel(FEB, tick=False):
        ledger.spend(ana, 30, key="s:1", reason="Points voucher")
    with time_machine.travel(MAR, tick=False):
        ledger.earn(b, 5, key="e:3", reason="Order 3")
    return ana, b


def until(day):
    return datetime(2026, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


@override_settings(OSCAR_LOYALTY_POINT_VALUE_BY_CURRENCY={"EUR": D("0.5"), "GBP": D("0.8")})
def test_balances_at_the_end_of_a_past_period_with_the_liability_in_each_currency(books):
    ana, bea = books
    rows = list(accounting.balance_rows(until(FEB)))
    assert rows[0] == [
        "member_number",
        "balance",
        "liability_USD",
        "liability_EUR",
        "liability_GBP",
    ]
    assert rows[1:-1] == [
        [ana.pk, 70, D("70.00"), D("35.00"), D("56.00")],
        [bea.pk, 40, D("40.00"), D("20.00"), D("32.00")],
    ]
    assert rows[-1] == ["total", 110, D("110.00"), D("55.00"), D("88.00")]


def test_the_ledger_of_a_period_only(books):
    rows = list(accounting.ledger_rows(datetime(2026, 2, 1, tzinfo=UTC), until(MAR)))
    assert [row[3] for row in rows[1:-1]] == [-30, 5]
    assert rows[1][2] == "spend" and rows[1][5] == "Points voucher"
    assert rows[-1][:4] == ["total", "", "", -25] and rows[-1][-1] == D("-25.00")


def test_the_command_writes_either_report(books, tmp_path):
    out = io.StringIO()
    call_command(
        "loyalty_accounting", "balances", "--from", "2026-01-01", "--to", "2026-03-31", stdout=out
    )
    assert out.getvalue().splitlines()[-1] == "total,115,115.00"
    path = tmp_path / "ledger.csv"
    call_command(
        "loyalty_accounting",
        "ledger",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--output",
        str(path),
    )
    assert len(path.read_text().splitlines()) == 4  # header, two entries, total


@pytest.mark.parametrize(
    "args, error",
    [
        (["ledger", "--from", "2026-02-30", "--to", "2026-03-01"], "not a date"),
        (["ledger", "--from", "2026-03-01", "--to", "2026-02-01"], "before"),
        (["ledger", "--from", "0001-01-01", "--to", "2026-02-01"], "year"),
        (["ledger", "--from", "2026-01-01\x00", "--to", "2026-02-01"], "NUL"),
    ],
)
def test_the_command_refuses_bad_dates(args, error):
    with pytest.raises(CommandError, match=error):
        call_command("loyalty_accounting", *args)
