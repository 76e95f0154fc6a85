"""Bringing customers' points and consents from another loyalty program (a CSV file).

A merchant switching from a SaaS or a WooCommerce plugin exports one row per
lot of points::

    email,points,expires_on,marketing,consent_date,tier
    ana@example.com,120,2027-03-01,yes,2024-05-01,Gold

Each row is checked on its own; a bad one is recorded with its reason (the
downloadable report) and the others go in. Points enter through the ledger
only (``ledger.bulk.import_lots``, set-based), each lot under the key
``keys.import_lot`` (customer, expiry, points), so importing the same file
again posts nothing; consents through ``consent.import_consents``; tiers (by
name) through ``tiers.place_imported``. The file is
read as a stream, a chunk of rows per transaction, so memory stays flat
whatever its length.

The rows are parsed by Python's ``csv`` module (tablib and django-import-export
load a whole file into memory, and the latter writes model rows itself,
around the ledger); the delimiter is a comma or, as Spanish spreadsheets
write it, a semicolon.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from . import keys, tiers
from .conf import loyalty_settings
from .consent import import_consents
from .ledger import default_expiry
from .ledger.bulk import ImportedLot, import_lots
from .models import Account, ImportRejection, ImportRun, LedgerEntry, Tier

COLUMNS = ("email", "points", "expires_on", "marketing", "consent_date", "tier")
REQUIRED = ("email",)
YES = {"yes", "y", "true", "1", "si", "sí", "s"}
NO = {"no", "n", "false", "0"}
# Text a spreadsheet would run as a formula: refused, never stored or passed on.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_EMAIL = 254
MAX_CELL = 1000
FIRST_YEAR, LAST_YEAR = 1900, 2999


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not CSV, not UTF-8, no email column)."""


@dataclass
class Totals:
    rows: int = 0
    imported: int = 0
    unchanged: int = 0
    rejected: int = 0
    points: int = 0


@dataclass
class _Row:
    line: int
    cells: list[str]
    email: str
    user_id: int | None = None
    points: int = 0
    expires_on: date | None = None
    marketing: bool | None = None
    consent_at: datetime | None = None
    tier: str = ""
    key: str = ""
    errors: list[str] = field(default_factory=list)


Progress = Callable[[ImportRun], None]


def run(
    import_run: ImportRun,
    stream: IO[bytes],
    chunk_size: int = 5000,
    progress: Progress | None = None,
) -> Totals:
    """Import the CSV in ``stream`` (bytes) into ``import_run``, recording its progress.

    Each chunk of rows is one transaction: its lots, consents, rejected rows
    and the run's counters commit together, so a run stopped halfway (a worker
    killed) and started again posts nothing twice and its figures add up.
    """
    ImportRejection.objects.filter(run=import_run).delete()
    totals = Totals()
    now = timezone.now()
    # Entries after this one, at this time, were posted by this run.
    last_before = LedgerEntry.objects.aggregate(last=Max("pk"))["last"] or 0
    counted = _CountingReader(stream)
    reader, header = _reader(counted)
    import_run.header = header
    import_run.save(update_fields=["header"])
    for chunk in _chunks(reader, header, chunk_size):
        with transaction.atomic():
            rejected = _import_chunk(chunk, now, last_before, totals)
            ImportRejection.objects.bulk_create(
                ImportRejection(
                    run=import_run,
                    line=row.line,
                    email=row.email[:MAX_EMAIL],
                    # PostgreSQL stores no NUL byte: the report shows U+FFFD in its place.
                    cells=[cell[:MAX_CELL].replace("\x00", "\ufffd") for cell in row.cells],
                    reason="; ".join(row.errors)[:255],
                )
                for row in rejected
            )
            ImportRun.objects.filter(pk=import_run.pk).update(
                done_bytes=counted.read_bytes,
                rows=totals.rows,
                imported=totals.imported,
                unchanged=totals.unchanged,
                rejected=totals.rejected,
                points=totals.points,
            )
        if progress is not None:
            import_run.refresh_from_db()
            progress(import_run)
    return totals


