"""Why a balance changed: a reason code with its parameters, read in the reader's language.

A ledger entry stores its reason as a code and parameters (``order`` with
``{"number": "100023"}``, ``welcome_bonus``, ``reward`` with
``{"reward_id": 3, "name": "Free shipping"}``), never as text in the language
that happened to be active when it was written: a welcome bonus posted during
an English request still reads "Bono de bienvenida" on a Spanish page. Pages,
emails, the API and CSV files call ``render`` (through
``LedgerEntry.customer_reason``) in the reader's language.

The entry's ``reason`` column keeps the same text in the source language
(English): for the audit, the admin's search, and as the fallback for an
entry whose code is unknown (a store's own code it no longer registers).

A staff member's adjustment is free text: ``staff_adjustment`` with
``{"text": ...}`` shows their words as written.

Other features add their reasons with ``register`` (see docs/ledger.rst)::

    reasons.register("birthday", _("Birthday bonus"))
    ledger.earn(account, 50, key=..., reason=reasons.Reason("birthday"))

This module reads and writes no ledger rows; ``ledger`` stores what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from .i18n import translated

if TYPE_CHECKING:
    from django.db.models import Model


@dataclass(frozen=True)
class Reason:
    """What a ledger verb is given as ``reason``: a registered code and its parameters.

    ``params`` must be JSON (text and numbers): it is stored with the entry.
    ``str()`` gives the text in the source language, as the ``reason`` column stores it.
    """

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        with translation.override(None):
            return render(self.code, self.params, fallback=self.code, load=False)


@dataclass(frozen=True)
class ReasonType:
    """A registered code: its text, and the row its parameters may name.

    ``model`` (``"app_label.ModelName"``) and ``ref`` (the parameter holding
    its primary key) let ``prefetch`` load those rows for a page of entries in
    one query; ``values(params, row)`` then gives the text's placeholders (a
    reward's name in the reader's language, for instance). The row may be
    gone (``None``): ``values`` falls back on what the parameters kept.
    """

    code: str
    text: Any
    model: str = ""
    ref: str = ""
    values: Callable[[Mapping[str, Any], Model | None], Mapping[str, Any]] | None = None


_TYPES: dict[str, ReasonType] = {}


def register(
    code: str,
    text: Any,
    *,
    model: str = "",
    ref: str = "",
    values: Callable[[Mapping[str, Any], Model | None], Mapping[str, Any]] | None = None,
) -> ReasonType:
    """Add (or replace) a reason code. Call it at import time (``AppConfig.ready``)."""
    if not code or not isinstance(code, str) or len(code) > 32:
        raise ValueError("A reason code is a non-empty text of at most 32 characters.")
    if bool(model) != bool(ref):
        raise ValueError("A reason's model and ref go together.")
    _TYPES[code] = ReasonType(code, text, model, ref, values)
    return _TYPES[code]


def registered(code: str) -> ReasonType | None:
    return _TYPES.get(code)


def render(
    code: str,
    params: Mapping[str, Any] | None,
    fallback: str = "",
    row: Any = None,
    *,
    load: bool = True,
) -> str:
    """The text of ``code`` with ``params``, in the active language.

    ``fallback`` (the stored text) when the code is unknown or its parameters
    do not fit its text, so a page never fails on an odd entry. ``row`` is the
    object the parameters name, if the caller loaded it (see ``prefetch``);
    otherwise it is read, unless ``load`` is false (then the parameters alone
    speak: the text stored when the entry is written).
    """
    kind = _TYPES.get(code)
    if kind is None:
        return fallback
    params = params if isinstance(params, Mapping) else {}
    try:
        if kind.values is not None:
            if row is None and kind.model and load:
                row = _load_one(kind, params)
            params = {**params, **kind.values(params, row)}
        text = kind.text(params) if callable(kind.text) else kind.text
        return str(text) % params
    except (KeyError, TypeError, ValueError):
        return fallback


def prefetch(entries: Iterable[Any]) -> None:
    """Load the rows that these entries' reasons name, one query per model.

    Sets ``_reason_row`` on each entry that names one (``None`` if it is
    gone), which ``LedgerEntry.customer_reason`` passes to ``render``.
    """
    wanted: dict[str, dict[int, list[Any]]] = {}
    for entry in entries:
        kind = _TYPES.get(entry.reason_code)
        if kind is None or not kind.model or not isinstance(entry.reason_params, Mapping):
            continue
        pk = entry.reason_params.get(kind.ref)
        if isinstance(pk, int) and not isinstance(pk, bool):
            wanted.setdefault(kind.model, {}).setdefault(pk, []).append(entry)
    for model, by_pk in wanted.items():
        rows = apps.get_model(model)._default_manager.in_bulk(list(by_pk))
        for pk, named in by_pk.items():
            for entry in named:
                entry._reason_row = rows.get(pk)


def _load_one(kind: ReasonType, params: Mapping[str, Any]) -> Model | None:
    pk = params.get(kind.ref)
    if not isinstance(pk, int) or isinstance(pk, bool):
        return None
    return apps.get_model(kind.model)._default_manager.filter(pk=pk).first()


# The plugin's own reasons ------------------------------------------------------

ORDER = "order"
REFERRAL = "referral"
WELCOME_BONUS = "welcome_bonus"
CHECKOUT = "checkout"
REWARD = "reward"
POINTS_RETURNED = "points_returned"
VOUCHER_REMOVED = "voucher_removed"
BASKET_CHANGED = "basket_changed"
ORDER_CANCELLED = "order_cancelled"
VOUCHER_UNUSED = "voucher_unused"
VOUCHER_EXPIRED = "voucher_expired"
ORDER_REFUNDED = "order_refunded"
FRIEND_REFUNDED = "friend_refunded"
EXPIRED = "expired"
ACCOUNT_DELETED = "account_deleted"
TILL_PURCHASE = "till_purchase"
TILL_REDEMPTION = "till_redemption"
STAFF_ADJUSTMENT = "staff_adjustment"
ADJUSTMENT = "adjustment"
IMPORTED = "imported"

# Where a restore's reason is one of several texts, the codes that may give it.
RESTORE_CODES = (
    POINTS_RETURNED,
    VOUCHER_REMOVED,
    BASKET_CHANGED,
    ORDER_CANCELLED,
    VOUCHER_UNUSED,
    VOUCHER_EXPIRED,
)


def _reward_values(params: Mapping[str, Any], reward: Any) -> Mapping[str, Any]:
    """A reward's name in the reader's language; the name it had if it is gone."""
    if reward is None:
        return {"name": params.get("name", "")}
    return {"name": translated(reward.name_translations, reward.name)}


def _with_reference(plain: Any, referenced: Any) -> Callable[[Mapping[str, Any]], Any]:
    return lambda params: referenced if params.get("reference") else plain


register(ORDER, _("Order %(number)s"))
register(REFERRAL, _("A friend you referred placed their first order"))
register(WELCOME_BONUS, _("Welcome bonus"))
register(CHECKOUT, _("Points used at checkout"))
register(
    REWARD,
    _("Reward: %(name)s"),
    model="oscar_loyalty.Reward",
    ref="reward_id",
    values=_reward_values,
)
register(POINTS_RETURNED, _("Points returned"))
register(VOUCHER_REMOVED, _("Points voucher removed from the basket"))
register(BASKET_CHANGED, _("Your basket changed: points returned"))
register(ORDER_CANCELLED, _("Order %(number)s cancelled"))
register(VOUCHER_UNUSED, _("Points voucher gave no discount"))
register(VOUCHER_EXPIRED, _("Unused points voucher expired"))
register(ORDER_REFUNDED, _("Order %(number)s refunded"))
register(FRIEND_REFUNDED, _("Your friend's order was refunded"))
register(EXPIRED, _("Expired"))
register(ACCOUNT_DELETED, _("Customer account deleted"))
register(
    TILL_PURCHASE,
    _with_reference(_("In-store purchase"), _("In-store purchase %(reference)s")),
)
register(
    TILL_REDEMPTION,
    _with_reference(_("Points used in store"), _("Points used in store %(reference)s")),
)
register(STAFF_ADJUSTMENT, "%(text)s")
register(ADJUSTMENT, _("Adjustment"))
register(IMPORTED, _("Points brought from your previous rewards program"))


def order(number: str, code: str = ORDER) -> Reason:
    """A reason naming an order by its number (an earn, a cancellation, a refund)."""
    return Reason(code, {"number": str(number)})


def reward(reward_id: int, name: str) -> Reason:
    """Claiming a reward: its id (for its name in the reader's language) and its name now."""
    return Reason(REWARD, {"reward_id": reward_id, "name": name})


def staff_adjustment(text: str) -> Reason:
    return Reason(STAFF_ADJUSTMENT, {"text": text})
