"""Tiers: what counts toward them, the recompute, staff moves, and what pages read.

What counts (``Tier.measure`` over ``Tier.period``):

* points earned: the ledger's earn entries for purchases (orders, the till),
  less what refunds took back of them (clawbacks, dated by the earn they
  reverse). Pending points never count: they are not in the ledger yet.
* money spent: what the customer paid for the products of their orders in the
  shop's default currency (after discounts, without shipping, with tax as
  ``OSCAR_LOYALTY_EARN_ON_TAX`` says), less refunded units; cancelled orders
  never count.

The recompute is set-based: customers go in chunks of ``TIER_CHUNK_SIZE``
accounts, each chunk costing one aggregate query per kind of count the tiers
use, a read of their tiers, and writes for those whose tier changes (under
their accounts' locks, the ledger's own). It is idempotent: a second run finds
nothing to change. Each change is a ``TierChange`` row and a ``tier_changed``
signal, sent on commit. Only this module writes ``TierStatus`` and
``TierChange``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_model

from . import keys, signals
from .conf import loyalty_settings
from .exceptions import LoyaltyError
from .models import Account, LedgerEntry, Tier, TierChange, TierCondition, TierStatus

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

Condition = get_model("offer", "Condition")
Line = get_model("order", "Line")
PaymentEventQuantity = get_model("order", "PaymentEventQuantity")
Kind = LedgerEntry.Kind
Measure, Period, Downgrade = Tier.Measure, Tier.Period, Tier.Downgrade
Cause = TierChange.Cause
ROLLING_DAYS = 365
NO_TIER = -1  # the level of "no tier"
# A kind of count: what (points or money) over when (rolling, year, lifetime).
CountKind = tuple[str, str]


class TierError(LoyaltyError):
    """A staff move that cannot be made (an unknown tier, no reason given...)."""


# What counts ---------------------------------------------------------------------


def period_start(period: str, now: datetime) -> datetime | None:
    """Where a count over ``period`` starts at ``now`` (None: from the beginning).

    The rolling window holds the last 365 days to the second: something 365
    days old still counts, a moment later it no longer does. The calendar year
    is the shop's (``TIME_ZONE``).
    """
    if period == Period.ROLLING:
        return now - timedelta(days=ROLLING_DAYS)
    if period == Period.YEAR:
        local = timezone.localtime(now)
        return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return None


def period_end(period: str, now: datetime) -> datetime | None:
    """When the period running at ``now`` ends, for "spend more before ..." (None: it does
    not end, or rolls)."""
    if period == Period.YEAR:
        local = timezone.localtime(now)
        return local.replace(
            year=local.year + 1, month=1, day=1, hour=0, minute=0, second=0, microsecond=0
        )
    return None


def counts(
    accounts: Sequence[tuple[int, int | None]], kinds: Iterable[CountKind], now: datetime
) -> dict[CountKind, dict[int, Decimal]]:
    """Each kind of count for these ``(account id, user id)`` pairs, by account id.

    Points: one aggregate query for every period at once; money: one per
    period. A chunk of contiguous ids (the periodic recompute's) is read as an
    id range, not a list of ids.
    """
    ids = [pk for pk, _user in accounts]
    kinds = set(kinds)
    result: dict[CountKind, dict[int, Decimal]] = {}
    periods = sorted({period for measure, period in kinds if measure == Measure.POINTS})
    if periods:
        by_period = points_earned(ids, {p: period_start(p, now) for p in periods}, now)
        for period in periods:
            result[Measure.POINTS, period] = by_period[period]
    users = {user: pk for pk, user in accounts if user is not None}
    for measure, period in kinds:
        if measure == Measure.SPEND:
            by_user = money_spent(list(users), period_start(period, now), now)
            result[measure, period] = {users[u]: v for u, v in by_user.items()}
    return result


def points_earned(
    account_ids: Sequence[int], starts: dict[str, datetime | None], now: datetime
) -> dict[str, dict[int, Decimal]]:
    """Points earned from purchases up to ``now``, less what refunds took back of them, by
    period (counted from ``starts[period]``) and account.

    One pass over the accounts' entries: an earn counts in a period by its own
    date, a clawback by the date of the earn it reverses.
    """
    entries = LedgerEntry.objects.filter(
        Q(_purchase("idempotency_key"), kind=Kind.EARN, created_at__lte=now)
        | Q(
            _purchase("reverses__idempotency_key"),
            kind=Kind.CLAWBACK,
            reverses__kind=Kind.EARN,
            reverses__created_at__lte=now,
        )
    )
    entries = entries.filter(_ids("account_id", account_ids))
    sums = {}
    for period, start in starts.items():
        within = Q()
        if start is not None:
            within = Q(kind=Kind.EARN, created_at__gte=start) | Q(
                kind=Kind.CLAWBACK, reverses__created_at__gte=start
            )
        sums[period] = Sum("points", filter=within) if start is not None else Sum("points")
    result: dict[str, dict[int, Decimal]] = {period: {} for period in starts}
    for row in entries.values("account_id").annotate(**sums).values("account_id", *starts):
        for period in starts:
            if row[period]:
                result[period][row["account_id"]] = Decimal(row[period])
    return result


def _purchase(field: str) -> Q:
    """Entries (or the entries they reverse) that earned points for a purchase."""
    q = Q(pk__in=[])
    for prefix in keys.PURCHASE_EARN_PREFIXES:
        q |= Q(**{f"{field}__startswith": prefix})
    return q


def money_spent(
    user_ids: Sequence[int], start: datetime | None, now: datetime
) -> dict[int, Decimal]:
    """What these customers paid for products between ``start`` and ``now``, by user id.

    Orders cancelled (``CANCELLED_ORDER_STATUSES``) and units refunded (as
    ``awards.refunded_quantities`` counts them) are left out.
    """
    price = "line_price_incl_tax" if loyalty_settings.EARN_ON_TAX else "line_price_excl_tax"
    refunded_statuses = list(loyalty_settings.REFUNDED_LINE_STATUSES)
    lines = Line.objects.filter(
        order__user_id__in=user_ids,
        order__currency=settings.OSCAR_DEFAULT_CURRENCY,
        order__date_placed__lte=now,
    ).exclude(order__status__in=list(loyalty_settings.CANCELLED_ORDER_STATUSES))
    if start is not None:
        lines = lines.filter(order__date_placed__gte=start)
    kept = lines.exclude(status__in=refunded_statuses)
    result: dict[int, Decimal] = defaultdict(Decimal)
    for user_id, amount in (
        kept.values("order__user_id").annotate(v=Sum(price)).values_list("order__user_id", "v")
    ):
        result[user_id] += amount or Decimal(0)
    # Units refunded by payment events, on lines not refunded whole: few, summed here.
    is_refund = Q(pk__in=[])
    for name in loyalty_settings.REFUND_EVENT_TYPES:
        is_refund |= Q(event__event_type__name__iexact=name)
        is_refund |= Q(event__event_type__code__iexact=name)
    refunds = (
        PaymentEventQuantity.objects.filter(is_refund, line__in=kept)
        .values("line_id", "line__quantity", f"line__{price}", "line__order__user_id")
        .annotate(n=Sum("quantity"))
    )
    for row in refunds:
        quantity = row["line__quantity"]
        if quantity:
            share = Decimal(min(row["n"], quantity)) / quantity
            result[row["line__order__user_id"]] -= row[f"line__{price}"] * share
    return result


def count_for(account: Account, tier: Tier, now: datetime | None = None) -> Decimal:
    """One customer's count toward ``tier``, now."""
    now = now or timezone.now()
    kind = (tier.measure, tier.period)
    return counts([(account.pk, account.user_id)], [kind], now)[kind].get(account.pk, Decimal(0))


# Which tier -------------------------------------------------------------------------


def qualifying_tier(tiers: Sequence[Tier], values: dict[CountKind, dict[int, Decimal]], account_id):
    """The highest of ``tiers`` (sorted by level) whose count reaches its threshold."""
    best = None
    for tier in tiers:
        if values[tier.measure, tier.period].get(account_id, Decimal(0)) >= tier.threshold:
            best = tier
    return best


def downgrade_due(tier: Tier, below_since: datetime) -> datetime | None:
    """When a customer below ``tier`` since ``below_since`` leaves it (None: never).

    At the period's end: the end of the calendar year they fell below in (so
    a year's tier lasts the whole next year), or 365 days on for a rolling
    count. After a grace period: ``grace_days`` on.
    """
    if tier.downgrade == Downgrade.GRACE:
        return below_since + tier.grace()
    if tier.downgrade == Downgrade.PERIOD_END:
        if tier.period == Period.YEAR:
            return period_end(Period.YEAR, below_since)
        if tier.period == Period.ROLLING:
            return below_since + timedelta(days=ROLLING_DAYS)
    return None


@dataclass
class Decision:
    tier: Tier | None
    below_since: datetime | None
    held_level: int | None
    cause: str | None  # set when the tier changes


def decide(
    status: TierStatus | None, earned: Tier | None, tiers: dict[int, Tier], now: datetime
) -> Decision | None:
    """What becomes of a customer in ``status`` who qualifies for ``earned``; None: nothing."""
    current = tiers.get(status.tier_id) if status and status.tier_id else None
    below_since = status.below_since if status else None
    held = status.held_level if status else None
    rank_now = current.level if current else NO_TIER
    rank_earned = earned.level if earned else NO_TIER
    if rank_earned > (rank_now if held is None else max(held, rank_now)):
        return Decision(earned, None, None, Cause.REACHED)
    if rank_earned == rank_now or held is not None:
        if below_since is None:
            return None
        return Decision(current, None, held, None)
    assert current is not None
    below_since = below_since or now
    due = downgrade_due(current, below_since)
    if due is not None and now >= due:
        return Decision(earned, None, None, Cause.DOWNGRADED)
    if status is not None and status.below_since == below_since:
        return None
    return Decision(current, below_since, held, None)


# The recompute ------------------------------------------------------------------------


def recompute_all(now: datetime | None = None, chunk_size: int | None = None) -> int:
    """Put every customer in the tier they should be in now. Returns the changes made.

    Accounts go in chunks, in id order (keyset), each chunk read and written
    as a set; customers deleted (accounts closed) are left as they were.
    """
    now = now or timezone.now()
    chunk_size = chunk_size or loyalty_settings.TIER_CHUNK_SIZE
    tiers = list(Tier.objects.order_by("level"))
    changed, after = 0, 0
    accounts = Account.objects.filter(user__isnull=False).order_by("pk")
    while True:
        chunk = list(accounts.filter(pk__gt=after).values_list("pk", "user_id")[:chunk_size])
        if not chunk:
            return changed
        changed += _recompute_chunk(chunk, tiers, now)
        after = chunk[-1][0]


def recompute_accounts(account_ids: Iterable[int], now: datetime | None = None) -> int:
    """The recompute for these accounts only (an award matured, an order was refunded)."""
    now = now or timezone.now()
    chunk = list(
        Account.objects.filter(pk__in=set(account_ids), user__isnull=False)
        .order_by("pk")
        .values_list("pk", "user_id")
    )
    if not chunk:
        return 0
    return _recompute_chunk(chunk, list(Tier.objects.order_by("level")), now)


def recompute_customer(user_id: int, now: datetime | None = None) -> int:
    account = Account.objects.filter(user_id=user_id).values_list("pk", flat=True).first()
    return recompute_accounts([account], now) if account else 0


def _recompute_chunk(chunk: list[tuple[int, int | None]], tiers: list[Tier], now) -> int:
    by_id = {t.pk: t for t in tiers}
    values = counts(chunk, [(t.measure, t.period) for t in tiers], now) if tiers else {}
    statuses = {s.account_id: s for s in TierStatus.objects.filter(_ids("account_id", chunk))}
    todo = [
        pk
        for pk, _user in chunk
        if decide(statuses.get(pk), qualifying_tier(tiers, values, pk), by_id, now) is not None
    ]
    if not todo:
        return 0
    with transaction.atomic():
        # The accounts' locks (in id order, as the ledger takes them), then their
        # statuses read again: a recompute running at the same moment waits.
        _lock_accounts(todo)
        wanted = set(todo)
        statuses = {
            s.account_id: s
            for s in TierStatus.objects.filter(account_id__gte=todo[0], account_id__lte=todo[-1])
            if s.account_id in wanted
        }
        rows, changes = [], []
        for pk in todo:
            status = statuses.get(pk)
            decision = decide(status, qualifying_tier(tiers, values, pk), by_id, now)
            if decision is None:
                continue
            tier_id = decision.tier.pk if decision.tier else None
            since = status.since if status is not None and decision.cause is None else now
            rows.append((pk, tier_id, since, decision.below_since, decision.held_level))
            if decision.cause is not None:
                changes.append((pk, status.tier_id if status else None, tier_id, decision.cause))
        if connection.vendor == "postgresql":
            change_ids = _save_pg(rows, changes, now)
        else:
            change_ids = _save_portable(rows, changes, statuses, now)
        # Rows for the receivers, only if there are receivers (the nightly job
        # may change thousands of tiers; building rows nobody reads costs time).
        if change_ids and signals.tier_changed.has_listeners(TierChange):
            for change in TierChange.objects.filter(pk__in=change_ids).order_by("pk"):
                _announce(change)
    return len(changes)


def _ids(field: str, chunk: Sequence[tuple[int, int | None]] | Sequence[int]) -> Q:
    """``field`` in these (sorted) account ids: a range when they are contiguous, as the
    periodic recompute's chunks are (a list of thousands of ids costs more to send)."""
    ids = [row[0] if isinstance(row, tuple) else row for row in chunk]
    if ids and ids == list(range(ids[0], ids[-1] + 1)):
        return Q(**{f"{field}__gte": ids[0], f"{field}__lte": ids[-1]})
    return Q(**{f"{field}__in": ids})


def _lock_accounts(ids: list[int]) -> None:
    """Lock these accounts in id order, as the ledger does (on PostgreSQL, one array)."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Account._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids]
            )
        return
    list(Account.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))


def _save_pg(rows: list[tuple], changes: list[tuple], now: datetime) -> list[int]:
    """The statuses upserted and the changes inserted, one statement each (arrays in)."""
    status_table = connection.ops.quote_name(TierStatus._meta.db_table)
    change_table = connection.ops.quote_name(TierChange._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {status_table} (account_id, tier_id, since, below_since, held_level)
            SELECT * FROM unnest(%s::integer[], %s::integer[], %s::timestamptz[],
                                 %s::timestamptz[], %s::smallint[])
            ON CONFLICT (account_id) DO UPDATE
            SET tier_id = EXCLUDED.tier_id, since = EXCLUDED.since,
                below_since = EXCLUDED.below_since, held_level = EXCLUDED.held_level
            """,
            [list(column) for column in zip(*rows, strict=True)],
        )
        if not changes:
            return []
        cursor.execute(
            f"""
            INSERT INTO {change_table} (account_id, from_tier_id, to_tier_id, cause, reason,
                                        created_at)
            SELECT account_id, from_id, to_id, cause, '', %s
            FROM unnest(%s::integer[], %s::integer[], %s::integer[], %s::varchar[])
                 AS c(account_id, from_id, to_id, cause)
            RETURNING id
            """,
            [now, *[list(column) for column in zip(*changes, strict=True)]],
        )
        return [row[0] for row in cursor.fetchall()]


