from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date

from oscar_loyalty import accounting
from oscar_loyalty.management.options import check_year, refuse_nul_bytes


def _day(value, option):
    try:
        day = parse_date(value or "")
    except ValueError:
        day = None
    if day is None:
        raise CommandError(f"{option}: not a date (YYYY-MM-DD): {value!r}")
    check_year(day, option)
    return day


def _midnight(day):
    return timezone.make_aware(datetime.combine(day, time.min))


class Command(BaseCommand):
    help = (
        "The accountant's export, as CSV on standard output (or --output): the ledger "
        "entries of a period, or the balance each member held at its end, with the "
        "liability in money."
    )

    def add_arguments(self, parser):
        parser.add_argument("report", choices=accounting.REPORTS)
        parser.add_argument("--from", dest="start", required=True, help="First day (YYYY-MM-DD).")
        parser.add_argument("--to", dest="end", required=True, help="Last day, included.")
        parser.add_argument("--output", help="Write to this file instead of standard output.")

    def handle(self, *args, report, start, end, output, **options):
        refuse_nul_bytes(options | {"start": start, "end": end, "output": output})
        start, end = _day(start, "--from"), _day(end, "--to")
        if end < start:
            raise CommandError("--to must not be before --from.")
        since, until = _midnight(start), _midnight(end + timedelta(days=1))
        rows = (
            accounting.ledger_rows(since, until)
            if report == "ledger"
            else accounting.balance_rows(until)
        )
        out = open(output, "w", newline="", encoding="utf-8") if output else self.stdout
        try:
            accounting.write_csv(rows, out)
        finally:
            if output:
                out.close()
