"""One address, however the provider lets it be spelled: no database needed."""

import pytest

from oscar_loyalty.referrals import normalise_email


@pytest.mark.parametrize(
    "variant",
    [
        "jdoe@gmail.com",
        "j.doe@gmail.com",
        "J.Doe@Gmail.com",
        "j.d.o.e@gmail.com",
        "jdoe+shop@gmail.com",
        "j.doe+a.b@googlemail.com",
        "JDOE@GOOGLEMAIL.COM",
        "  jdoe@gmail.com ",
    ],
)
def test_gmail_variants_are_one_address(variant):
    assert normalise_email(variant) == "jdoe@gmail.com"


@pytest.mark.parametrize(
    "address,normalised",
    [
        ("buyer+shop@x.com", "buyer@x.com"),
        ("Buyer+a+b@X.com", "buyer@x.com"),
        ("ana.perez@example.com", "ana.perez@example.com"),  # dots matter outside Gmail
        ("ana.perez+tag@example.com", "ana.perez@example.com"),
    ],
)
def test_plus_tags_go_everywhere_dots_only_at_gmail(address, normalised):
    assert normalise_email(address) == normalised


def test_different_people_stay_apart():
    assert normalise_email("jdoe@gmail.com") != normalise_email("jdoe@example.com")
    assert normalise_email("jdoe@gmail.com") != normalise_email("jdoe2@gmail.com")
    assert normalise_email("+a@x.com") != normalise_email("+b@x.com")


@pytest.mark.parametrize("empty", ["", None, "   "])
def test_no_address_matches_nothing(empty):
    assert normalise_email(empty) == ""