class _CountingReader(io.RawIOBase):
    """A byte stream counting what was read, for the progress bar."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        self.read_bytes += len(data)
        return len(data)


def _reader(stream: io.RawIOBase) -> tuple[Iterator[list[str]], list[str]]:
    text = io.TextIOWrapper(io.BufferedReader(stream), encoding="utf-8-sig", newline="")
    try:
        first = text.readline()
    except UnicodeDecodeError:
        raise ImportFileError(_("The file is not UTF-8 text (save it as CSV UTF-8).")) from None
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header = [cell.strip().lower() for cell in next(csv.reader([first], delimiter=delimiter), [])]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise ImportFileError(
            _("The first row must name the columns, with at least: %(columns)s.")
            % {"columns": ", ".join(REQUIRED)}
        )
    if "points" not in header and "marketing" not in header:
        raise ImportFileError(_("The file has neither a points nor a marketing column."))
    return _rows(csv.reader(text, delimiter=delimiter)), header


def _rows(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    try:
        yield from reader
    except UnicodeDecodeError:
        raise ImportFileError(_("The file is not UTF-8 text (save it as CSV UTF-8).")) from None
    except csv.Error as exc:
        raise ImportFileError(_("The file is not valid CSV: %(error)s") % {"error": exc}) from None


def _chunks(reader: Iterator[list[str]], header: list[str], size: int) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    line = 1
    for cells in reader:
        line += 1
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        chunk.append(_parse(line, cells, header))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _parse(line: int, cells: list[str], header: list[str]) -> _Row:
    """One row's values, or the reasons it is refused (nothing looked up yet)."""
    values = dict(zip(header, (cell.strip() for cell in cells), strict=False))
    row = _Row(line=line, cells=cells, email=values.get("email", "").lower())
    errors = row.errors
    if any("\x00" in cell for cell in cells):
        errors.append(_("contains a NUL byte"))
        row.email = row.email.replace("\x00", "")
        return row
    if len(cells) != len(header):
        errors.append(
            _("has %(found)d cells, the header %(expected)d")
            % {"found": len(cells), "expected": len(header)}
        )
        return row
    for name in header:
        value = values.get(name, "")
        if value.startswith(FORMULA_STARTS) and not _is_integer(value):
            errors.append(_("%(column)s looks like a spreadsheet formula") % {"column": name})
    if errors:
        return row
    if not row.email or "@" not in row.email or len(row.email) > MAX_EMAIL:
        errors.append(_("no valid email"))
    _parse_points(row, values)
    _parse_consent(row, values)
    row.tier = values.get("tier", "")
    if not errors and not row.points and row.marketing is None and not row.tier:
        errors.append(_("nothing to import: no points, no marketing answer, no tier"))
    return row


def _is_integer(value: str) -> bool:
    return value.lstrip("+-").isdigit()


def _parse_points(row: _Row, values: dict[str, str]) -> None:
    text = values.get("points", "")
    if text:
        if not _is_integer(text) or len(text) > 12:
            row.errors.append(_("points must be a whole number"))
        else:
            row.points = int(text)
            maximum = loyalty_settings.IMPORT_MAX_POINTS
            if row.points < 0:
                row.errors.append(_("points cannot be negative"))
            elif row.points > maximum:
                row.errors.append(_("more than %(max)d points") % {"max": maximum})
    expires = values.get("expires_on", "")
    if expires:
        day = _date(expires)
        if day is None:
            row.errors.append(_("expires_on is not a date (YYYY-MM-DD)"))
        elif day <= timezone.localdate():
            row.errors.append(_("expires_on is not after today"))
        else:
            row.expires_on = day
        if not row.points:
            row.errors.append(_("expires_on without points"))


