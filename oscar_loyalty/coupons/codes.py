"""Bulk generation of unique coupon codes for a campaign, as ordinary Oscar vouchers.

A campaign is an Oscar ``VoucherSet``; every code is an Oscar ``Voucher`` in that
set, with the fields Oscar's own dashboard gives the vouchers it generates for a
set (``VoucherSetForm.save``): the name ``"<set name> - <n>"``, the set's start
and end, one ``usage`` and the same offers for the whole set. Oscar's basket,
checkout, reports and dashboard therefore treat them exactly like its own.

Oscar generates a set's vouchers one at a time: for each, a ``SELECT`` to see
whether a random code is taken, an ``INSERT``, and two or three queries to link
its offers. That is fine for a few hundred codes and far too slow for a
campaign of a million. Here the work is set-based, in chunks:

1. draw ``chunk_size`` random codes (``secrets``, an alphabet without look-alikes);
2. insert them all with ONE statement that also links them to the set's
   offers -- the unique index on ``Voucher.code`` is what guarantees
   uniqueness, against every voucher in the database, not a check that
   could race;
3. should a code (or a name) be taken, insert the chunk again skipping the
   rows that clash (``INSERT ... ON CONFLICT DO NOTHING``), draw new codes
   for those few and insert them the same way;
4. add the chunk to the set's ``count``.

Each chunk is one transaction, holding a row lock on the set, so concurrent
runs for the same set number their vouchers without clashing and an
interrupted run leaves only whole chunks behind (run again for the rest).
Only one chunk of codes is ever in memory, whatever the count.

Like ``bulk_create``, the insert sends no ``post_save`` / ``m2m_changed``
signals; Oscar registers none for vouchers.

Codes are stored in upper case: Oscar upper-cases every code it saves and
every code a customer types. The unique index itself is case-sensitive, so a
lower-case code put in the table behind Oscar's back (which no customer could
redeem anyway) is not seen as a clash.

Works on PostgreSQL (one statement per chunk, a dozen parameters), SQLite
>= 3.35 and MariaDB >= 10.5 (multi-row ``VALUES ... RETURNING``).
"""

from __future__ import annotations

import csv
import math
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import IO

from django.db import IntegrityError, NotSupportedError, connections, router, transaction
from django.db.models import Max
from django.db.models.functions import Length
from django.utils import timezone
from oscar.core.loading import get_model

from ..exceptions import CodeSpaceExhausted

Voucher = get_model("voucher", "Voucher")
VoucherSet = get_model("voucher", "VoucherSet")
ConditionalOffer = get_model("offer", "ConditionalOffer")

#: Upper case letters and digits without the ones people confuse when they read
#: a code aloud or type it from paper: 0/O, 1/I/L. 31 symbols, 4.95 bits each.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BITS_PER_CHARACTER = math.log2(len(ALPHABET))

#: At least 60 bits by default: with ten million codes out, a guesser still
#: needs ~10^11 attempts per hit (and the coupon form throttles failures).
DEFAULT_BITS = 60
#: Below 40 bits a large campaign becomes guessable; refuse.
MIN_BITS = 40
DEFAULT_LENGTH = math.ceil(DEFAULT_BITS / BITS_PER_CHARACTER)  # 13 characters, 64.4 bits
MIN_LENGTH = math.ceil(MIN_BITS / BITS_PER_CHARACTER)  # 9 characters, 44.6 bits
#: The coupon entry form accepts codes of up to 64 characters.
MAX_CODE_LENGTH = 64
MAX_PREFIX_LENGTH = 10
#: A prefix is for people ("XMAS25-"): letters, digits and inner/trailing hyphens.
PREFIX = re.compile(rf"^(?:[A-Z0-9][A-Z0-9-]{{0,{MAX_PREFIX_LENGTH - 1}}})?$")

DEFAULT_CHUNK_SIZE = 10_000
#: Rounds in a row in which every code drawn was already taken before we give up
#: (with >= 40 bits that only happens when the random source is broken).
MAX_FRUITLESS_ROUNDS = 10

USAGES = {value for value, _label in Voucher.USAGE_CHOICES}

Progress = Callable[[int, int], None]


# Random codes -----------------------------------------------------------------

