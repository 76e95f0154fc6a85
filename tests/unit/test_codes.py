"""Coupon codes: the alphabet, prefixes and lengths, with no database."""

from collections import Counter

import pytest

from oscar_loyalty.coupons import codes


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
