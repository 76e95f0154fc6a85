import csv
import io
import re
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from oscar.apps.offer.applicator import Applicator
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_class, get_model
from oscar.test.factories import create_offer, create_product, create_stockrecord

from oscar_loyalty.coupons import codes

pytestmark = pytest.mark.django_db

Basket = get_model("basket", "Basket")
Voucher = get_model("voucher", "Voucher")
VoucherSet = get_model("voucher", "VoucherSet")
VoucherSetForm = get_class("dashboard.vouchers.forms", "VoucherSetForm")

SYMBOL = f"[{codes.ALPHABET}]"


@pytest.fixture
def offer():
    return create_offer(name="Camp offer", offer_type="Voucher")


@pytest.fixture
def voucher_set():
    now = timezone.now()
    return VoucherSet.objects.create(
        name="Camp",
        count=0,
        description="",
        start_datetime=now - timedelta(days=1),
        end_datetime=now + timedelta(days=30),
    )


def generate(voucher_set, count, offer=None, **kwargs):
    if offer is not None:
        kwargs.setdefault("usage", Voucher.SINGLE_USE)
        kwargs.setdefault("offers", [offer])
    return codes.generate_codes(voucher_set, count, **kwargs)


def set_codes(voucher_set):
    return list(Voucher.objects.filter(voucher_set=voucher_set).values_list("code", flat=True))


def test_codes_are_unique_prefixed_random_and_oscar_shaped(voucher_set, offer):
    assert generate(voucher_set, 2500, offer, prefix="xmas-", chunk_size=1000) == 2500

    vouchers = Voucher.objects.filter(voucher_set=voucher_set)
    found = set_codes(voucher_set)
    assert len(found) == len(set(found)) == 2500
    pattern = re.compile(rf"^XMAS-{SYMBOL}{{{codes.DEFAULT_LENGTH}}}$")
    assert all(pattern.match(code) for code in found), found[:5]
    assert not any(set(code[5:]) & set("01OIL") for code in found)
    # As Oscar's dashboard makes them: numbered names, the set's dates, one usage, the offers.
    assert set(vouchers.values_list("name", flat=True)) == {f"Camp - {n}" for n in range(1, 2501)}
    assert set(vouchers.values_list("usage", "start_datetime", "end_datetime")) == {
        (Voucher.SINGLE_USE, voucher_set.start_datetime, voucher_set.end_datetime)
    }
    assert Voucher.offers.through.objects.filter(voucher__voucher_set=voucher_set).count() == 2500
    assert set(vouchers.values_list("offers", flat=True)) == {offer.pk}
    assert vouchers.filter(num_orders=0, num_basket_additions=0, total_discount=0).count() == 2500
    # Numbers follow creation time, as when Oscar creates them one by one.
    assert len(set(vouchers.values_list("date_created", flat=True))) == 2500
    names = list(vouchers.order_by("date_created").values_list("name", flat=True))
    assert names == [f"Camp - {n}" for n in range(1, 2501)]
    voucher_set.refresh_from_db()
    assert voucher_set.count == 2500


def test_length_option_and_its_limits(voucher_set, offer):
    assert codes.DEFAULT_LENGTH * codes.BITS_PER_CHARACTER >= 60
    assert (codes.DEFAULT_LENGTH - 1) * codes.BITS_PER_CHARACTER < 60
    generate(voucher_set, 10, offer, length=codes.MIN_LENGTH)
    assert {len(code) for code in set_codes(voucher_set)} == {codes.MIN_LENGTH}
    assert codes.MIN_LENGTH * codes.BITS_PER_CHARACTER >= 40
    with pytest.raises(ValueError, match="40 bits"):
        generate(voucher_set, 10, offer, length=codes.MIN_LENGTH - 1)
    with pytest.raises(ValueError, match="at most 64"):
        generate(voucher_set, 10, offer, prefix="ABCDEFGHIJ", length=55)
    assert Voucher.objects.filter(voucher_set=voucher_set).count() == 10


