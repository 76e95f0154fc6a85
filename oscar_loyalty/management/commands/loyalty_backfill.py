import sys
from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date

from oscar_loyalty import awards, backfill
from oscar_loyalty.management.options import check_year, refuse_nul_bytes


def _date(value, option):
    try:
        day = parse_date(value or "")
    except ValueError:
        day = None
    if day is None:
        raise CommandError(f"{option}: not a date (YYYY-MM-DD): {value!r}")
    check_year(day, option)
    return timezone.make_aware(datetime.combine(day, time.min))


class Command(BaseCommand):
    help = (
        "Award points for orders placed before oscar_loyalty was installed, respecting "
        "the return window. Running it again awards nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="First day of orders (YYYY-MM-DD).")
        parser.add_argument("--until", help="Day after the last day of orders (YYYY-MM-DD).")
        parser.add_argument("--chunk-size", type=int, help="Orders per transaction.")
        parser.add_argument(
            "--no-mature",
            action="store_true",
            help="Only record awards; leave posting due ones to the periodic task.",
        )

    def handle(self, *args, since, until, chunk_size, no_mature, **options):
        refuse_nul_bytes(options | {"since": since, "until": until})
        since = _date(since, "--since")
        until = _date(until, "--until") if until else None
        if chunk_size is not None and not 1 <= chunk_size <= 100_000:
            raise CommandError("--chunk-size must be from 1 to 100000.")
        show = options["verbosity"] > 0 and sys.stderr.isatty()
        recorded = backfill.backfill(
            since, until, chunk_size, progress=self._progress if show else None
        )
        if show:
            sys.stderr.write("\n")
        self.stdout.write(f"Recorded {recorded} pending awards.")
        if not no_mature:
            posted = awards.mature_due_awards()
            self.stdout.write(f"Posted {posted} awards whose return window has passed.")

    def _progress(self, done, total):
        width = 40
        filled = width * done // total if total else width
        percent = 100 * done / total if total else 100
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r[{bar}] {done}/{total} {percent:.0f}%")
        sys.stderr.flush()
