"""The plugin's own events, for a store (or our next features) to react to.

Each is sent only once the transaction that did the work has committed
(``transaction.on_commit``), so a receiver never sees points that a rollback
then took away, and may safely queue a task or send an email. Nothing is sent
when a call changes nothing (a replayed idempotency key, for instance).

``points_posted``
    ``sender=LedgerEntry``, ``entry``: one entry written by a ledger verb
    (earn, spend, restore, expire, clawback, adjust).
``award_matured``
    ``sender=PendingAward``, ``entry_ids``: the earn entries of pending awards
    whose return window passed, one signal per chunk of the periodic job (a
    signal per award would slow the job down).
``points_expired``
    ``sender=PointsLot``, ``entry_ids``: the expiry entries the periodic
    expiry job posted, one signal per chunk.
``referral_rewarded``
    ``sender=Referral``, ``referral``, ``award``: a referred customer's first
    order earned the referrer a pending award (points arrive with
    ``award_matured`` once the return window passes).
``tier_changed``
    ``sender=TierChange``, ``change`` (the ``TierChange`` row), ``account_id``,
    ``from_tier_id``, ``to_tier_id`` (None: no tier): a customer moved between
    tiers, by the recompute or by staff; one signal per change.
"""

from django.db import transaction
from django.dispatch import Signal

points_posted = Signal()
award_matured = Signal()
points_expired = Signal()
referral_rewarded = Signal()
tier_changed = Signal()


def send_on_commit(signal: Signal, sender, **kwargs) -> None:
    """Send ``signal`` when the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: signal.send(sender=sender, **kwargs))