def _save_portable(
    rows: list[tuple], changes: list[tuple], statuses: dict[int, TierStatus], now: datetime
) -> list[int]:
    new, updated = [], []
    for pk, tier_id, since, below_since, held_level in rows:
        status = statuses.get(pk) or TierStatus(account_id=pk)
        (new if status.pk is None or pk not in statuses else updated).append(status)
        status.tier_id, status.since = tier_id, since
        status.below_since, status.held_level = below_since, held_level
    TierStatus.objects.bulk_create(new)
    TierStatus.objects.bulk_update(updated, ["tier", "since", "below_since", "held_level"])
    created = [
        TierChange.objects.create(
            account_id=pk, from_tier_id=from_id, to_tier_id=to_id, cause=cause, created_at=now
        )
        for pk, from_id, to_id, cause in changes
    ]
    return [change.pk for change in created]


def _announce(change: TierChange) -> None:
    signals.send_on_commit(
        signals.tier_changed,
        TierChange,
        change=change,
        account_id=change.account_id,
        from_tier_id=change.from_tier_id,
        to_tier_id=change.to_tier_id,
    )


def move(
    user: AbstractBaseUser,
    tier: Tier | None,
    reason: str,
    staff_user: AbstractBaseUser,
) -> TierChange | None:
    """Staff put a customer in ``tier`` (None: no tier), with a reason the customer reads.

    The customer stays there until they qualify for a tier above both this
    one and the one they were in (or staff move them again): the recompute
    neither takes a move up away nor undoes a move down. Moving a customer to
    the tier they are in changes nothing (None).
    """
    if staff_user is None or not getattr(staff_user, "is_staff", False):
        raise TierError(_("Only staff can move a customer between tiers."))
    reason = (reason or "").strip()
    if not reason:
        raise TierError(_("Say why: the customer reads the reason."))
    if tier is not None and not Tier.objects.filter(pk=tier.pk).exists():
        raise TierError(_("This tier does not exist."))
    return _place(user.pk, tier, reason, staff_user)