# bytes.translate maps each random byte to a symbol and drops the bytes above the
# largest multiple of 31 (248..255), so every symbol is equally likely: rejection
# sampling done in C, ~50x faster than one secrets.choice() per character.
_ACCEPTED = 256 - 256 % len(ALPHABET)
_TO_SYMBOL = bytes(ord(ALPHABET[byte % len(ALPHABET)]) for byte in range(256))
_REJECTED = bytes(range(_ACCEPTED, 256))


def random_characters(count: int) -> str:
    """``count`` independent, uniformly distributed symbols of ``ALPHABET`` from ``secrets``."""
    parts = []
    missing = count
    while missing > 0:
        # ~3% of the bytes are rejected; ask for a little more than needed.
        chunk = secrets.token_bytes(missing + missing // 16 + 8)
        symbols = chunk.translate(_TO_SYMBOL, _REJECTED)[:missing]
        parts.append(symbols)
        missing -= len(symbols)
    return b"".join(parts).decode("ascii")


def clean_prefix(prefix: str | None) -> str:
    """The prefix in upper case, or ValueError if it is not letters, digits and hyphens.

    Codes are stored upper case because customers type them in any case and
    Oscar upper-cases what they type before looking the voucher up.
    """
    prefix = (prefix or "").strip().upper()
    if len(prefix) > MAX_PREFIX_LENGTH:
        raise ValueError(f"The prefix is {len(prefix)} characters; at most {MAX_PREFIX_LENGTH}.")
    if not PREFIX.match(prefix) or not prefix.isascii():
        raise ValueError(
            f"The prefix {prefix!r} may only contain the letters A-Z, the digits 0-9 and "
            "hyphens (not first)."
        )
    return prefix


def check_length(length: int | None, prefix: str = "") -> int:
    """Length of the random part: ``DEFAULT_LENGTH`` if None, else validated.

    ValueError below ``MIN_LENGTH`` (fewer than 40 bits of randomness: guessable)
    or when prefix and random part exceed ``MAX_CODE_LENGTH``.
    """
    if length is None:
        length = DEFAULT_LENGTH
    if isinstance(length, bool) or not isinstance(length, int):
        raise ValueError(f"The length must be a whole number, not {length!r}.")
    if length < MIN_LENGTH:
        raise ValueError(
            f"A random part of {length} characters has {length * BITS_PER_CHARACTER:.1f} bits "
            f"of randomness; at least {MIN_LENGTH} characters ({MIN_BITS} bits) are needed "
            "so that codes cannot be guessed."
        )
    if len(prefix) + length > MAX_CODE_LENGTH:
        raise ValueError(
            f"Prefix and random part together are {len(prefix) + length} characters; "
            f"codes can have at most {MAX_CODE_LENGTH}."
        )
    return length


def draw_codes(count: int, prefix: str, length: int) -> list[str]:
    """``count`` distinct codes ``prefix + random part``, in the order drawn."""
    codes: dict[str, None] = {}
    fruitless = 0
    while len(codes) < count:
        wanted = count - len(codes)
        symbols = random_characters(wanted * length)
        before = len(codes)
        codes.update(
            dict.fromkeys(prefix + symbols[i : i + length] for i in range(0, len(symbols), length))
        )
        fruitless = fruitless + 1 if len(codes) == before else 0
        if fruitless >= MAX_FRUITLESS_ROUNDS:
            raise CodeSpaceExhausted("The random source keeps repeating the same codes.")
    return list(codes)


# Generation -------------------------------------------------------------------


def generate_codes(
    voucher_set: VoucherSet,
    count: int,
    *,
    prefix: str = "",
    length: int | None = None,
    usage: str | None = None,
    offers: Iterable[ConditionalOffer | int] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Progress | None = None,
) -> int:
    """Add ``count`` vouchers with fresh unique codes to ``voucher_set``; return how many.

    ``usage`` (one of ``Voucher.USAGE_CHOICES``) and ``offers`` (voucher-type
    ``ConditionalOffer`` objects or ids) are needed when the set has no
    vouchers yet. Oscar's dashboard keeps them the same for all vouchers of a
    set, so for a set that has vouchers they are taken from those, and giving
    different ones is a ValueError (change a set's usage or offers in Oscar's
    dashboard, which updates all its vouchers).

    Codes are ``prefix`` (upper-cased) followed by ``length`` random symbols of
    ``ALPHABET`` (default ``DEFAULT_LENGTH``: >= 60 bits). Vouchers are named
    ``"<set name> - <n>"``, numbered on from the highest number in the set
    (Oscar numbers on from the set's count, which clashes once a voucher was
    deleted), skipping names other vouchers have. ``voucher_set.count`` is
    updated, in the database and on the object. ``progress(done, count)`` is
    called after each committed chunk of ``chunk_size`` vouchers.

    Raises ValueError for bad arguments before writing anything,
    NotSupportedError on databases other than PostgreSQL, SQLite >= 3.35 and
    MariaDB >= 10.5, and
    CodeSpaceExhausted if fresh codes keep colliding (random part far too short).
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"The number of codes must be a whole number >= 0, not {count!r}.")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"The chunk size must be a whole number >= 1, not {chunk_size!r}.")
    prefix = clean_prefix(prefix)
    length = check_length(length, prefix)
    if voucher_set.pk is None:
        raise ValueError("Save the voucher set first.")
    using = router.db_for_write(Voucher)
    writer = _writer_for(connections[using])
    usage, offer_ids = _usage_and_offers(voucher_set, usage, offers)

    done = 0
    number = origin = None  # the next voucher number to try; see _origin()
    while done < count:
        size = min(chunk_size, count - done)
        with transaction.atomic(using=using):
            locked = (
                VoucherSet._default_manager.using(using).select_for_update().get(pk=voucher_set.pk)
            )
            if number is None:
                # What Oscar's VoucherSet.update_count() does, and a number past
                # every name in use (deleted vouchers leave gaps below it).
                locked.count = locked.vouchers.count()
                number = max(locked.count, _highest_number(locked)) + 1
                origin = _origin(locked, number)
            # Another run may have added to the set since our last chunk.
            number = max(number, locked.count + 1)
            chunk = _Chunk(writer, locked, prefix, length, usage, offer_ids, origin)
            number = chunk.add(size, number)
            locked.count += size
            locked.save(update_fields=["count"])
        voucher_set.count = locked.count
        done += size
        if progress is not None:
            progress(done, count)
    return done


def _highest_number(voucher_set: VoucherSet) -> int:
    """The highest n of the set's vouchers named "<set name> - <n>", or 0."""
    prefix = f"{voucher_set.name} - "
    names = (
        voucher_set.vouchers.filter(name__startswith=prefix)
        .order_by(Length("name").desc(), "-name")  # numerically, for digits-only suffixes
        .values_list("name", flat=True)
    )
    for name in names[:100]:
        suffix = name[len(prefix) :]
        if suffix.isascii() and suffix.isdigit():
            return int(suffix)
    return 0


def _origin(voucher_set: VoucherSet, first_number: int) -> datetime:
    """The time voucher number 0 would have been created: number n gets origin + n µs.

    Oscar's dashboard renumbers a set's vouchers in ``date_created`` order when
    the set is edited. Creation times that grow with the numbers (and come
    after those of the set's vouchers so far) keep that renaming a no-op, as
    for vouchers Oscar created one by one, even when a few rows of a chunk
    had to be inserted again.
    """
    start = timezone.now()
    latest = voucher_set.vouchers.aggregate(latest=Max("date_created"))["latest"]
    if latest is not None and latest >= start:
        start = latest + timedelta(microseconds=1)
    return start - timedelta(microseconds=first_number)


def _usage_and_offers(
    voucher_set: VoucherSet, usage: str | None, offers: Iterable[ConditionalOffer | int] | None
) -> tuple[str, list[int]]:
    """The usage and offer ids every voucher of the set gets (see ``generate_codes``)."""
    if usage is not None and usage not in USAGES:
        raise ValueError(f"Unknown usage {usage!r}; one of {sorted(USAGES)}.")
    wanted = None
    if offers is not None:
        wanted = sorted({offer if isinstance(offer, int) else offer.pk for offer in offers})
        found = ConditionalOffer._default_manager.filter(pk__in=wanted)
        kinds = dict(found.values_list("pk", "offer_type"))
        unknown = [pk for pk in wanted if pk not in kinds]
        if unknown:
            raise ValueError(f"No offer with id {unknown[0]}.")
        wrong = [pk for pk in wanted if kinds[pk] != ConditionalOffer.VOUCHER]
        if wrong:
            raise ValueError(
                f"Offer {wrong[0]} is a {kinds[wrong[0]]!r} offer; vouchers need "
                f"{ConditionalOffer.VOUCHER!r} offers."
            )
    # Like Oscar's VoucherSetUpdateView: the set's usage and offers are those of
    # its (newest) voucher.
    existing = voucher_set.vouchers.order_by("-date_created", "-pk").first()
    if existing is None:
        if usage is None or not wanted:
            raise ValueError(
                f"The voucher set {voucher_set.name!r} has no vouchers yet: give the usage "
                "and at least one offer for its vouchers."
            )
        return usage, wanted
    current = sorted(existing.offers.values_list("pk", flat=True))
    if usage is not None and usage != existing.usage:
        raise ValueError(
            f"The vouchers of {voucher_set.name!r} are {existing.usage!r}, not {usage!r}; "
            "all vouchers of a set have the same usage."
        )
    if wanted is not None and wanted != current:
        raise ValueError(
            f"The vouchers of {voucher_set.name!r} apply offers {current}, not {wanted}; "
            "all vouchers of a set apply the same offers."
        )
    if not current:
        raise ValueError(f"The vouchers of {voucher_set.name!r} apply no offer.")
    return existing.usage, current


class _Chunk:
    """One chunk of vouchers for a (locked) set, inside the caller's transaction."""

    def __init__(
        self,
        writer: _Writer,
        voucher_set: VoucherSet,
        prefix: str,
        length: int,
        usage: str,
        offer_ids: list[int],
        origin: datetime,
    ) -> None:
        self.writer = writer
        self.name_prefix = f"{voucher_set.name} - "
        self.prefix, self.length = prefix, length
        self.offer_ids = offer_ids
        self.origin = origin
        self.template = Voucher(
            usage=usage,
            start_datetime=voucher_set.start_datetime,
            end_datetime=voucher_set.end_datetime,
            voucher_set=voucher_set,
        )

    def add(self, size: int, number: int) -> int:
        """Insert ``size`` vouchers numbered from ``number`` on; return the next number."""
        pending = dict(
            zip(
                draw_codes(size, self.prefix, self.length),
                range(number, number + size),
                strict=True,
            )
        )
        number += size
        fruitless = 0
        while True:
            missing = self.writer.write(
                self.template, self.name_prefix, pending, self.origin, self.offer_ids
            )
            if not missing:
                return number
            # A skipped row clashed on its code (draw another) or on its name (a
            # voucher outside the set, or a gap left by a deleted voucher: take the
            # next number). Names are finite, so only code clashes count as fruitless.
            numbers = [pending[code] for code in missing]
            taken = set(
                Voucher._default_manager.using(self.writer.using)
                .filter(name__in=[f"{self.name_prefix}{n}" for n in numbers])
                .values_list("name", flat=True)
            )
            fruitless = fruitless + 1 if len(missing) == len(pending) and not taken else 0
            if fruitless >= MAX_FRUITLESS_ROUNDS:
                raise CodeSpaceExhausted(
                    f"{MAX_FRUITLESS_ROUNDS} times in a row every fresh code was taken "
                    "already; use a longer code."
                )
            renumbered = []
            for n in numbers:
                if f"{self.name_prefix}{n}" in taken:
                    n, number = number, number + 1
                renumbered.append(n)
            fresh = draw_codes(len(renumbered), self.prefix, self.length)
            pending = dict(zip(fresh, renumbered, strict=True))


# SQL --------------------------------------------------------------------------


class _Writer:
    """Inserts vouchers and their offer links for one database connection."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.using = connection.alias
        meta = Voucher._meta
        quote = connection.ops.quote_name
        self.table = quote(meta.db_table)
        self.pk = quote(meta.pk.column)
        self.name = meta.get_field("name")
        self.code = meta.get_field("code")
        self.created = meta.get_field("date_created")
        special = {meta.pk, self.name, self.code, self.created}
        # Everything else (usage, dates, counters, set, any field of a forked
        # Voucher model) is the same for every row.
        self.constants = [f for f in meta.concrete_fields if f not in special]
        self.columns = ", ".join(
            quote(f.column) for f in [self.name, self.code, *self.constants, self.created]
        )
        field = meta.get_field("offers")
        self.through = field.remote_field.through
        self.link_table = quote(self.through._meta.db_table)
        self.link_voucher = quote(field.m2m_column_name())
        self.link_offer = quote(field.m2m_reverse_name())

    def constant_values(self, template: Voucher) -> list:
        return [
            f.get_db_prep_save(f.pre_save(template, add=True), self.connection)
            for f in self.constants
        ]

    def write(
        self,
        template: Voucher,
        name_prefix: str,
        rows: dict[str, int],
        origin: datetime,
        offer_ids: list[int],
    ) -> list[str]:
        """Insert vouchers for ``{code: number}`` and link them to the offers.

        Rows whose code or name is taken are skipped; returns their codes.
        Voucher n is named ``name_prefix + n`` and created at ``origin`` + n µs.
        """
        raise NotImplementedError


class _PostgresWriter(_Writer):
    """All of it in one statement with a dozen parameters, whatever the chunk size.

    Codes and numbers travel as two comma-separated strings (codes are letters,
    digits and hyphens), split with ``string_to_array``; the link rows are made
    from the ``RETURNING`` rows of the voucher insert in a second
    data-modifying CTE.

    With >= 40 random bits a clash is rare, so the rows are first inserted with
    a plain ``INSERT`` in a savepoint (``ON CONFLICT`` costs PostgreSQL a
    speculative insertion per row, ~1.5x the time). Only if that hits a
    unique violation is the chunk inserted again with ``ON CONFLICT DO
    NOTHING``, which returns the codes of the rows it skipped.
    """

    def __init__(self, connection) -> None:
        super().__init__(connection)
        constants = ", ".join(f"CAST(%s AS {f.cast_db_type(connection)})" for f in self.constants)
        offer_type = ConditionalOffer._meta.pk.cast_db_type(connection)
        code = connection.ops.quote_name(self.code.column)

        def sql(on_conflict: str, result: str) -> str:
            return f"""
                WITH t AS (
                    SELECT * FROM unnest(
                        string_to_array(%s, ','), CAST(string_to_array(%s, ',') AS bigint[])
                    ) WITH ORDINALITY AS t(code, n, i)
                ), new AS (
                    INSERT INTO {self.table} ({self.columns})
                    SELECT CAST(%s AS text) || CAST(t.n AS text), t.code, {constants},
                           CAST(%s AS timestamp with time zone) + t.n * interval '1 microsecond'
                    FROM t ORDER BY t.i
                    {on_conflict}
                    RETURNING {self.pk} AS id, {code} AS code
                ), link AS (
                    INSERT INTO {self.link_table} ({self.link_voucher}, {self.link_offer})
                    SELECT new.id, offer.id
                    FROM new CROSS JOIN unnest(CAST(%s AS {offer_type}[])) AS offer(id)
                )
                {result}
            """

        self.fast_sql = sql("", "SELECT 1")
        self.careful_sql = sql(
            "ON CONFLICT DO NOTHING",
            "SELECT t.code FROM t LEFT JOIN new ON new.code = t.code WHERE new.id IS NULL",
        )

    def write(self, template, name_prefix, rows, origin, offer_ids):
        params = [
            ",".join(rows),
            ",".join(map(str, rows.values())),
            name_prefix,
            *self.constant_values(template),
            origin,
            offer_ids,
        ]
        with self.connection.cursor() as cursor:
            try:
                with transaction.atomic(using=self.using):
                    cursor.execute(self.fast_sql, params)
                return []
            except IntegrityError:  # a code or a name is taken: skip those rows
                cursor.execute(self.careful_sql, params)
                return [code for (code,) in cursor.fetchall()]


class _SQLiteWriter(_Writer):
    """Multi-row ``VALUES``, as many rows per statement as SQLite takes parameters."""

    insert, on_conflict = "INSERT", " ON CONFLICT DO NOTHING"

    def write(self, template, name_prefix, rows, origin, offer_ids):
        quote = self.connection.ops.quote_name
        constants = self.constant_values(template)
        width = len(constants) + 3
        per_statement = max(1, (self.connection.features.max_query_params or 999) // width)
        row_sql = "(" + ", ".join(["%s"] * width) + ")"
        items = list(rows.items())
        new_ids = {}
        with self.connection.cursor() as cursor:
            for start in range(0, len(items), per_statement):
                batch = items[start : start + per_statement]
                params = []
                for code, n in batch:
                    created = origin + timedelta(microseconds=n)
                    params += [f"{name_prefix}{n}", code, *constants]
                    params.append(self.created.get_db_prep_save(created, self.connection))
                cursor.execute(
                    f"{self.insert} INTO {self.table} ({self.columns}) VALUES "
                    + ", ".join([row_sql] * len(batch))
                    + f"{self.on_conflict} RETURNING {self.pk}, {quote(self.code.column)}",
                    params,
                )
                new_ids.update({code: pk for pk, code in cursor.fetchall()})
        field = Voucher._meta.get_field("offers")
        voucher_attr = self.through._meta.get_field(field.m2m_field_name()).attname
        offer_attr = self.through._meta.get_field(field.m2m_reverse_field_name()).attname
        self.through._default_manager.using(self.using).bulk_create(
            self.through(**{voucher_attr: voucher_id, offer_attr: offer_id})
            for voucher_id in new_ids.values()
            for offer_id in offer_ids
        )
        return [code for code in rows if code not in new_ids]


class _MariaDBWriter(_SQLiteWriter):
    """SQLite's statements in MariaDB's words: ``INSERT IGNORE ... RETURNING`` (>= 10.5)."""

    insert, on_conflict = "INSERT IGNORE", ""


def _writer_for(connection) -> _Writer:
    if connection.vendor == "postgresql":
        return _PostgresWriter(connection)
    if connection.vendor == "sqlite" and connection.features.can_return_rows_from_bulk_insert:
        return _SQLiteWriter(connection)
    if connection.vendor == "mysql" and connection.features.can_return_rows_from_bulk_insert:
        return _MariaDBWriter(connection)  # MariaDB >= 10.5; MySQL cannot return rows
    raise NotSupportedError(
        "Bulk coupon codes need PostgreSQL, SQLite >= 3.35 or MariaDB >= 10.5 (an INSERT "
        f"that skips clashes and returns its rows); this database is {connection.vendor}."
    )


# Export -----------------------------------------------------------------------

CSV_HEADER = ("code", "name", "usage", "start", "end", "num_orders")


def csv_rows(voucher_set: VoucherSet, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[tuple]:
    """The header, then one row per voucher of the set in creation order, streamed.

    Rows come from a server-side cursor (``iterator(chunk_size)``), so memory
    does not grow with the size of the set; usable with a ``StreamingHttpResponse``.
    ``num_orders`` is how many orders used the code (Oscar's own counter). A
    name that a spreadsheet would read as a formula is written as text.
    """
    yield CSV_HEADER
    rows = (
        Voucher._default_manager.filter(voucher_set=voucher_set)
        .order_by("pk")
        .values_list("code", "name", "usage", "start_datetime", "end_datetime", "num_orders")
    )
    for code, name, usage, start, end, num_orders in rows.iterator(chunk_size=chunk_size):
        yield code, not_a_formula(name), usage, start.isoformat(), end.isoformat(), num_orders


#: What makes a spreadsheet read a cell as a formula (OWASP's "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def not_a_formula(text: str) -> str:
    """Text a spreadsheet shows as text: a leading ``'`` before what would start a formula.

    Codes cannot start so; a voucher set's name (free text in Oscar's dashboard) can.
    """
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def write_csv(
    voucher_set: VoucherSet, file: IO[str], *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> int:
    """Write the set's codes as CSV (see ``csv_rows``) to a text file; return the row count."""
    writer = csv.writer(file)
    written = -1  # the header is not a code
    for row in csv_rows(voucher_set, chunk_size=chunk_size):
        writer.writerow(row)
        written += 1
    return written
