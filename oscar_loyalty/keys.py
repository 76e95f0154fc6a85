"""Every idempotency key, built and parsed here only: the ledger's and the emails'.

A ledger entry's key names its cause (rule 2 of the design: the same cause
twice posts once). The formats are part of the stored data, so they never
change; the set-based SQL in ``ledger.bulk`` builds the same keys from the
prefixes below, and the display code reads causes back with ``parse``.

==================================  ========================================================
``earn:order:<number>``             an order's points, once its return window passed
``earn:referral:<id>``              a referrer's reward for a friend's first order
``earn:welcome:<user id>``          the welcome bonus at sign-up (the "joining" bonus action)
``earn:birthday:<user id>:<year>``  the birthday bonus, once a year
``earn:review:<user id>:<product>`` an approved review's bonus, once per product and customer
``earn:profile:<user id>``          the bonus for completing the profile
``spend:redemption:<id>``           points turned into a voucher or reward
``restore:redemption:<id>``         those points given back
``restore:redemption:<id>:to:<n>``  part given back, the points voucher keeping ``n``
``expire:lot:<id>``                 what was left of a lot, expired
``close:lot:<id>``                  what was left of a lot, forfeited: its customer was deleted
``clawback:<earn key>:to:<n>``      an earn taken back down to ``n`` points
``shortfall:<id>:from:<entry id>``  a shortfall taken from the points a restore brought back
``earn:till:<till's key>``          a purchase paid at the till
``spend:till:<till's key>``         points spent for a discount at the till
``adjust:staff:<staff's key>``      a staff member's correction (the API's key, the form's token)
``import:<user id>:<expiry>:<n>``   ``n`` points brought from another program, expiring on that
                                    day (``YYYY-MM-DD``, or ``never``): one lot of an import file
==================================  ========================================================

A till's or staff member's key is their own (the ``Idempotency-Key`` they
send; in the dashboard, a random token drawn when the form is shown), so a
retried request posts once.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

ORDER_EARN = "earn:order:"
REFERRAL_EARN = "earn:referral:"
WELCOME_EARN = "earn:welcome:"
BIRTHDAY_EARN = "earn:birthday:"
REVIEW_EARN = "earn:review:"
PROFILE_EARN = "earn:profile:"
REDEMPTION_SPEND = "spend:redemption:"
REDEMPTION_RESTORE = "restore:redemption:"
LOT_EXPIRE = "expire:lot:"
LOT_CLOSE = "close:lot:"
CLAWBACK = "clawback:"
SHORTFALL_TAKE = "shortfall:"
TILL_EARN = "earn:till:"
TILL_SPEND = "spend:till:"
STAFF_ADJUST = "adjust:staff:"
IMPORT = "import:"
_CLAWBACK_TARGET = ":to:"
# Earn entries for a purchase (online or at the till): what tiers count as points earned.
PURCHASE_EARN_PREFIXES = (ORDER_EARN, TILL_EARN)

# Cause names, as ``parse`` returns them.
ORDER, REFERRAL, WELCOME, REDEMPTION, LOT = "order", "referral", "welcome", "redemption", "lot"
SHORTFALL = "shortfall"
BIRTHDAY, REVIEW, PROFILE = "birthday", "review", "profile"
TILL, STAFF = "till", "staff"
IMPORTED = "import"

_PREFIXES = {
    ORDER_EARN: ("earn", ORDER),
    REFERRAL_EARN: ("earn", REFERRAL),
    WELCOME_EARN: ("earn", WELCOME),
    BIRTHDAY_EARN: ("earn", BIRTHDAY),
    REVIEW_EARN: ("earn", REVIEW),
    PROFILE_EARN: ("earn", PROFILE),
    REDEMPTION_SPEND: ("spend", REDEMPTION),
    REDEMPTION_RESTORE: ("restore", REDEMPTION),
    LOT_EXPIRE: ("expire", LOT),
    LOT_CLOSE: ("close", LOT),
    SHORTFALL_TAKE: ("clawback", SHORTFALL),
    TILL_EARN: ("earn", TILL),
    TILL_SPEND: ("spend", TILL),
    STAFF_ADJUST: ("adjust", STAFF),
    IMPORT: ("earn", IMPORTED),
}


class Key(NamedTuple):
    """A parsed key: ``verb`` (earn, spend, restore, expire, close, clawback,
    adjust), the ``cause`` (order, referral, welcome, redemption, lot, till,
    staff, import) and its ``ref`` (an order number, an id or a till's key, as text). A
    clawback carries the cause of the earn it reverses, and ``target``, the
    points that earn keeps."""

    verb: str
    cause: str
    ref: str
    target: int | None = None


def order_earn(number: str) -> str:
    return f"{ORDER_EARN}{number}"


def referral_earn(referral_id: int) -> str:
    return f"{REFERRAL_EARN}{referral_id}"


def welcome_earn(user_id: int) -> str:
    return f"{WELCOME_EARN}{user_id}"


def birthday_earn(user_id: int, year: int) -> str:
    return f"{BIRTHDAY_EARN}{user_id}:{year}"


def review_earn(user_id: int, product_id: int) -> str:
    return f"{REVIEW_EARN}{user_id}:{product_id}"


def profile_earn(user_id: int) -> str:
    return f"{PROFILE_EARN}{user_id}"


def action_earns(action: str, user_id: int) -> tuple[str, bool]:
    """How to find a customer's bonus entries for ``action`` (to count them for caps):
    ``(key, exact)``: the one key of a once-only bonus, or what every key starts with."""
    if action == "join":
        return welcome_earn(user_id), True
    if action == "profile":
        return profile_earn(user_id), True
    prefix = {"birthday": BIRTHDAY_EARN, "review": REVIEW_EARN}[action]
    return f"{prefix}{user_id}:", False


def redemption_spend(redemption_id: int) -> str:
    return f"{REDEMPTION_SPEND}{redemption_id}"


def redemption_restore(redemption_id: int) -> str:
    return f"{REDEMPTION_RESTORE}{redemption_id}"


def redemption_restore_to(redemption_id: int, points: int) -> str:
    """Part of a points voucher given back, the voucher keeping ``points`` (one key per size)."""
    return f"{REDEMPTION_RESTORE}{redemption_id}{_CLAWBACK_TARGET}{points}"


def lot_expire(lot_id: int) -> str:
    return f"{LOT_EXPIRE}{lot_id}"


def lot_close(lot_id: int) -> str:
    return f"{LOT_CLOSE}{lot_id}"


def till_earn(till_key: str) -> str:
    return f"{TILL_EARN}{till_key}"


def till_spend(till_key: str) -> str:
    return f"{TILL_SPEND}{till_key}"


def staff_adjust(staff_key: str) -> str:
    return f"{STAFF_ADJUST}{staff_key}"


def import_lot(user_id: int, expires_on: date | None, points: int) -> str:
    """A lot brought from another program. Built from what the lot is, not from where it
    sits in the file, so the same file imported twice (in any order) posts once; and from
    the customer's id, never their email, so nothing personal is left in the ledger."""
    expiry = f"{expires_on:%Y-%m-%d}" if expires_on else "never"
    return f"{IMPORT}{user_id}:{expiry}:{points}"


def clawback(earn_key: str, target: int) -> str:
    """Taking ``earn_key``'s entry back down to ``target`` points (one key per target)."""
    return f"{CLAWBACK}{earn_key}{_CLAWBACK_TARGET}{target}"


def shortfall_take(shortfall_id: int, restore_entry_id: int) -> str:
    """A shortfall taken from the points a restore brought back (one key per pair)."""
    return f"{SHORTFALL_TAKE}{shortfall_id}:from:{restore_entry_id}"


def parse(key: str) -> Key | None:
    """What ``key`` was built from, or None for a key not built here (a store's own)."""
    if key.startswith(CLAWBACK):
        earn_key, sep, target = key[len(CLAWBACK) :].rpartition(_CLAWBACK_TARGET)
        earned = parse(earn_key) if sep else None
        if earned is None or earned.verb != "earn" or not target.isdigit():
            return None
        return Key("clawback", earned.cause, earned.ref, int(target))
    for prefix, (verb, cause) in _PREFIXES.items():
        if key.startswith(prefix) and len(key) > len(prefix):
            return Key(verb, cause, key[len(prefix) :])
    return None


# Emails: one ``SentMessage`` per customer and key (``notifications.send``).
# Stored too, so these formats never change either.
#
# ``statement:<YYYY-MM>``          the month's statement
# ``expiring:<YYYY-MM-DD>``        the reminder for points expiring that day
# ``last-chance:<YYYY-MM-DD>``     the last chance for them
# ``available:<entry id>``         points now available (the first of the entries told of)
# ``referral:<id>``                a referrer told that their friend ordered
# ``winback:<campaign id>``        a win-back campaign's coupon


def statement_email(month: date) -> str:
    return f"statement:{month:%Y-%m}"


def expiring_email(day: date) -> str:
    return f"expiring:{day:%Y-%m-%d}"


def last_chance_email(day: date) -> str:
    return f"last-chance:{day:%Y-%m-%d}"


def available_email(entry_id: int) -> str:
    return f"available:{entry_id}"


def referral_email(referral_id: int) -> str:
    return f"referral:{referral_id}"


def winback_email(campaign_id: int) -> str:
    return f"winback:{campaign_id}"