def place_imported(user_id: int, tier: Tier, reason: str) -> TierChange | None:
    """A customer's tier brought from another program (``importing``): placed as a staff
    move would place them (kept until they qualify higher), with no staff member.
    Placing them in the tier they are in changes nothing (None)."""
    return _place(user_id, tier, reason, None)


def forget(account: Account) -> None:
    """The customer was erased (``privacy.erase``): no tier, and no staff words about them."""
    TierStatus.objects.filter(account=account).delete()
    TierChange.objects.filter(account=account).exclude(reason="").update(reason="")


def _place(
    user_id: int, tier: Tier | None, reason: str, staff_user: AbstractBaseUser | None
) -> TierChange | None:
    now = timezone.now()
    with transaction.atomic():
        account, _created = Account.objects.get_or_create(user_id=user_id)
        Account.objects.select_for_update().filter(pk=account.pk).first()
        status = TierStatus.objects.filter(account=account).first()
        if status is not None and status.tier_id == (tier.pk if tier else None):
            return None
        change = TierChange.objects.create(
            account=account,
            from_tier_id=status.tier_id if status else None,
            to_tier=tier,
            cause=Cause.STAFF,
            reason=reason[:255],
            staff_user=staff_user,
            created_at=now,
        )
        before = status.tier.level if status and status.tier else NO_TIER
        TierStatus.objects.update_or_create(
            account=account,
            defaults={
                "tier": tier,
                "since": now,
                "below_since": None,
                "held_level": max(before, tier.level if tier else NO_TIER),
            },
        )
        _announce(change)
    return change


