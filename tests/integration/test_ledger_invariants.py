"""Random sequences of ledger operations, with replays, against a simple model.

And of the features that meet in the ledger: orders, points vouchers,
cancellations, refunds and the unused-voucher job.
"""

import io
import uuid
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone, translation
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from oscar.apps.offer.applicator import Applicator
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_class, get_model
from oscar.test.factories import create_order, create_product, create_stockrecord

from oscar_loyalty import (
    awards,
    importing,
    keys,
    ledger,
    privacy,
    reasons,
    redemption,
    tiers,
    till,
)
from oscar_loyalty.models import (
    ImportRun,
    LedgerEntry,
    PendingAward,
    PointsLot,
    Redemption,
    Reward,
    Shortfall,
    Tier,
    TierStatus,
)

Basket = get_model("basket", "Basket")
OrderDiscount = get_model("order", "OrderDiscount")
VoucherRemoveView = get_class("basket.views", "VoucherRemoveView")
voucher_removal = get_class("basket.signals", "voucher_removal")

KEYS = st.sampled_from([f"key{i}" for i in range(8)])
POINTS = st.integers(min_value=1, max_value=400)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # Each run gets its own customer: runs share the test's transaction.
        self.uid = uuid.uuid4().hex
        user = get_user_model().objects.create_user(self.uid[:30], f"{self.uid}@example.com")
        self.staff = get_user_model().objects.create_user(f"s{self.uid[:29]}", is_staff=True)
        self.account = ledger.get_account(user)
        self.balance = 0
        self.used = {}  # key -> (kind, entry id)
        self.spends = {}  # spend entry id -> points it can still give back
        self.waiting = {}  # spend entry id -> points a clawback left waiting on it
        self.shortfall_keys = set()  # clawbacks that left a shortfall waiting

    def key(self, name):
        return f"{self.uid}:{name}"

    def snapshot(self):
        self.account.refresh_from_db()
        return (
            self.account.balance,
            list(LedgerEntry.objects.filter(account=self.account).values_list("id", "points")),
            list(PointsLot.objects.filter(account=self.account).values_list("id", "remaining")),
        )

    def post(self, kind, name, call, expected_change, balance_change=None):
        """Run ``call``; check it posted ``expected_change`` once, or was a replay.

        ``balance_change`` is what the balance moves by, if not the entry's points.
        """
        key = self.key(name)
        before = self.snapshot()
        if key in self.used:
            used_kind, entry_id = self.used[key]
            if used_kind == kind:
                assert call(key).pk == entry_id
            else:
                with pytest.raises(ledger.LedgerError):
                    call(key)
            assert self.snapshot() == before, "a replay changed something"
            return
        if expected_change is None:  # must be refused
            with pytest.raises(ledger.LedgerError):
                call(key)
            assert self.snapshot() == before, "a refused operation changed something"
            return
        entry = call(key)
        if expected_change == 0:
            assert entry is None
            return entry
        assert entry.points == expected_change
        self.used[key] = (kind, entry.pk)
        self.balance += expected_change if balance_change is None else balance_change
        return entry

    @rule(points=POINTS, name=KEYS)
    def earn(self, points, name):
        self.post(
            "earn", name, lambda k: ledger.earn(self.account, points, key=k, reason="r"), points
        )

    @rule(points=POINTS, name=KEYS)
    def spend(self, points, name):
        expected = -points if points <= self.balance else None
        known = self.key(name) in self.used
        entry = self.post(
            "spend", name, lambda k: ledger.spend(self.account, points, key=k, reason="r"), expected
        )
        if entry is not None and not known:
            self.spends[entry.pk] = points

    @rule(points=POINTS, name=KEYS)
    def clawback(self, points, name):
        key = self.key(name)
        if key in self.shortfall_keys and key not in self.used:  # a replay: nothing again
            before = self.snapshot()
            assert ledger.clawback(self.account, points, key=key, reason="r") is None
            assert self.snapshot() == before
            return
        taken = min(points, self.balance)
        short = points - taken if key not in self.used else 0
        self.post(
            "clawback",
            name,
            lambda k: ledger.clawback(self.account, points, key=k, reason="r"),
            -taken,
        )
        # What could not be taken waits on the spends that can still give points back.
        for spend_id in sorted(self.spends, reverse=True):
            n = min(short, self.spends[spend_id] - self.waiting.get(spend_id, 0))
            if n > 0:
                self.waiting[spend_id] = self.waiting.get(spend_id, 0) + n
                self.shortfall_keys.add(key)
                short -= n

    @rule(points=st.integers(-400, 400).filter(bool), name=KEYS)
    def adjust(self, points, name):
        expected = points if self.balance + points >= 0 else None
        self.post(
            "adjustment",
            name,
            lambda k: ledger.adjust(self.account, points, key=k, reason="r", staff_user=self.staff),
            expected,
        )

    @precondition(lambda self: any(kind == "spend" for kind, _ in self.used.values()))
    @rule(data=st.data(), name=KEYS, partial=st.booleans())
    def restore(self, data, name, partial):
        spends = sorted(pk for kind, pk in self.used.values() if kind == "spend")
        spent = LedgerEntry.objects.get(pk=data.draw(st.sampled_from(spends)))
        restored = sum(LedgerEntry.objects.filter(reverses=spent).values_list("points", flat=True))
        left = -spent.points - restored
        points = data.draw(st.integers(1, -spent.points)) if partial else None
        amount = left if points is None else points
        expected = amount if 0 < amount <= left else None
        # What a clawback left waiting on the spend is taken from the points coming back.
        owed = min(self.waiting.get(spent.pk, 0), amount) if expected else 0
        known = self.key(name) in self.used
        entry = self.post(
            "restore",
            name,
            lambda k: ledger.restore(spent, key=k, reason="r", points=points),
            expected,
            balance_change=amount - owed if expected else None,
        )
        if entry is not None and not known:
            self.spends[spent.pk] -= amount
            self.waiting[spent.pk] = self.waiting.get(spent.pk, 0) - owed

    @precondition(lambda self: self.balance > 0)
    @rule(data=st.data())
    def expire(self, data):
        lots = list(PointsLot.objects.filter(account=self.account, remaining__gt=0))
        lot = data.draw(st.sampled_from(lots))
        entry = ledger.expire(lot)
        assert entry.points == -lot.remaining
        self.balance -= lot.remaining
        assert ledger.expire(lot) == entry  # a replay posts nothing

    @invariant()
    def balance_is_the_sum_of_entries_and_of_lots(self):
        self.account.refresh_from_db()
        lots = PointsLot.objects.filter(account=self.account).values_list("remaining", flat=True)
        assert self.account.balance == ledger.balance_from_entries(self.account) == sum(lots)
        assert self.account.balance == self.balance >= 0

    @invariant()
    def lots_stay_within_their_size(self):
        for lot in PointsLot.objects.filter(account=self.account):
            assert 0 <= lot.remaining <= lot.points