def test_collisions_with_existing_codes_are_drawn_again(voucher_set, offer, monkeypatch):
    taken = "P" + "2" * codes.DEFAULT_LENGTH
    other = Voucher.objects.create(
        name="Old",
        code=taken,
        start_datetime=timezone.now(),
        end_datetime=timezone.now() + timedelta(days=1),
    )
    real = codes.random_characters
    calls = []

    def first_draw_collides(count):
        calls.append(count)
        return "2" * count if len(calls) == 1 else real(count)

    monkeypatch.setattr(codes, "random_characters", first_draw_collides)
    assert generate(voucher_set, 5, offer, prefix="P") == 5

    found = set_codes(voucher_set)
    assert len(set(found)) == 5 and taken not in found
    # Draw 1: five copies of the taken code; draw 2: four more; draw 3: the retry
    # for the one the database refused.
    assert calls == [5 * 13, 4 * 13, 1 * 13]
    # "Camp - 1" got its code last, yet its creation time still comes first.
    names = Voucher.objects.filter(voucher_set=voucher_set).order_by("date_created")
    assert list(names.values_list("name", flat=True)) == [f"Camp - {n}" for n in range(1, 6)]
    other.refresh_from_db()
    assert (other.name, other.code, other.voucher_set) == ("Old", taken, None)
    voucher_set.refresh_from_db()
    assert voucher_set.count == 5


def test_a_code_space_that_is_used_up_is_an_error_and_the_chunk_is_undone(
    voucher_set, offer, monkeypatch
):
    Voucher.objects.create(
        name="Old",
        code="2" * codes.DEFAULT_LENGTH,
        start_datetime=timezone.now(),
        end_datetime=timezone.now() + timedelta(days=1),
    )
    monkeypatch.setattr(codes, "random_characters", lambda count: "2" * count)
    with pytest.raises(codes.CodeSpaceExhausted):
        generate(voucher_set, 1, offer)
    with pytest.raises(codes.CodeSpaceExhausted):
        generate(voucher_set, 3, offer)
    assert not Voucher.objects.filter(voucher_set=voucher_set).exists()
    voucher_set.refresh_from_db()
    assert voucher_set.count == 0


def test_names_other_vouchers_have_are_skipped(voucher_set, offer):
    Voucher.objects.create(
        name="Camp - 2",
        code="ELSEWHERE",
        start_datetime=timezone.now(),
        end_datetime=timezone.now() + timedelta(days=1),
    )
    generate(voucher_set, 3, offer)
    names = set(Voucher.objects.filter(voucher_set=voucher_set).values_list("name", flat=True))
    assert names == {"Camp - 1", "Camp - 3", "Camp - 4"}
    voucher_set.refresh_from_db()
    assert voucher_set.count == 3


def test_a_generated_code_discounts_a_basket_through_oscar(voucher_set, offer, customer):
    generate(voucher_set, 3, offer)
    code = set_codes(voucher_set)[0]
    # Oscar's basket form upper-cases what the customer types.
    voucher = Voucher.objects.get(code=f" {code.lower()} ".strip().upper())
    assert voucher.is_active()
    assert list(voucher.offers.all()) == [offer]

    basket = Basket.objects.create(owner=customer)
    basket.strategy = Default()
    product = create_product(title="Tent")
    create_stockrecord(product, price=Decimal("100.00"), num_in_stock=10)
    basket.add_product(product, 1)
    assert voucher.is_available_for_basket(basket) == (True, "")
    basket.vouchers.add(voucher)
    Applicator().apply(basket, customer)
    assert basket.total_discount == Decimal("20.00")  # create_offer: 20% off everything
    assert basket.total_incl_tax == Decimal("80.00")


def test_oscars_dashboard_form_extends_a_generated_set(voucher_set, offer):
    generate(voucher_set, 3, offer, prefix="CAMP")
    before = dict(Voucher.objects.filter(voucher_set=voucher_set).values_list("name", "code"))
    form = VoucherSetForm(
        instance=voucher_set,
        data={
            "name": "Camp",
            "code_length": 12,
            "description": "more",
            "start_datetime": voucher_set.start_datetime.strftime("%Y-%m-%d %H:%M"),
            "end_datetime": voucher_set.end_datetime.strftime("%Y-%m-%d %H:%M"),
            "count": 5,
            "usage": Voucher.SINGLE_USE,
            "offers": [offer.pk],
        },
    )
    assert form.is_valid(), form.errors
    form.save()

    after = dict(Voucher.objects.filter(voucher_set=voucher_set).values_list("name", "code"))
    assert len(after) == 5
    assert {name: after[name] for name in before} == before  # renumbering kept ours
    assert {"Camp - 4", "Camp - 5"} <= set(after)
    voucher_set.refresh_from_db()
    assert voucher_set.count == 5