# Perks and what pages read ------------------------------------------------------------


def offer_condition(tier: Tier):
    """The offer condition "customer in ``tier`` or above", created on first need.

    Oscar's offer wizard lists it among the custom conditions, so a tier's
    free shipping or percentage off is an ordinary offer.
    """
    condition = Condition.objects.filter(proxy_class=TierCondition.path(), value=tier.pk).first()
    if condition is None:
        condition = Condition.objects.create(proxy_class=TierCondition.path(), value=tier.pk)
    return condition


def delete_tier(tier: Tier) -> None:
    """Delete a tier and its offer condition (and so the offers built on it)."""
    with transaction.atomic():
        Condition.objects.filter(proxy_class=TierCondition.path(), value=tier.pk).delete()
        tier.delete()


def members_by_tier() -> dict[int, int]:
    """How many customers each tier has, by tier id (one query)."""
    return dict(
        TierStatus.objects.filter(tier__isnull=False)
        .values("tier_id")
        .annotate(n=Count("pk"))
        .values_list("tier_id", "n")
    )


def customer_tiers(account: Account | None, history: int = 20) -> dict:
    """A customer's tier, since when, and their last changes (for the pages)."""
    if account is None:
        return {"tier": None, "tier_status": None, "tier_changes": []}
    status = TierStatus.objects.filter(account=account).select_related("tier").first()
    changes = list(
        TierChange.objects.filter(account=account)
        .select_related("from_tier", "to_tier", "staff_user")
        .order_by("-id")[:history]
    )
    return {
        "tier": status.tier if status else None,
        "tier_status": status,
        "tier_changes": changes,
    }


