"""How referrals compare e-mail addresses, with no database."""

import pytest

from oscar_loyalty.referrals import normalise_email


@pytest.mark.parametrize(
    "email, normalised",
    [
        ("Ana.Perez+shop@Example.com", "ana.perez@example.com"),
        ("  ana@example.com ", "ana@example.com"),
        ("ana+a+b@example.com", "ana@example.com"),
        ("ana@example.com", "ana@example.com"),
    ],
)
def test_case_spaces_and_plus_tags_do_not_make_another_address(email, normalised):
    assert normalise_email(email) == normalised


def test_dots_and_domains_still_tell_addresses_apart():
    assert normalise_email("ana.perez@example.com") != normalise_email("anaperez@example.com")
    assert normalise_email("ana@example.com") != normalise_email("ana@example.org")