def test_numbering_continues_after_the_highest_number_when_vouchers_were_deleted(
    voucher_set, offer, monkeypatch
):
    generate(voucher_set, 5, offer)
    Voucher.objects.filter(name="Camp - 2").delete()
    voucher_set.update_count()  # what Oscar's dashboard does after a delete
    assert voucher_set.count == 4
    real, draws = codes.draw_codes, []
    monkeypatch.setattr(codes, "draw_codes", lambda *a: draws.append(a[0]) or real(*a))
    generate(voucher_set, 2)
    assert draws == [2]  # no name clash with "Camp - 5", nothing drawn again
    names = set(Voucher.objects.filter(voucher_set=voucher_set).values_list("name", flat=True))
    assert names == {"Camp - 1", "Camp - 3", "Camp - 4", "Camp - 5", "Camp - 6", "Camp - 7"}
    assert voucher_set.count == 6


def test_a_second_run_adds_more_codes_and_keeps_the_set_settings(voucher_set, offer):
    generate(voucher_set, 700, offer, chunk_size=300)
    first = set(set_codes(voucher_set))
    assert generate(voucher_set, 800, chunk_size=500) == 800  # usage, offers from the set

    found = set_codes(voucher_set)
    assert len(found) == len(set(found)) == 1500
    assert first <= set(found)
    vouchers = Voucher.objects.filter(voucher_set=voucher_set)
    assert set(vouchers.values_list("usage", flat=True)) == {Voucher.SINGLE_USE}
    assert set(vouchers.values_list("offers", flat=True)) == {offer.pk}
    assert set(vouchers.values_list("name", flat=True)) == {f"Camp - {n}" for n in range(1, 1501)}
    voucher_set.refresh_from_db()
    assert voucher_set.count == 1500


def test_a_stale_set_count_is_corrected_first(voucher_set, offer):
    generate(voucher_set, 4, offer)
    VoucherSet.objects.filter(pk=voucher_set.pk).update(count=0)
    voucher_set.refresh_from_db()
    generate(voucher_set, 2)
    assert voucher_set.count == 6
    names = set(Voucher.objects.filter(voucher_set=voucher_set).values_list("name", flat=True))
    assert names == {f"Camp - {n}" for n in range(1, 7)}


def test_progress_is_reported_after_each_chunk(voucher_set, offer):
    seen = []
    generate(voucher_set, 1000, offer, chunk_size=400, progress=lambda *a: seen.append(a))
    assert seen == [(400, 1000), (800, 1000), (1000, 1000)]


def test_only_one_chunk_of_codes_is_drawn_at_a_time(voucher_set, offer, monkeypatch):
    real = codes.draw_codes
    sizes = []

    def spy(count, prefix, length):
        sizes.append(count)
        return real(count, prefix, length)

    monkeypatch.setattr(codes, "draw_codes", spy)
    generate(voucher_set, 1000, offer, chunk_size=128)
    assert sum(sizes) == 1000 and max(sizes) == 128


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"count": -1}, "whole number >= 0"),
        ({"chunk_size": 0}, "chunk size"),
        ({"prefix": "A B"}, "prefix"),
        ({"usage": "Twice"}, "Unknown usage"),
        ({"offers": []}, "usage and at least one offer"),
        ({"usage": None}, "usage and at least one offer"),
        ({"offers": [987654]}, "No offer with id 987654"),
    ],
)
def test_bad_arguments_write_nothing(voucher_set, offer, kwargs, message):
    arguments = {"count": 5, "usage": Voucher.SINGLE_USE, "offers": [offer], **kwargs}
    count = arguments.pop("count")
    with pytest.raises(ValueError, match=message):
        codes.generate_codes(voucher_set, count, **arguments)
    assert not Voucher.objects.exists()


def test_offers_must_be_voucher_offers(voucher_set):
    site_offer = create_offer(name="Site offer", offer_type="Site")
    with pytest.raises(ValueError, match="'Site' offer"):
        codes.generate_codes(voucher_set, 5, usage=Voucher.SINGLE_USE, offers=[site_offer.pk])
    assert not Voucher.objects.exists()


