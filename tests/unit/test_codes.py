"""Coupon codes: the alphabet, prefixes and lengths, with no database."""

from collections import Counter

import pytest

from oscar_loyalty.coupons import applying, codes


def test_random_characters_are_uniform_over_the_alphabet():
    drawn = codes.random_characters(310_000)
    assert len(drawn) == 310_000
    counts = Counter(drawn)
    assert set(counts) == set(codes.ALPHABET)
    # 10,000 expected per symbol, standard deviation ~98: a biased mapping shows.
    assert all(abs(n - 10_000) < 600 for n in counts.values()), counts


@pytest.mark.parametrize(
    "prefix, cleaned",
    [("", ""), ("xmas-", "XMAS-"), (" Spring26 ", "SPRING26"), ("A-B-C", "A-B-C")],
)
def test_good_prefixes(prefix, cleaned):
    assert codes.clean_prefix(prefix) == cleaned


@pytest.mark.parametrize("prefix", ["-XMAS", "XM AS", "XMAS_", "ÄPFEL", "ＸＭＡＳ", "ABCDEFGHIJK"])
def test_bad_prefixes(prefix):
    with pytest.raises(ValueError, match="prefix"):
        codes.clean_prefix(prefix)


def test_the_alphabet_has_no_look_alikes_and_no_repeats():
    assert not set(codes.ALPHABET) & set("01OIL")
    assert len(set(codes.ALPHABET)) == len(codes.ALPHABET)
    assert codes.ALPHABET.isupper() and codes.ALPHABET.isalnum()


def test_lengths_give_60_bits_by_default_and_refuse_fewer_than_40():
    assert codes.check_length(None) == codes.DEFAULT_LENGTH
    assert codes.DEFAULT_LENGTH * codes.BITS_PER_CHARACTER >= 60
    assert codes.check_length(codes.MIN_LENGTH) == codes.MIN_LENGTH
    with pytest.raises(ValueError, match="40 bits"):
        codes.check_length(codes.MIN_LENGTH - 1)
    with pytest.raises(ValueError, match="at most 64"):
        codes.check_length(55, prefix="ABCDEFGHIJ")
    with pytest.raises(ValueError, match="whole number"):
        codes.check_length(True)


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("xmas-abc23", "XMAS-ABC23"),
        ("  SPRING26 ", "SPRING26"),
        ("ＳＰＲＩＮＧ２６", "SPRING26"),  # full-width, as some phone keyboards type
        ("", None),
        ("NO SPACES", None),
        ("-LEADING", None),
        ("A" * 65, None),
        (None, None),
    ],
)
def test_a_typed_code_is_read_as_stored_or_refused(typed, stored):
    assert applying.normalise(typed) == stored
