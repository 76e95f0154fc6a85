"""Reason codes for the entries written before there were any, read from their keys.

Every key the plugin writes says its cause (``keys.parse``: stored formats that
never change), which gives the code; the parameters come from the key (an
order's number), the redemption it names (which reward), or the stored text
(a staff member's words, a till's receipt reference). A restore's key does not
say why the points came back: its text does, in English or in the language
active when it was written, so it is matched against each known text in every
language of ``settings.LANGUAGES``. What matches nothing keeps no code and
shows its stored text, as before.
"""

import re

from django.conf import settings
from django.db import migrations
from django.utils import translation

from oscar_loyalty import keys

BATCH = 2000

# The texts these reasons were written with, as they were then (msgids).
RESTORE_TEXTS = {
    "points_returned": "Points returned",
    "voucher_removed": "Points voucher removed from the basket",
    "basket_changed": "Your basket changed: points returned",
    "order_cancelled": "Order %(number)s cancelled",
    "voucher_unused": "Points voucher gave no discount",
    "voucher_expired": "Unused points voucher expired",
}
REWARD_TEXT = "Reward: %(name)s"
TILL_TEXTS = {"earn": "In-store purchase", "spend": "In-store redemption"}
ADJUSTMENT_LABEL = "Adjustment"


def _patterns(msgid):
    """``msgid`` and its translations as regexes, placeholders as named groups."""
    texts = {msgid}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            texts.add(translation.gettext(msgid))
    patterns = []
    for text in texts:
        parts = re.split(r"%\((\w+)\)s", text)
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+)" for i, part in enumerate(parts)
        )
        patterns.append(re.compile(f"^{regex}$", re.S))
    return patterns


class _Matcher:
    def __init__(self):
        self.restores = {code: _patterns(text) for code, text in RESTORE_TEXTS.items()}
        self.reward = _patterns(REWARD_TEXT)
        self.adjustment = {ADJUSTMENT_LABEL}
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                self.adjustment.add(translation.gettext(ADJUSTMENT_LABEL))

    def restore(self, text):
        for code, patterns in self.restores.items():
            for pattern in patterns:
                match = pattern.match(text)
                if match:
                    return code, match.groupdict()
        return "points_returned", {}

    def reward_name(self, text):
        for pattern in self.reward:
            match = pattern.match(text)
            if match:
                return match.group("name")
        return None


def _by_clawback_key(clawback_key):
    cause = keys.parse(clawback_key)
    if cause is None or cause.verb != "clawback":
        return "", {}
    if cause.cause == keys.ORDER:
        return "order_refunded", {"number": cause.ref}
    if cause.cause == keys.REFERRAL:
        return "friend_refunded", {}
    return "", {}


def _code(entry, cause, matcher, redemptions, shortfalls, closed):
    """The code and parameters of one entry (``("", {})``: none found)."""
    text = entry.reason
    if entry.kind == "adjustment":
        if entry.account_id in closed and text in matcher.adjustment:
            return "adjustment", {}
        return "staff_adjustment", {"text": text}
    if cause is None:
        return "", {}
    verb, kind, ref = cause.verb, cause.cause, cause.ref
    if verb == "earn" and kind == keys.ORDER:
        return "order", {"number": ref}
    if verb == "earn" and kind == keys.REFERRAL:
        return "referral", {}
    if verb == "earn" and kind == keys.WELCOME:
        return "welcome_bonus", {}
    if verb == "earn" and kind == keys.IMPORTED:
        return "imported", {}
    if kind == keys.TILL and verb in TILL_TEXTS:
        prefix = TILL_TEXTS[verb]
        reference = text[len(prefix) :].strip() if text.startswith(prefix) else ""
        code = "till_purchase" if verb == "earn" else "till_redemption"
        return code, {"reference": reference} if reference else {}
    if verb == "spend" and kind == keys.REDEMPTION:
        reward = redemptions.get(int(ref)) if ref.isdigit() else None
        if reward is None:
            return "checkout", {}
        reward_id, reward_name = reward
        return "reward", {"reward_id": reward_id, "name": matcher.reward_name(text) or reward_name}
    if verb == "restore" and kind == keys.REDEMPTION:
        return matcher.restore(text)
    if verb == "expire":
        return "expired", {}
    if verb == "close":
        return "account_deleted", {}
    if verb == "clawback" and kind == keys.SHORTFALL:
        # ``shortfall:<id>:from:<entry id>``: the reason of the clawback that left it.
        shortfall_id = ref.split(":")[0]
        return _by_clawback_key(shortfalls.get(int(shortfall_id), "") if shortfall_id.isdigit() else "")
    if verb == "clawback":
        return _by_clawback_key(entry.idempotency_key)
    return "", {}


def fill_reason_codes(apps, schema_editor):
    LedgerEntry = apps.get_model("oscar_loyalty", "LedgerEntry")
    Redemption = apps.get_model("oscar_loyalty", "Redemption")
    Shortfall = apps.get_model("oscar_loyalty", "Shortfall")
    Account = apps.get_model("oscar_loyalty", "Account")
    matcher = _Matcher()
    closed = set(Account.objects.filter(closed_at__isnull=False).values_list("pk", flat=True))
    for shortfall in Shortfall.objects.filter(reason_code="").iterator():
        code, params = _by_clawback_key(shortfall.clawback_key)
        if code:
            Shortfall.objects.filter(pk=shortfall.pk).update(reason_code=code, reason_params=params)
    shortfalls = dict(Shortfall.objects.values_list("pk", "clawback_key"))
    after = 0
    while True:
        batch = list(
            LedgerEntry.objects.filter(reason_code="", pk__gt=after).order_by("pk")[:BATCH]
        )
        if not batch:
            return
        after = batch[-1].pk
        causes = {entry.pk: keys.parse(entry.idempotency_key) for entry in batch}
        redemption_ids = [
            int(c.ref)
            for c in causes.values()
            if c is not None and c.verb == "spend" and c.cause == keys.REDEMPTION and c.ref.isdigit()
        ]
        redemptions = {
            pk: (reward_id, name)
            for pk, reward_id, name in Redemption.objects.filter(
                pk__in=redemption_ids, reward__isnull=False
            ).values_list("pk", "reward_id", "reward__name")
        }
        changed = []
        for entry in batch:
            code, params = _code(entry, causes[entry.pk], matcher, redemptions, shortfalls, closed)
            if code:
                entry.reason_code, entry.reason_params = code, params
                changed.append(entry)
        LedgerEntry.objects.bulk_update(changed, ["reason_code", "reason_params"])


class Migration(migrations.Migration):
    dependencies = [
        ("oscar_loyalty", "0014_reason_codes_and_translated_names"),
    ]

    operations = [
        migrations.RunPython(fill_reason_codes, migrations.RunPython.noop),
    ]
