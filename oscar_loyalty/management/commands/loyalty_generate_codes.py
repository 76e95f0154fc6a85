import os
from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from oscar.core.loading import get_model

from oscar_loyalty.coupons import codes
from oscar_loyalty.management.options import check_year, refuse_nul_bytes

Voucher = get_model("voucher", "Voucher")
VoucherSet = get_model("voucher", "VoucherSet")
ConditionalOffer = get_model("offer", "ConditionalOffer")

MAX_COUNT = 10_000_000
USAGES = {
    "single": Voucher.SINGLE_USE,
    "multi": Voucher.MULTI_USE,
    "once-per-customer": Voucher.ONCE_PER_CUSTOMER,
}
NEW_SET_OPTIONS = ("name", "start", "end", "description")


def _when(value, option, end_of_day=False):
    """An aware datetime from YYYY-MM-DD (start, or end, of that day) or an ISO datetime."""
    try:
        day = parse_date(value)  # first: parse_datetime takes a bare date as midnight
        moment = None if day else parse_datetime(value)
    except ValueError:  # well-formed but impossible, e.g. 2099-02-30
        day = moment = None
    if day is not None:
        moment = datetime.combine(day, time.max if end_of_day else time.min)
    if moment is None:
        raise CommandError(f"{option}: not a date (YYYY-MM-DD) or date and time: {value!r}")
    check_year(moment, option)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = (
        "Add COUNT vouchers with unique random codes to an Oscar voucher set (--set), or "
        "to a new set for a voucher offer (--name, --offer, --end, --usage), and optionally "
        "export all the set's codes as CSV. The vouchers are ordinary Oscar vouchers, "
        "numbered and configured as Oscar's dashboard does for its own voucher sets. "
        "Every chunk of codes is committed on its own: if a run is interrupted, run again "
        "with --set and the number of codes still missing."
    )

    def add_arguments(self, parser):
        target = parser.add_argument_group("which voucher set")
        target.add_argument("--set", dest="voucher_set", help="Id or name of an existing set.")
        target.add_argument("--name", help="Name of a new set (at most 100 characters).")
        target.add_argument(
            "--offer",
            type=int,
            action="append",
            help="Id of a voucher offer the codes apply (repeat for several). Needed for a "
            "new set, or an existing set without vouchers.",
        )
        target.add_argument(
            "--start", help="New set: valid from (YYYY-MM-DD or ISO date and time; default now)."
        )
        target.add_argument(
            "--end", help="New set: valid until (YYYY-MM-DD means to the end of that day)."
        )
        target.add_argument(
            "--usage",
            choices=sorted(USAGES),
            help="How often each code can be used. Needed for a new set, or an existing set "
            "without vouchers.",
        )
        target.add_argument("--description", default="", help="New set: description.")
        parser.add_argument(
            "--count", type=int, help=f"How many codes to add (1 to {MAX_COUNT:,})."
        )
        parser.add_argument(
            "--prefix",
            default="",
            help=f"Put before every code: letters, digits, hyphens; at most "
            f"{codes.MAX_PREFIX_LENGTH} characters.",
        )
        parser.add_argument(
            "--length",
            type=int,
            help=f"Random characters per code (default {codes.DEFAULT_LENGTH}, at least "
            f"{codes.MIN_LENGTH}).",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=codes.DEFAULT_CHUNK_SIZE,
            help="Codes per transaction.",
        )
        parser.add_argument("--csv", help="Then write all the set's codes to this CSV file.")

    def handle(self, *args, **options):
        # Everything is checked before anything is written.
        refuse_nul_bytes(options)
        creating = options["voucher_set"] is None
        if creating and not options["name"]:
            raise CommandError("Give --set (an existing voucher set) or --name (a new one).")
        if not creating:
            clash = [option for option in NEW_SET_OPTIONS if options[option]]
            if clash:
                raise CommandError(f"--{clash[0]} is for a new set; it cannot be used with --set.")
        count = options["count"]
        if count is None and (creating or not options["csv"]):
            raise CommandError("Give --count, how many codes to add.")
        if count is not None and not 1 <= count <= MAX_COUNT:
            raise CommandError(f"--count must be from 1 to {MAX_COUNT:,}, not {count:,}.")
        try:
            prefix = codes.clean_prefix(options["prefix"])
            length = codes.check_length(options["length"], prefix)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        chunk_size = options["chunk_size"]
        if not 1 <= chunk_size <= 100_000:
            raise CommandError("--chunk-size must be from 1 to 100000.")
        csv_path = options["csv"]
        if csv_path:
            self._check_writable(csv_path)
        offers = self._offers(options["offer"]) if options["offer"] else None
        usage = USAGES[options["usage"]] if options["usage"] else None

        if creating:
            voucher_set = self._new_set(options, offers, usage, length)
        else:
            voucher_set = self._find_set(options["voucher_set"])

        if count:
            show = options["verbosity"] > 0 and self.stderr.isatty()
            try:
                added = codes.generate_codes(
                    voucher_set,
                    count,
                    prefix=prefix,
                    length=length,
                    usage=usage,
                    offers=offers,
                    chunk_size=chunk_size,
                    progress=self._progress if show else None,
                )
            except ValueError as exc:  # usage / offers that do not fit an existing set
                raise CommandError(str(exc)) from exc
            finally:
                if show:
                    self.stderr.write("", style_func=str)
            self.stdout.write(
                f"Added {added:,} codes to voucher set {voucher_set.name!r} (id "
                f"{voucher_set.pk}); it has {voucher_set.count:,} vouchers."
            )
        if csv_path:
            with open(csv_path, "w", newline="", encoding="utf-8") as file:
                written = codes.write_csv(voucher_set, file, chunk_size=chunk_size)
            self.stdout.write(f"Wrote {written:,} codes to {csv_path}.")

    def _check_writable(self, path):
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(path):
            raise CommandError(f"--csv: {path} is a directory.")
        if not os.path.isdir(folder):
            raise CommandError(f"--csv: no directory {folder}.")
        if not os.access(folder, os.W_OK) or (
            os.path.exists(path) and not os.access(path, os.W_OK)
        ):
            raise CommandError(f"--csv: cannot write {path}.")

    def _offers(self, ids):
        found = {offer.pk: offer for offer in ConditionalOffer._default_manager.filter(pk__in=ids)}
        for pk in ids:
            if pk not in found:
                raise CommandError(f"--offer: no offer with id {pk}.")
            if found[pk].offer_type != ConditionalOffer.VOUCHER:
                raise CommandError(
                    f"--offer: offer {pk} ({found[pk].name!r}) is a {found[pk].offer_type!r} "
                    f"offer; codes need a {ConditionalOffer.VOUCHER!r} offer."
                )
        return [found[pk] for pk in dict.fromkeys(ids)]

    def _find_set(self, value):
        value = value.strip()
        found = None
        if value.isdigit():
            found = VoucherSet._default_manager.filter(pk=int(value)).first()
        if found is None:
            found = VoucherSet._default_manager.filter(name=value).first()
        if found is None:
            raise CommandError(f"--set: no voucher set with id or name {value!r}.")
        return found

    def _new_set(self, options, offers, usage, length):
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("--name must be 1 to 100 characters.")
        if VoucherSet._default_manager.filter(name=name).exists():
            raise CommandError(
                f"--name: a voucher set {name!r} exists already; use --set to add codes to it."
            )
        if not offers:
            raise CommandError("A new set needs --offer, the voucher offer its codes apply.")
        if usage is None:
            raise CommandError("A new set needs --usage (single, multi or once-per-customer).")
        if not options["end"]:
            raise CommandError("A new set needs --end, the last day its codes can be used.")
        now = timezone.now()
        start = _when(options["start"], "--start") if options["start"] else now
        end = _when(options["end"], "--end", end_of_day=True)
        if end <= start:
            raise CommandError("--end must be after --start.")
        if end <= now:
            raise CommandError("--end is in the past: the codes could never be used.")
        # Same fields as Oscar's VoucherSetForm; count is kept by generate_codes.
        voucher_set = VoucherSet._default_manager.create(
            name=name,
            description=options["description"],
            code_length=length,
            count=0,
            start_datetime=start,
            end_datetime=end,
        )
        self.stdout.write(f"Created voucher set {name!r} (id {voucher_set.pk}).")
        return voucher_set

    def _progress(self, done, total):
        width = 40
        filled = width * done // total if total else width
        percent = 100 * done / total if total else 100
        bar = "#" * filled + "." * (width - filled)
        # Plain text: self.stderr would colour it as an error on a terminal.
        self.stderr.write(f"\r[{bar}] {done:,}/{total:,} {percent:.0f}%", style_func=str, ending="")
        self.stderr.flush()
