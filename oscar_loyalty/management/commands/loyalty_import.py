import sys

from django.core.management.base import BaseCommand, CommandError

from oscar_loyalty import accounting, importing
from oscar_loyalty.management.options import refuse_nul_bytes
from oscar_loyalty.models import ImportRun


class Command(BaseCommand):
    help = (
        "Import points (lots with expiry dates) and email consents from another program's "
        "CSV file. Rows with a problem are left out and listed with the reason; importing "
        "the same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The CSV file (UTF-8; see docs/privacy.rst).")
        parser.add_argument(
            "--report", help="Write the rejected rows, with their reasons, to this CSV file."
        )

    def handle(self, *args, path, report, **options):
        refuse_nul_bytes(options | {"path": path, "report": report})
        show = options["verbosity"] > 0 and sys.stderr.isatty()
        try:
            run = importing.import_path(path, progress=self._progress if show else None)
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}") from None
        if show:
            sys.stderr.write("\n")
        if run.status == ImportRun.Status.FAILED:
            raise CommandError(f"{path}: {run.error}")
        self.stdout.write(
            f"Import #{run.pk}: {run.rows} rows read, {run.imported} imported "
            f"({run.points} points), {run.unchanged} already imported, {run.rejected} rejected."
        )
        if report:
            with open(report, "w", newline="", encoding="utf-8") as out:
                accounting.write_csv(importing.report_rows(run), out)
            self.stdout.write(f"Rejected rows written to {report}.")
        elif run.rejected:
            self.stdout.write("Add --report rejected.csv to get the rejected rows and why.")

    def _progress(self, run):
        width = 40
        filled = width * run.percent // 100
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r[{bar}] {run.percent}% {run.rows} rows")
        sys.stderr.flush()
