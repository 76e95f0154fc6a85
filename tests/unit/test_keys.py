"""Idempotency keys: the stored formats, and reading them back."""

from datetime import date

import pytest

from oscar_loyalty import keys


def test_the_stored_formats_never_change():
    assert keys.order_earn("100023") == "earn:order:100023"
    assert keys.referral_earn(7) == "earn:referral:7"
    assert keys.welcome_earn(3) == "earn:welcome:3"
    assert keys.redemption_spend(5) == "spend:redemption:5"
    assert keys.redemption_restore(5) == "restore:redemption:5"
    assert keys.lot_expire(9) == "expire:lot:9"
    assert keys.lot_close(9) == "close:lot:9"
    assert keys.clawback("earn:order:100023", 40) == "clawback:earn:order:100023:to:40"
    assert keys.till_earn("till-1:1042") == "earn:till:till-1:1042"
    assert keys.till_spend("b7e1") == "spend:till:b7e1"
    assert keys.staff_adjust("desk-1") == "adjust:staff:desk-1"
    assert keys.import_lot(12, date(2027, 3, 1), 120) == "import:12:2027-03-01:120"
    assert keys.import_lot(12, None, 5) == "import:12:never:5"


@pytest.mark.parametrize(
    "key, parsed",
    [
        (keys.order_earn("A-1:2"), ("earn", keys.ORDER, "A-1:2", None)),
        (keys.referral_earn(7), ("earn", keys.REFERRAL, "7", None)),
        (keys.welcome_earn(3), ("earn", keys.WELCOME, "3", None)),
        (keys.redemption_spend(5), ("spend", keys.REDEMPTION, "5", None)),
        (keys.redemption_restore(5), ("restore", keys.REDEMPTION, "5", None)),
        (keys.lot_expire(9), ("expire", keys.LOT, "9", None)),
        (keys.lot_close(9), ("close", keys.LOT, "9", None)),
        (keys.till_earn("t:1"), ("earn", keys.TILL, "t:1", None)),
        (keys.till_spend("t:1"), ("spend", keys.TILL, "t:1", None)),
        (keys.staff_adjust("d-1"), ("adjust", keys.STAFF, "d-1", None)),
        (keys.import_lot(4, None, 9), ("earn", keys.IMPORTED, "4:never:9", None)),
        (keys.clawback(keys.referral_earn(7), 0), ("clawback", keys.REFERRAL, "7", 0)),
        (keys.clawback(keys.order_earn("1:to:2"), 5), ("clawback", keys.ORDER, "1:to:2", 5)),
    ],
)
def test_every_key_reads_back_as_its_cause(key, parsed):
    assert tuple(keys.parse(key)) == parsed


@pytest.mark.parametrize(
    "key", ["", "s", "earn:order:", "earn:tier:1", "clawback:spend:redemption:1:to:2", "clawback:x"]
)
def test_keys_not_built_here_read_as_none(key):
    assert keys.parse(key) is None