def _parse_consent(row: _Row, values: dict[str, str]) -> None:
    answer = values.get("marketing", "").lower()
    if answer in YES:
        row.marketing = True
    elif answer in NO:
        row.marketing = False
    elif answer:
        row.errors.append(_("marketing must be yes or no"))
    given = values.get("consent_date", "")
    if given:
        moment = _moment(given)
        if moment is None:
            row.errors.append(_("consent_date is not a date (YYYY-MM-DD)"))
        elif moment > timezone.now():
            row.errors.append(_("consent_date is in the future"))
        else:
            row.consent_at = moment
        if row.marketing is None:
            row.errors.append(_("consent_date without a marketing answer"))


def _date(text: str) -> date | None:
    try:
        day = parse_date(text)
    except ValueError:
        return None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        return None
    return day


def _moment(text: str) -> datetime | None:
    day = _date(text)
    if day is not None:
        return timezone.make_aware(datetime.combine(day, time.min))
    try:
        moment = parse_datetime(text)
    except ValueError:
        return None
    if moment is None or not FIRST_YEAR <= moment.year <= LAST_YEAR:
        return None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def expires_at(day: date | None, now: datetime) -> datetime | None:
    """Points "expiring on" a day can be used all that day: they expire as it ends, in the
    shop's time zone. No day: the shop's expiry policy, from the import."""
    if day is None:
        return default_expiry(now)
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def _import_chunk(chunk: list[_Row], now: datetime, last_before: int, totals: Totals) -> list[_Row]:
    """Look the chunk's customers up, refuse what is wrong, post the rest. Returns the
    refused rows."""
    totals.rows += len(chunk)
    _find_customers(chunk)
    _find_tiers(chunk)
    valid = [row for row in chunk if not row.errors]
    accounts = _accounts({row.user_id for row in valid if row.points})
    lots: dict[str, ImportedLot] = {}
    for row in valid:
        if not row.points:
            continue
        assert row.user_id is not None
        row.key = keys.import_lot(row.user_id, row.expires_on, row.points)
        if row.key in lots:
            row.errors.append(_("the same customer, points and expiry as an earlier row"))
            continue
        lots[row.key] = ImportedLot(
            accounts[row.user_id], row.points, expires_at(row.expires_on, now), row.key
        )
    # A key posted earlier in this run (by an earlier chunk: after the run began, at the
    # run's time) is a duplicate row; one posted by another run is already imported.
    earlier = set(
        LedgerEntry.objects.filter(
            idempotency_key__in=list(lots), pk__gt=last_before, created_at=now
        ).values_list("idempotency_key", flat=True)
    )
    for row in valid:
        if row.key in earlier and not row.errors:
            row.errors.append(_("the same customer, points and expiry as an earlier row"))
            lots.pop(row.key, None)
    posted = import_lots(list(lots.values()), now)
    answers = {
        row.user_id: (row.marketing, row.consent_at or now)
        for row in valid
        if row.marketing is not None and not row.errors and row.user_id is not None
    }
    changed = import_consents(answers)
    placed = {
        row.user_id
        for row in valid
        if row.tier
        and not row.errors
        and row.user_id is not None
        and tiers.place_imported(row.user_id, _TIERS[row.tier.lower()], _IMPORTED_TIER)
    }
    rejected = []
    for row in chunk:
        if row.errors:
            rejected.append(row)
            totals.rejected += 1
        elif (
            row.key in posted
            or (row.marketing is not None and row.user_id in changed)
            or (row.tier and row.user_id in placed)
        ):
            totals.imported += 1
            totals.points += row.points if row.key in posted else 0
        else:
            totals.unchanged += 1
    return rejected


def _find_customers(chunk: list[_Row]) -> None:
    """The customers with the rows' emails (any case), in one query; refuse unknown or
    ambiguous ones."""
    emails = {row.email for row in chunk if not row.errors}
    found: dict[str, list[int]] = {}
    users = (
        get_user_model()
        .objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails)
        .values_list("email_lower", "pk")
    )
    for email, pk in users:
        found.setdefault(email, []).append(pk)
    for row in chunk:
        if row.errors:
            continue
        ids = found.get(row.email, [])
        if not ids:
            row.errors.append(_("no customer with this email"))
        elif len(ids) > 1:
            row.errors.append(_("several customers have this email"))
        else:
            row.user_id = ids[0]


