"""Importing points and consents from another program's CSV, row by row, once."""

import io
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from oscar_loyalty import importing, keys, ledger
from oscar_loyalty.ledger import bulk
from oscar_loyalty.models import (
    Account,
    ImportRejection,
    ImportRun,
    LedgerEntry,
    MarketingConsent,
    PointsLot,
    Tier,
    TierStatus,
)

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def luis(django_user_model):
    return django_user_model.objects.create_user(username="luis", email="Luis@Example.com")


def run_import(text, chunk_size=5000):
    run = ImportRun.objects.create(name="test.csv", size=len(text.encode()))
    importing.run(run, io.BytesIO(text.encode()), chunk_size=chunk_size)
    run.refresh_from_db()
    return run


def reasons(run):
    return {r.line: r.reason for r in ImportRejection.objects.filter(run=run)}


def state():
    return (
        list(LedgerEntry.objects.order_by("pk").values_list("pk", "points", "idempotency_key")),
        list(PointsLot.objects.order_by("pk").values_list("pk", "remaining", "expires_at")),
        list(Account.objects.order_by("pk").values_list("pk", "balance")),
        list(MarketingConsent.objects.order_by("pk").values_list("pk", "marketing", "changed_at")),
    )


GOOD = """email,points,expires_on,marketing,consent_date
ana@example.com,120,2027-03-01,yes,2024-05-01
ANA@example.com,30,2027-06-30,,
luis@example.com,45,,no,
"""


def test_rows_become_lots_with_their_expiry_and_consents(customer, luis):
    run = run_import(GOOD)
    assert (run.rows, run.imported, run.rejected, run.points) == (3, 3, 0, 195)
    ana = Account.objects.get(user=customer)
    assert ana.balance == 150 == ledger.balance_from_entries(ana)
    lots = {lot.points: lot.expires_at for lot in PointsLot.objects.filter(account=ana)}
    # usable all of the day they expire on, in the shop's time zone
    assert lots[120] == timezone.make_aware(datetime(2027, 3, 2))
    assert lots[30] == timezone.make_aware(datetime(2027, 7, 1))
    luis_lot = PointsLot.objects.get(account__user=luis)
    assert luis_lot.expires_at == ledger.default_expiry(NOW)  # no date: the shop's policy
    entry = LedgerEntry.objects.get(account=ana, points=120)
    assert entry.idempotency_key == keys.import_lot(customer.pk, date(2027, 3, 1), 120)
    assert entry.kind == LedgerEntry.Kind.EARN
    assert "previous" in str(entry.customer_reason())
    assert "ana" not in entry.idempotency_key + entry.reason  # nothing personal in the ledger
    consent = MarketingConsent.objects.get(user=customer)
    assert consent.marketing and consent.source == MarketingConsent.Source.IMPORT
    assert consent.changed_at == timezone.make_aware(datetime(2024, 5, 1))
    assert MarketingConsent.objects.get(user=luis).marketing is False


def test_importing_the_same_file_again_changes_nothing(customer, luis):
    run_import(GOOD)
    before = state()
    again = run_import(GOOD)
    assert state() == before
    assert (again.imported, again.unchanged, again.rejected) == (0, 3, 0)


def test_a_customer_who_already_has_points_keeps_them(customer):
    account = ledger.get_account(customer)
    ledger.earn(account, 50, key="earn:test:1", reason="r")
    ledger.spend(account, 20, key="spend:test:1", reason="r")
    run_import("email,points\nana@example.com,100\n")
    account.refresh_from_db()
    assert account.balance == 130 == ledger.balance_from_entries(account)
    lots = PointsLot.objects.filter(account=account).values_list("remaining", flat=True)
    assert sum(lots) == 130
    assert LedgerEntry.objects.filter(account=account).latest("pk").balance_after == 130


def test_a_newer_answer_of_the_customer_wins_over_the_imported_one(customer):
    from oscar_loyalty.consent import set_marketing_consent

    set_marketing_consent(customer, False, MarketingConsent.Source.ACCOUNT)
    run = run_import("email,marketing,consent_date\nana@example.com,yes,2024-01-01\n")
    assert MarketingConsent.objects.get(user=customer).marketing is False
    assert run.unchanged == 1


BAD_ROWS = [
    ("nobody@example.com,10,,,", "no customer with this email"),
    ("ana@example.com,-10,,,", "points cannot be negative"),
    ("ana@example.com,1000001,,,", "more than 1000000 points"),
    ("ana@example.com,99999999999999999999,,,", "points must be a whole number"),
    ("ana@example.com,ten,,,", "points must be a whole number"),
    ("ana@example.com,10,2027-02-30,,", "expires_on is not a date"),
    ("ana@example.com,10,01/03/2027,,", "expires_on is not a date"),
    ("ana@example.com,10,99999-01-01,,", "expires_on is not a date"),
    ("ana@example.com,10,2026-11-20,,", "expires_on is not after today"),
    ("ana@example.com,,2027-01-01,,", "expires_on without points"),
    ("ana@example.com,10,,maybe,", "marketing must be yes or no"),
    ("ana@example.com,,,yes,2031-01-01", "consent_date is in the future"),
    ("ana@example.com,,,yes,yesterday", "consent_date is not a date"),
    ("ana@example.com,,,,", "nothing to import"),
    ("ana@example.com,1\x000,,,", "NUL byte"),
    ('"=HYPERLINK(""http://x"")",10,,,', "email looks like a spreadsheet formula"),
    ("ana@example.com,10,,@SUM(A1),", "marketing looks like a spreadsheet formula"),
    ("ana@example.com,10,,", "has 4 cells, the header 5"),
    ("not-an-email,10,,,", "no valid email"),
]