def current_tier(user_id: int | None) -> Tier | None:
    if user_id is None:
        return None
    status = TierStatus.objects.filter(account__user_id=user_id).select_related("tier").first()
    return status.tier if status else None


def multiplier_for(user_id: int | None) -> Decimal:
    """The earning multiplier of the customer's tier (1 without a tier)."""
    tier = current_tier(user_id)
    return tier.multiplier if tier else Decimal(1)


def may_claim(user_id: int | None, reward) -> bool:
    """Whether the customer's tier lets them claim ``reward`` (one for a tier and above)."""
    if reward.min_tier_id is None:
        return True
    tier = current_tier(user_id)
    return tier is not None and tier.level >= reward.min_tier.level


@dataclass
class Progress:
    """The way to the next tier: ``missing`` more points or money, before ``by`` (if the
    count resets then)."""

    tier: Tier
    count: Decimal
    missing: Decimal
    by: datetime | None

    @property
    def is_money(self) -> bool:
        return self.tier.measure == Measure.SPEND

    @property
    def missing_points(self) -> int:
        return int(self.missing)

    @property
    def percent(self) -> int:
        if self.tier.threshold <= 0:
            return 100
        return max(0, min(100, int(self.count * 100 / self.tier.threshold)))


def next_tier(current: Tier | None, all_tiers: Sequence[Tier]) -> Tier | None:
    """The next tier a customer is shown: the lowest visible one above theirs."""
    level = current.level if current else NO_TIER
    return next((t for t in all_tiers if t.level > level and not t.hidden), None)


