"""The accountant's export: a period's ledger and the balances owed at its end, in money.

Points in customers' hands are a liability on the shop's books: what they
would pay if spent, at ``POINT_VALUE`` in the default currency and at each
``POINT_VALUE_BY_CURRENCY``. Both reports are generators of rows read from the
database in chunks (a server-side cursor on PostgreSQL), so a ledger of
millions of entries streams in flat memory; their totals are summed on the way
and end the file. Customers are named by member number only: an accountant
needs amounts, not people.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum

from .conf import loyalty_settings
from .models import LedgerEntry

CENT = Decimal("0.01")
CHUNK = 5000
REPORTS = ("ledger", "balances")


def csv_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (=, +, -, @) is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def write_csv(rows: Iterator[list[Any]], out: Any) -> None:
    """Write ``rows`` as CSV to the text file ``out``, formulas kept as text."""
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])


def currencies() -> list[tuple[str, Decimal]]:
    """Each currency points can pay in, with what one point is worth there, default first."""
    default = settings.OSCAR_DEFAULT_CURRENCY
    values = dict(loyalty_settings.POINT_VALUE_BY_CURRENCY)
    found = [(default, values.pop(default, loyalty_settings.POINT_VALUE))]
    return found + sorted(values.items())


def _money(points: int, value: Decimal) -> Decimal:
    return (Decimal(points) * value).quantize(CENT, ROUND_HALF_UP)


def ledger_rows(since: datetime, until: datetime) -> Iterator[list[Any]]:
    """Every entry posted in ``[since, until)``, oldest first, with its value in money."""
    rates = currencies()
    yield [
        "date",
        "member_number",
        "kind",
        "points",
        "balance_after",
        "reason",
        "order",
        *(f"value_{code}" for code, _value in rates),
    ]
    entries = (
        LedgerEntry.objects.filter(created_at__gte=since, created_at__lt=until)
        .order_by("created_at", "id")
        .values_list(
            "created_at", "account_id", "kind", "points", "balance_after", "reason", "order__number"
        )
    )
    total = 0
    for created_at, account_id, kind, points, after, reason, number in entries.iterator(
        chunk_size=CHUNK
    ):
        total += points
        yield [
            created_at.isoformat(),
            account_id,
            kind,
            points,
            after,
            reason,
            number or "",
            *(_money(points, value) for _code, value in rates),
        ]
    yield ["total", "", "", total, "", "", "", *(_money(total, v) for _c, v in rates)]


def balance_rows(until: datetime) -> Iterator[list[Any]]:
    """What each account held at ``until`` (summed from the ledger, so any past date works),
    with the liability in money; accounts holding nothing are left out."""
    rates = currencies()
    yield ["member_number", "balance", *(f"liability_{code}" for code, _value in rates)]
    balances = (
        LedgerEntry.objects.filter(created_at__lt=until)
        .order_by()
        .values("account_id")
        .annotate(balance=Sum("points"))
        .exclude(balance=0)
        .order_by("account_id")
        .values_list("account_id", "balance")
    )
    total = 0
    for account_id, balance in balances.iterator(chunk_size=CHUNK):
        total += balance
        yield [account_id, balance, *(_money(balance, value) for _code, value in rates)]
    yield ["total", total, *(_money(total, value) for _code, value in rates)]