@pytest.mark.parametrize("row, reason", BAD_ROWS)
def test_a_bad_row_is_refused_with_its_reason_and_changes_nothing(customer, row, reason):
    before = state()
    run = run_import(f"email,points,expires_on,marketing,consent_date\n{row}\n")
    assert state() == before
    assert (run.rows, run.imported, run.rejected) == (1, 0, 1)
    assert reason in reasons(run)[2]


def test_good_rows_go_in_around_bad_ones_and_duplicates_are_refused(customer, luis):
    text = (
        "email,points,expires_on\n"
        "ana@example.com,10,2027-01-01\n"
        "ghost@example.com,10,\n"
        "ana@example.com,10,2027-01-01\n"  # the same lot again, in the same chunk
        "luis@example.com,5,\n"
        "luis@example.com,5,\n"  # and in the next chunk
    )
    run = run_import(text, chunk_size=4)
    assert (run.rows, run.imported, run.rejected, run.points) == (5, 2, 3, 15)
    found = reasons(run)
    assert set(found) == {3, 4, 6}
    assert "earlier row" in found[4] and "earlier row" in found[6]
    assert ledger.get_account(customer).balance == 10


def test_semicolons_a_byte_order_mark_and_blank_lines(customer):
    run_import("\ufeffEmail;Points\r\n\r\nana@example.com;25\r\n")
    assert ledger.get_account(customer).balance == 25


@pytest.mark.parametrize(
    "content, error",
    [
        (b"name,points\nana,1\n", "at least: email"),
        (b"email\nana@example.com\n", "neither a points nor a marketing column"),
        ("email,points\nana@example.com,1\n".encode("utf-16"), "not UTF-8"),
        (b"email,points\n\xff\xfe,1\n", "not UTF-8"),
    ],
)
def test_a_file_that_cannot_be_read_fails_with_a_reason(customer, content, error):
    run = ImportRun.objects.create(name="bad.csv", size=len(content))
    importing.finish(run, io.BytesIO(content))
    assert run.status == ImportRun.Status.FAILED and error in run.error
    assert not LedgerEntry.objects.exists()


def test_the_report_lists_the_rejected_rows_as_they_were(customer):
    run = run_import("email,points\nana@example.com,-3\nbob@example.com,2\n")
    rows = list(importing.report_rows(run))
    assert rows[0] == ["line", "reason", "email", "points"]
    assert rows[1][:2] == [2, "points cannot be negative"] and rows[1][2:] == [
        "ana@example.com",
        "-3",
    ]
    assert rows[2][0] == 3


def test_the_portable_path_posts_what_the_postgresql_one_does(customer, luis):
    """``import_lots`` off PostgreSQL (SQLite, MariaDB) writes the same rows."""
    ana, lu = ledger.get_account(customer), ledger.get_account(luis)
    ledger.earn(ana, 7, key="earn:test:p", reason="r")
    later = NOW + timedelta(days=90)
    lots = [
        bulk.ImportedLot(ana.pk, 10, later, "import:t:1"),
        bulk.ImportedLot(lu.pk, 4, None, "import:t:2"),
        bulk.ImportedLot(ana.pk, 3, later, "import:t:3"),
    ]
    assert bulk._import_lots_portable(lots, NOW) == {"import:t:1", "import:t:2", "import:t:3"}
    assert bulk._import_lots_portable(lots, NOW) == set()  # posted once
    ana.refresh_from_db()
    lu.refresh_from_db()
    assert (ana.balance, lu.balance) == (20, 4)
    assert list(
        LedgerEntry.objects.filter(account=ana)
        .order_by("pk")
        .values_list("balance_after", flat=True)
    ) == [7, 17, 20]
    assert PointsLot.objects.get(entry__idempotency_key="import:t:2").expires_at is None
    assert ana.balance == ledger.balance_from_entries(ana)


def test_the_command_imports_and_writes_the_report(customer, tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("email,points\nana@example.com,12\nana@example.com,-1\n")
    report = tmp_path / "rejected.csv"
    out = io.StringIO()
    call_command("loyalty_import", str(path), "--report", str(report), stdout=out)
    assert "2 rows read, 1 imported (12 points)" in out.getvalue()
    assert "points cannot be negative" in report.read_text()
    call_command("loyalty_import", str(path), stdout=out)  # again: nothing
    assert ledger.get_account(customer).balance == 12


def test_the_command_refuses_a_missing_or_unreadable_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("loyalty_import", str(tmp_path / "none.csv"))
    bad = tmp_path / "bad.csv"
    bad.write_text("name\nx\n")
    with pytest.raises(CommandError, match="email"):
        call_command("loyalty_import", str(bad))
    with pytest.raises(CommandError, match="NUL"):
        call_command("loyalty_import", "a\x00b")


def test_tiers_come_by_name_once_and_an_unknown_one_is_refused(customer, luis):
    gold = Tier.objects.create(name="Gold", level=2, threshold=500)
    text = "email,points,tier\nana@example.com,,gold\nluis@example.com,10,Platinum\n"
    run = run_import(text)
    assert (run.imported, run.rejected) == (1, 1)
    assert "no tier named Platinum" in reasons(run)[3]
    assert TierStatus.objects.get(account__user=customer).tier == gold
    assert not LedgerEntry.objects.exists()  # the refused row brought no points either
    again = run_import(text)
    assert (again.imported, again.unchanged) == (0, 1)
    assert TierStatus.objects.get(account__user=customer).account.tier_changes.count() == 1