@pytest.mark.django_db
def test_ledger_invariants_hold_for_random_operation_sequences():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


class CrossFeatureMachine(RuleBasedStateMachine):
    """Orders, points vouchers, cancellations, refunds, imports and erasing, in any order.

    Each step goes through the public flows (Oscar's order creation, status
    changes and basket signals, the periodic jobs); after every step the ledger
    still balances, no voucher is both given back and kept by an order, and
    every point earned is held, taken back or spent.
    """

    products = []  # a $100 and a $60 product, made once for all runs

    def __init__(self):
        super().__init__()
        uid = uuid.uuid4().hex
        self.user = get_user_model().objects.create_user(uid[:30], f"{uid}@example.com")
        self.account = ledger.get_account(self.user)
        self.orders = []
        self.baskets = []  # baskets holding a points voucher not used yet
        self.submitted = []  # baskets of orders placed with a points voucher
        self.imported = set()  # import keys posted
        self.erased = False
        self.staff = get_user_model().objects.create_user(f"s{uid[:29]}", is_staff=True)
        self.receipts = []  # receipt numbers recorded at the till

    def basket(self, quantities):
        basket = Basket.objects.create(owner=self.user)
        basket.strategy = Default()
        for product, quantity in zip(self.products, quantities, strict=True):
            if quantity:
                basket.add_product(product, quantity)
        return self.priced(basket)

    def priced(self, basket):
        basket = Basket.objects.get(pk=basket.pk)
        basket.strategy = Default()
        Applicator().apply(basket, self.user)
        return basket

    def later(self):
        # One moment for the whole run: entries posted "later" and the tiers
        # recomputed "later" see the same clock.
        if not hasattr(self, "clock"):
            self.clock = timezone.now() + timedelta(days=400)
        return self.clock

    @rule(again=st.booleans())
    def recompute_tiers(self, again):
        """After whatever came before (earns, refunds, vouchers, imports), the stored tier is
        the one a from-scratch count gives, and a second recompute changes nothing."""
        tiers.recompute_all(now=self.later())
        if again:
            assert tiers.recompute_all(now=self.later()) == 0
        if self.erased:
            return
        status = TierStatus.objects.filter(account=self.account).first()
        stored = status.tier.name if status and status.tier else None
        assert stored == self.tier_from_scratch(), "the stored tier is not the counted one"

    def tier_from_scratch(self):
        """Silver: 10 points earned from orders in the last 365 days (less refunds of them);
        Gold: 150.00 spent ever, less refunds, cancelled orders left out."""
        start, now = self.later() - timedelta(days=365), self.later()
        purchase = ("earn:order:", "earn:till:")
        points = 0
        for entry in LedgerEntry.objects.filter(account=self.account).select_related("reverses"):
            earn = entry if entry.kind == "earn" else entry.reverses
            if entry.kind not in ("earn", "clawback") or earn is None or earn.kind != "earn":
                continue
            if earn.idempotency_key.startswith(purchase) and start <= earn.created_at <= now:
                points += entry.points
        spent = D(0)
        for order in self.user.orders.exclude(status="Cancelled"):
            lines = list(order.lines.all())
            refunded = awards.refunded_quantities(lines)
            for line in lines:
                kept = line.quantity - refunded.get(line.pk, 0)
                spent += line.line_price_incl_tax * kept / line.quantity
        if spent >= D("150"):
            return "Gold"
        return "Silver" if points >= 10 else None

    @precondition(lambda self: not self.erased)
    @rule(quantities=st.tuples(st.integers(1, 3), st.integers(0, 2)), mature=st.booleans())
    def earn_from_an_order(self, quantities, mature):
        self.orders.append(create_order(basket=self.basket(quantities), user=self.user))
        if mature:  # else the award stays pending until a later step matures it
            awards.mature_due_awards(now=self.later())

    @rule()
    def mature_awards(self):
        awards.mature_due_awards(now=self.later())

    @precondition(lambda self: not self.erased)
    @rule(points=st.integers(1, 300), months=st.integers(1, 24), again=st.booleans())
    def import_points_from_another_program(self, points, months, again):
        """A customer who may already have points, vouchers and refunds brings more."""
        day = timezone.localdate() + timedelta(days=30 * months)
        text = f"email,points,expires_on\n{self.user.email},{points},{day}\n".encode()
        key = keys.import_lot(self.user.pk, day, points)
        before = self.account_balance()
        for _time in range(2 if again else 1):
            run = ImportRun.objects.create(name="points.csv")
            importing.run(run, io.BytesIO(text))
        expected = before if key in self.imported else before + points
        assert self.account_balance() == expected, "an import posted twice or not at all"
        self.imported.add(key)

    @precondition(lambda self: not self.erased)
    @rule(amount=st.decimals("10", "900", places=2), again=st.booleans())
    def award_a_till_purchase(self, amount, again):
        """A purchase in the shop, on the same balance; a receipt entered again changes nothing."""
        before = self.account_balance()
        if again and self.receipts:
            receipt, amount = self.receipts[-1]  # the same receipt, entered again
            till.award_purchase(self.user, amount, key=receipt, staff_user=self.staff)
            assert self.account_balance() == before, "a receipt recorded twice"
            return
        receipt = f"T-{uuid.uuid4().hex[:12]}"
        entry = till.award_purchase(self.user, amount, key=receipt, staff_user=self.staff)
        self.receipts.append((receipt, amount))
        assert self.account_balance() == before + entry.points

    @precondition(lambda self: not self.erased and self.account_balance() >= 20)
    @rule()
    def hand_a_reward_over_the_counter(self):
        reward, _new = Reward.objects.get_or_create(
            name="Counter mug", defaults={"kind": "free_product", "cost": 20}
        )
        before = self.account_balance()
        receipt = f"R-{uuid.uuid4().hex[:12]}"
        for _time in range(2):  # a double tap
            till.redeem_reward(self.user, reward.pk, key=receipt, staff_user=self.staff)
        assert self.account_balance() == before - 20

    def till_spent(self):
        return -sum(
            LedgerEntry.objects.filter(
                account=self.account, idempotency_key__startswith=keys.TILL_SPEND
            ).values_list("points", flat=True)
        )

    @rule()
    def erase_the_customer(self):
        """Staff erase the customer, whatever is open: a points voucher, a pending award."""
        privacy.erase(self.user, requested_by=self.staff)
        self.erased = True
        self.baskets = []  # their points vouchers gave their points back
        assert not PendingAward.objects.filter(
            account=self.account, status=PendingAward.Status.PENDING
        ).exists()

    @precondition(lambda self: not self.erased and self.account_balance() >= 10)
    @rule(data=st.data(), quantities=st.tuples(st.integers(1, 3), st.integers(0, 2)))
    def redeem_into_a_voucher(self, data, quantities):
        basket = self.basket(quantities)
        limit = redemption.spendable(self.user, basket)["max_points"]
        points = data.draw(st.integers(10, max(limit, 10) + 5))
        if points > limit:
            with pytest.raises(redemption.RedemptionError):
                redemption.redeem_points(self.user, basket, points)
            return
        redemption.redeem_points(self.user, basket, points)
        self.baskets.append(basket)

    @precondition(lambda self: self.baskets)
    @rule(data=st.data())
    def remove_the_voucher(self, data):
        basket = self.baskets.pop(data.draw(st.integers(0, len(self.baskets) - 1)))
        for voucher in basket.vouchers.all():
            self.remove(basket, voucher)

    @precondition(lambda self: self.baskets)
    @rule(data=st.data())
    def place_an_order_with_it(self, data):
        basket = self.baskets.pop(data.draw(st.integers(0, len(self.baskets) - 1)))
        self.orders.append(create_order(basket=self.priced(basket), user=self.user))
        self.submitted.append(basket)
        awards.mature_due_awards(now=self.later())

    @precondition(lambda self: self.submitted)
    @rule(data=st.data())
    def remove_the_voucher_in_a_stale_tab(self, data):
        """A page loaded before the order was placed takes its voucher out of the basket."""
        basket = data.draw(st.sampled_from(self.submitted))
        for redeemed in Redemption.objects.filter(basket=basket):
            self.remove(basket, redeemed.voucher)

    def remove(self, basket, voucher):
        """What Oscar's "remove voucher" view does."""
        if basket.vouchers.filter(pk=voucher.pk).exists():
            basket.vouchers.remove(voucher)
            voucher_removal.send(sender=VoucherRemoveView, basket=basket, voucher=voucher)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def cancel_an_order(self, data):
        data.draw(st.sampled_from(self.orders)).set_status("Cancelled")

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def refund_a_line(self, data):
        order = data.draw(st.sampled_from(self.orders))
        data.draw(st.sampled_from(list(order.lines.all()))).set_status("Refunded")

    @precondition(lambda self: self.baskets)
    @rule()
    def expire_unused_vouchers(self):
        redemption.expire_unused(now=self.later())
        self.baskets = [b for b in self.baskets if redemption.active_redemption(b)]

    def account_balance(self):
        self.account.refresh_from_db()
        return self.account.balance

    @invariant()
    def balance_is_the_sum_of_entries_and_of_open_lots(self):
        lots = PointsLot.objects.filter(account=self.account).values_list("remaining", flat=True)
        assert self.account_balance() == ledger.balance_from_entries(self.account) == sum(lots)

    @invariant()
    def no_voucher_is_both_given_back_and_kept_by_an_order(self):
        for used in Redemption.objects.filter(account=self.account):
            live = OrderDiscount.objects.filter(voucher_id=used.voucher_id).exclude(
                order__status="Cancelled"
            )
            if used.status == Redemption.Status.RESTORED:
                assert not live.exists(), f"redemption {used.pk} restored and used"
            if used.status == Redemption.Status.USED:
                assert live.exists(), f"redemption {used.pk} used by no live order"

    @invariant()
    def every_point_earned_is_held_taken_back_or_spent(self):
        def total(kind):
            entries = LedgerEntry.objects.filter(account=self.account, kind=kind)
            return sum(entries.values_list("points", flat=True))

        spent = sum(
            Redemption.objects.filter(account=self.account)
            .exclude(status=Redemption.Status.RESTORED)
            .values_list("points", flat=True)
        )
        spent += self.till_spent()
        held, clawed, earned = self.account_balance(), -total("clawback"), total("earn")
        forfeited = -total("expire")  # only erasing expires points here
        assert held + clawed + spent + forfeited == earned

    @invariant()
    def every_entry_reads_in_the_readers_language(self):
        """Whatever the features posted carries a reason code the plugin knows, read in
        English and Spanish from the code, never the stored text of the moment."""
        entries = list(
            LedgerEntry.objects.filter(account=self.account).select_related(
                "order", "voucher__loyalty_redemption__order"
            )
        )
        reasons.prefetch(entries)
        for entry in entries:
            assert reasons.registered(entry.reason_code), (entry.reason_code, entry.reason)
            with translation.override("en"):
                english = entry.customer_reason()
            with translation.override("es"):
                spanish = entry.customer_reason()
            assert english and spanish
            if entry.reason_code != reasons.STAFF_ADJUSTMENT:
                assert english != spanish, english

    @invariant()
    def an_erased_account_holds_nothing_and_no_open_voucher(self):
        if not self.erased:
            return
        self.account.refresh_from_db()
        assert self.account.user_id is None and self.account.balance == 0
        assert not Redemption.objects.filter(
            account=self.account, status=Redemption.Status.ACTIVE
        ).exists()

    @invariant()
    def points_a_refund_took_never_come_back(self):
        """What is held or spent, less what waits to be taken, is what the orders kept
        (and the imports brought). Erasing forfeits what is held, so it ends here."""
        if self.erased:
            return
        imported = sum(  # and bought in the shop
            LedgerEntry.objects.filter(account=self.account)
            .filter(
                Q(idempotency_key__startswith=keys.IMPORT)
                | Q(idempotency_key__startswith=keys.TILL_EARN)
            )
            .values_list("points", flat=True)
        )
        kept = imported + sum(
            PendingAward.objects.filter(
                account=self.account, status=PendingAward.Status.EARNED
            ).values_list("points", flat=True)
        )
        spent = sum(
            Redemption.objects.filter(account=self.account)
            .exclude(status=Redemption.Status.RESTORED)
            .values_list("points", flat=True)
        )
        spent += self.till_spent()
        waiting = sum(s.open for s in Shortfall.objects.filter(account=self.account))
        assert self.account_balance() + spent - waiting == kept


@pytest.mark.django_db
def test_ledger_invariants_hold_where_features_cross():
    CrossFeatureMachine.products = []
    for name, level, threshold, measure, period in [
        ("Silver", 1, "10", Tier.Measure.POINTS, Tier.Period.ROLLING),
        ("Gold", 2, "150", Tier.Measure.SPEND, Tier.Period.LIFETIME),
    ]:
        Tier.objects.create(
            name=name,
            level=level,
            threshold=D(threshold),
            measure=measure,
            period=period,
            downgrade=Tier.Downgrade.GRACE,
            grace_days=0,
        )
    for price in ("100.00", "60.00"):
        product = create_product(title=f"Product {price}")
        create_stockrecord(product, price=D(price), num_in_stock=1_000_000)
        CrossFeatureMachine.products.append(product)
    run_state_machine_as_test(
        CrossFeatureMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