def progress(account: Account | None, tier: Tier, now: datetime | None = None) -> Progress:
    now = now or timezone.now()
    count = count_for(account, tier, now) if account is not None else Decimal(0)
    missing = max(tier.threshold - count, Decimal(0))
    if tier.measure == Measure.POINTS:
        missing = Decimal(int(missing.to_integral_value(rounding=ROUND_CEILING)))
    return Progress(tier, count, missing, period_end(tier.period, now))


def perks(tier: Tier | None) -> dict:
    """What a tier gives: its multiplier, the open offers for it (or a lower tier), and the
    rewards reserved for it (or a lower tier)."""
    if tier is None:
        return {"multiplier": None, "offers": [], "tier_rewards": []}
    from .models import Reward

    ConditionalOffer = get_model("offer", "ConditionalOffer")
    ids = list(Tier.objects.filter(level__lte=tier.level).values_list("pk", flat=True))
    offers = ConditionalOffer.active.filter(
        condition__proxy_class=TierCondition.path(),
        condition__value__in=ids,
        status=ConditionalOffer.OPEN,
    ).order_by("priority", "pk")
    return {
        "multiplier": _plain(tier.multiplier) if tier.multiplier > 1 else None,
        "offers": list(offers),
        "tier_rewards": list(Reward.objects.filter(min_tier__level__lte=tier.level)),
    }


def _plain(value: Decimal) -> Decimal:
    """1.50 as 1.5 and 2.00 as 2 (pages show it in the reader's number format)."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def rewards_page(account: Account | None, now: datetime | None = None) -> dict:
    """What the Rewards page shows of tiers (nothing if the shop has none).

    Hidden tiers stay out of the ladder and of "next" until the customer is in one;
    then it is announced.
    """
    all_tiers = list(Tier.objects.order_by("level"))
    if not all_tiers:
        return {"tiers_enabled": False}
    mine = customer_tiers(account, history=5)
    current = mine["tier"]
    upcoming = next_tier(current, all_tiers)
    return {
        "tiers_enabled": True,
        **mine,
        "tier_ladder": [t for t in all_tiers if not t.hidden or t == current],
        "tier_perks": perks(current),
        "tier_progress": progress(account, upcoming, now) if upcoming else None,
        "tier_secret": current is not None and current.hidden,
    }


def visible_rewards(rewards: Iterable, user_id: int | None) -> list:
    """Rewards a customer is shown: those for a hidden tier only once they may claim them.

    Each is marked ``locked`` if the customer's tier is too low to claim it.
    """
    tier = current_tier(user_id)
    level = tier.level if tier else NO_TIER
    shown = []
    for reward in rewards:
        needed = reward.min_tier.level if reward.min_tier_id else NO_TIER
        if reward.min_tier_id and reward.min_tier.hidden and needed > level:
            continue
        reward.locked = needed > level
        shown.append(reward)
    return shown
