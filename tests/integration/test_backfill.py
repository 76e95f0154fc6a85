from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from oscar_loyalty import ledger
from oscar_loyalty.models import LedgerEntry, PendingAward

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def run(*args):
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("loyalty_backfill", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def history(customer, django_user_model, place_order):
    """Orders from before the plugin was installed (their awards removed)."""
    bo = django_user_model.objects.create_user("bo", "bo@example.com")
    orders = {}
    for name, user, days_ago, lines in [
        ("too_old", customer, 200, [("100.00", 1)]),
        ("old", customer, 100, [("100.00", 1)]),
        ("recent", customer, 10, [("50.00", 1)]),
        ("bo", bo, 60, [("30.00", 1)]),
        ("cancelled", bo, 50, [("500.00", 1)]),
        ("half_refunded", bo, 45, [("40.00", 1), ("40.00", 1)]),
        ("guest", None, 40, [("900.00", 1)]),
    ]:
        with time_machine.travel(NOW - timedelta(days=days_ago), tick=False):
            kwargs = {"guest_email": "g@example.com"} if user is None else {}
            orders[name] = place_order(user, lines, **kwargs)
    orders["cancelled"].set_status("Cancelled")
    orders["half_refunded"].lines.first().set_status("Refunded")
    PendingAward.objects.all().delete()
    return orders


def test_backfill_respects_the_return_window_and_runs_once(customer, history):
    out = run("--since", "2026-01-01")
    assert "Recorded 4 pending awards" in out
    assert "Posted 3 awards" in out
    awards = {a.order_id: a for a in PendingAward.objects.all()}
    assert history["too_old"].pk not in awards
    assert history["cancelled"].pk not in awards
    assert history["guest"].pk not in awards
    recent = awards[history["recent"].pk]
    assert recent.status == PendingAward.Status.PENDING
    assert recent.matures_at == history["recent"].date_placed + timedelta(days=30)
    assert awards[history["half_refunded"].pk].points == 4
    assert ledger.get_account(customer).balance == 10
    bo = history["bo"].user
    assert ledger.get_account(bo).balance == 3 + 4

    entries = LedgerEntry.objects.count()
    again = run("--since", "2026-01-01")
    assert "Recorded 0 pending awards" in again and "Posted 0 awards" in again
    assert LedgerEntry.objects.count() == entries


def test_backfill_until_and_no_mature(history):
    out = run("--since", "2026-01-01", "--until", "2026-04-01", "--no-mature")
    assert "Recorded 1 pending awards" in out  # "old", placed 100 days before June
    assert "Posted" not in out
    assert not LedgerEntry.objects.exists()


def test_backfill_small_chunks_give_the_same_result(history):
    run("--since", "2026-01-01", "--chunk-size", "1")
    assert PendingAward.objects.count() == 4


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--since", "yesterday"],
        ["--since", "2026-13-01"],
        ["--since", "2026-01-01", "--until", "soon"],
        ["--since", "2026-01-01", "--chunk-size", "0"],
    ],
)
def test_bad_arguments_are_refused(args):
    with pytest.raises(CommandError):
        run(*args)
    assert not PendingAward.objects.exists()