_TIERS: dict[str, Tier] = {}
_IMPORTED_TIER = "Brought from your previous rewards program"


def _find_tiers(chunk: list[_Row]) -> None:
    """Refuse a row naming a tier the shop does not have (tiers by name, any case)."""
    if not any(row.tier for row in chunk):
        return
    _TIERS.clear()
    _TIERS.update({tier.name.lower(): tier for tier in Tier.objects.all()})
    for row in chunk:
        if row.tier and not row.errors and row.tier.lower() not in _TIERS:
            row.errors.append(_("no tier named %(tier)s") % {"tier": row.tier[:64]})


def _accounts(user_ids: set[int | None]) -> dict[int, int]:
    """The customers' account ids, creating the missing accounts (three statements)."""
    wanted = {pk for pk in user_ids if pk is not None}
    if not wanted:
        return {}
    found = dict(Account.objects.filter(user_id__in=wanted).values_list("user_id", "pk"))
    missing = wanted - set(found)
    if missing:
        Account.objects.bulk_create([Account(user_id=pk) for pk in missing], ignore_conflicts=True)
        found.update(Account.objects.filter(user_id__in=missing).values_list("user_id", "pk"))
    return found


def import_path(path: str, uploaded_by=None, progress: Progress | None = None) -> ImportRun:
    """Import a file on disk (the management command), recorded as a run like an upload."""
    import_run = ImportRun.objects.create(
        name=os.path.basename(path)[:255],
        uploaded_by=uploaded_by,
        size=os.path.getsize(path),
        status=ImportRun.Status.RUNNING,
    )
    with open(path, "rb") as stream:
        return finish(import_run, stream, progress)


def import_upload(run_id: int) -> ImportRun | None:
    """Import an uploaded file (the Celery task), then delete the file: it names customers.

    A run already finished is left alone, so a task delivered twice imports once;
    one found running (its worker died) starts again, which posts nothing twice.
    """
    claimed = ImportRun.objects.filter(
        pk=run_id, status__in=[ImportRun.Status.WAITING, ImportRun.Status.RUNNING]
    ).update(status=ImportRun.Status.RUNNING)
    if not claimed:
        return None
    import_run = ImportRun.objects.get(pk=run_id)
    try:
        with import_run.file.open("rb") as stream:
            finish(import_run, stream)
    finally:
        import_run.file.delete(save=False)
        ImportRun.objects.filter(pk=run_id).update(file="")
    return import_run


def finish(import_run: ImportRun, stream: IO[bytes], progress: Progress | None = None) -> ImportRun:
    """Run the import and record how it ended (done, or failed with the reason)."""
    try:
        run(import_run, stream, progress=progress)
    except ImportFileError as exc:
        import_run.refresh_from_db()
        import_run.status, import_run.error = ImportRun.Status.FAILED, str(exc)
    except Exception:
        ImportRun.objects.filter(pk=import_run.pk).update(
            status=ImportRun.Status.FAILED,
            error=_("The import stopped on an unexpected error; the rows before it are in."),
            finished_at=timezone.now(),
        )
        raise
    else:
        import_run.refresh_from_db()
        import_run.status = ImportRun.Status.DONE
        import_run.done_bytes = import_run.size
    import_run.finished_at = timezone.now()
    import_run.save()
    return import_run


def report_rows(import_run: ImportRun) -> Iterator[list[Any]]:
    """The rejected rows, for the downloadable report: line, why, then the row as it was."""
    yield ["line", "reason", *import_run.header]
    for rejection in import_run.rejections.order_by("line").iterator(chunk_size=2000):
        yield [rejection.line, rejection.reason, *rejection.cells]