def test_a_set_keeps_one_usage_and_one_set_of_offers(voucher_set, offer):
    generate(voucher_set, 2, offer)
    other = create_offer(name="Other", offer_type="Voucher")
    with pytest.raises(ValueError, match="same usage"):
        generate(voucher_set, 2, usage=Voucher.MULTI_USE)
    with pytest.raises(ValueError, match="same offers"):
        generate(voucher_set, 2, offers=[offer, other])
    assert Voucher.objects.filter(voucher_set=voucher_set).count() == 2


def test_csv_export_streams_every_code(voucher_set, offer):
    generate(voucher_set, 1200, offer, prefix="CSV")
    out = io.StringIO()
    assert codes.write_csv(voucher_set, out, chunk_size=100) == 1200
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == codes.CSV_HEADER
    assert sorted(row[0] for row in rows[1:]) == sorted(set_codes(voucher_set))
    code, name, usage, start, end, num_orders = rows[1]
    assert name == "Camp - 1" and usage == Voucher.SINGLE_USE and num_orders == "0"
    assert start == voucher_set.start_datetime.isoformat()
    assert end == voucher_set.end_datetime.isoformat()


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTab"])
def test_csv_cells_never_start_a_formula(offer, name):
    """A set named in Oscar's dashboard may start with = + - @: a spreadsheet must not run it."""
    now = timezone.now()
    voucher_set = VoucherSet.objects.create(
        name=name, count=0, start_datetime=now, end_datetime=now + timedelta(days=1)
    )
    generate(voucher_set, 2, offer)
    out = io.StringIO()
    codes.write_csv(voucher_set, out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert {row[1] for row in rows[1:]} == {f"'{name} - 1", f"'{name} - 2"}
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@", "\t")]


# The management command ----------------------------------------------------------


def command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("loyalty_generate_codes", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_command_creates_a_set_and_exports_it(offer, tmp_path):
    path = tmp_path / "spring.csv"
    out = command(
        "--name", "Spring", "--offer", str(offer.pk), "--start", "2026-03-01", "--end",
        "2099-05-31", "--usage", "once-per-customer", "--count", "250", "--prefix", "spr-",
        "--chunk-size", "100", "--csv", str(path),
    )  # fmt: skip
    voucher_set = VoucherSet.objects.get(name="Spring")
    assert f"Created voucher set 'Spring' (id {voucher_set.pk})" in out
    assert "Added 250 codes" in out and "Wrote 250 codes" in out
    assert voucher_set.count == 250
    assert voucher_set.code_length == codes.DEFAULT_LENGTH
    local = timezone.localtime
    assert local(voucher_set.start_datetime).strftime("%F %T") == "2026-03-01 00:00:00"
    assert local(voucher_set.end_datetime).strftime("%F %T") == "2099-05-31 23:59:59"
    vouchers = Voucher.objects.filter(voucher_set=voucher_set)
    assert set(vouchers.values_list("usage", flat=True)) == {Voucher.ONCE_PER_CUSTOMER}
    assert set(vouchers.values_list("offers", flat=True)) == {offer.pk}
    with path.open(newline="") as file:
        rows = list(csv.reader(file))
    assert len(rows) == 251
    assert {row[0] for row in rows[1:]} == set(set_codes(voucher_set))
    assert all(re.match(rf"^SPR-{SYMBOL}{{13}}$", row[0]) for row in rows[1:])


def test_command_adds_to_a_set_by_id_or_name_and_exports_only(voucher_set, offer, tmp_path):
    generate(voucher_set, 10, offer)
    assert "Added 5 codes" in command("--set", str(voucher_set.pk), "--count", "5")
    out = command("--set", "Camp", "--count", "7", "--length", "20")
    assert "Added 7 codes" in out and "it has 22 vouchers" in out
    found = set_codes(voucher_set)
    assert len(set(found)) == 22
    assert sorted(Counter(map(len, found)).items()) == [(13, 15), (20, 7)]

    path = tmp_path / "all.csv"
    out = command("--set", "Camp", "--csv", str(path))
    assert "Added" not in out and "Wrote 22 codes" in out
    assert len(path.read_text().splitlines()) == 23


def test_command_draws_a_progress_bar_on_a_terminal(voucher_set, offer):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    err = Terminal()
    call_command(
        "loyalty_generate_codes", "--set", "Camp", "--count", "30", "--offer", str(offer.pk),
        "--usage", "multi", "--chunk-size", "10", stdout=io.StringIO(), stderr=err,
    )  # fmt: skip
    assert err.getvalue().count("\r[") == 3
    assert "30/30 100%" in err.getvalue()


BAD = [
    (["--count", "5"], "Give --set"),
    (["--set", "Camp"], "Give --count"),
    (["--set", "Camp", "--count", "0"], "--count must be from 1"),
    (["--set", "Camp", "--count", "-3"], "--count must be from 1"),
    (["--set", "Camp", "--count", "10000001"], "--count must be from 1"),
    (["--set", "Camp", "--count", "many"], "invalid int value"),
    (["--set", "Nope", "--count", "5"], "no voucher set with id or name 'Nope'"),
    (["--set", "987654", "--count", "5"], "no voucher set"),
    (["--set", "Camp", "--count", "5"], "has no vouchers yet"),
    (["--set", "Camp", "--count", "5", "--usage", "multi", "--offer", "987654"], "no offer"),
    (["--set", "Camp", "--count", "5", "--name", "X"], "--name is for a new set"),
    (["--set", "Camp", "--count", "5", "--end", "2099-01-01"], "--end is for a new set"),
    (["--set", "Camp", "--count", "5", "--prefix", "BAD PREFIX"], "prefix"),
    (["--set", "Camp", "--count", "5", "--prefix", "TOOLONGPREFIX"], "at most 10"),
    (["--set", "Camp", "--count", "5", "--length", "6"], "40 bits"),
    (["--set", "Camp", "--count", "5", "--chunk-size", "0"], "--chunk-size"),
    (["--set", "Camp", "--count", "5", "--csv", "/no/such/dir/x.csv"], "no directory"),
    (["--name", "Camp", "--count", "5"], "exists already"),
    (["--name", "New", "--count", "5", "--usage", "single", "--end", "2099-01-01"], "--offer"),
    (["--name", "New", "--count", "5", "--offer", "{offer}", "--end", "2099-01-01"], "--usage"),
    (["--name", "New", "--count", "5", "--offer", "{offer}", "--usage", "single"], "--end"),
    (["--name", "New", "--count", "5", "--offer", "{site}", "--usage", "single"], "'Site' offer"),
    (["--name", "New", "--offer", "{offer}", "--usage", "single", "--end", "2099-01-01"], "count"),
    (["--name", "x" * 101, "--count", "5", "--offer", "{offer}", "--usage", "single",
      "--end", "2099-01-01"], "1 to 100 characters"),
    (["--name", "New", "--count", "5", "--offer", "{offer}", "--usage", "single",
      "--end", "31/12/2099"], "not a date"),
    (["--name", "New", "--count", "5", "--offer", "{offer}", "--usage", "single",
      "--end", "2099-02-30"], "not a date"),
    (["--name", "New", "--count", "5", "--offer", "{offer}", "--usage", "single",
      "--start", "2099-02-01", "--end", "2099-01-01"], "after --start"),
    (["--name", "New", "--count", "5", "--offer", "{offer}", "--usage", "single",
      "--start", "2000-01-01", "--end", "2001-01-01"], "in the past"),
    (["--name", "New", "--count", "5", "--offer", "{offer}", "--usage", "twice",
      "--end", "2099-01-01"], "invalid choice"),
]  # fmt: skip


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(args) for args, _ in BAD])
def test_command_refuses_bad_input_and_writes_nothing(voucher_set, offer, tmp_path, args, message):
    site = create_offer(name="Site offer", offer_type="Site")
    args = [arg.format(offer=offer.pk, site=site.pk) for arg in args]
    if "--csv" not in args and "--count" in args:  # (--set and --csv alone: export only)
        args += ["--csv", str(tmp_path / "out.csv")]
    with pytest.raises(CommandError, match=re.escape(message)):
        command(*args)
    assert list(VoucherSet.objects.values_list("name", "count")) == [("Camp", 0)]
    assert not Voucher.objects.exists()
    assert list(tmp_path.iterdir()) == []


def test_command_refuses_usage_that_differs_from_the_set(voucher_set, offer):
    generate(voucher_set, 3, offer)
    with pytest.raises(CommandError, match="same usage"):
        command("--set", "Camp", "--count", "5", "--usage", "multi")
    assert Voucher.objects.count() == 3
