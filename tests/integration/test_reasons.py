"""History reasons are stored as codes and read in the reader's language, whatever was
active when the entry was written; existing entries get their codes from their keys."""

import importlib
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.apps import apps
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from oscar_loyalty import awards, bonus, expiry, keys, ledger, reasons, redemption, till
from oscar_loyalty.models import LedgerEntry, PointsLot, Redemption, Reward, Shortfall
from tests.helpers import basket_for

pytestmark = pytest.mark.django_db
Kind = LedgerEntry.Kind
fill = importlib.import_module("oscar_loyalty.migrations.0015_fill_reason_codes")


def read(entry, language):
    entry = LedgerEntry.objects.select_related("order", "voucher__loyalty_redemption__order").get(
        pk=entry.pk
    )
    with translation.override(language):
        return entry.customer_reason()


@pytest.fixture
def rich(customer):
    ledger.earn(ledger.get_account(customer), 500, key="seed", reason=reasons.order("1"))
    return customer


@pytest.fixture
def shipping():
    return Reward.objects.create(
        name="Free shipping",
        name_translations={"es": "Envío gratis"},
        kind=Reward.Kind.FREE_SHIPPING,
        cost=30,
    )


def spend_of(claim):
    return LedgerEntry.objects.get(idempotency_key=keys.redemption_spend(claim.pk))


def test_a_reward_claimed_in_english_reads_in_spanish_with_its_spanish_name(rich, shipping):
    with translation.override("en"):
        claim = redemption.claim_reward(rich, shipping.pk)
    entry = spend_of(claim)
    assert read(entry, "es") == "Recompensa: Envío gratis"
    assert read(entry, "en") == "Reward: Free shipping"
    assert (entry.reason, entry.reason_code) == ("Reward: Free shipping", "reward")
    assert entry.reason_params == {"reward_id": shipping.pk, "name": "Free shipping"}


def test_a_reward_claimed_in_spanish_stores_english_and_reads_in_english(rich, shipping):
    with translation.override("es"):
        claim = redemption.claim_reward(rich, shipping.pk)
    assert spend_of(claim).reason == "Reward: Free shipping"
    assert read(spend_of(claim), "en") == "Reward: Free shipping"


def test_a_name_translated_after_the_claim_shows_in_the_history(rich, shipping):
    claim = redemption.claim_reward(rich, shipping.pk)
    Reward.objects.filter(pk=shipping.pk).update(name_translations={"es": "Envío sin coste"})
    assert read(spend_of(claim), "es") == "Recompensa: Envío sin coste"


def test_restores_read_in_the_readers_language(rich):
    with translation.override("en"):
        used = redemption.redeem_points(rich, basket_for(rich, "50.00"), 20)
        redemption.restore(used.pk)
    restored = LedgerEntry.objects.get(kind=Kind.RESTORE)
    assert restored.reason_code == reasons.POINTS_RETURNED
    assert read(restored, "es") == "Puntos devueltos"
    assert read(LedgerEntry.objects.get(kind=Kind.SPEND), "es") == "Puntos usados al pagar"


def test_a_cancelled_orders_points_read_in_spanish(rich, place_order):
    used = redemption.redeem_points(rich, basket_for(rich, "50.00"), 20)
    order = place_order(rich)
    Redemption.objects.filter(pk=used.pk).update(status=Redemption.Status.USED, order=order)
    with translation.override("en"):
        redemption.restore_for_cancelled(order)
    entry = LedgerEntry.objects.get(kind=Kind.RESTORE)
    assert entry.reason == f"Order {order.number} cancelled"
    assert read(entry, "es") == f"Pedido {order.number} cancelado"


def test_staff_words_stay_as_written(customer, staff):
    with translation.override("es"):
        entry = ledger.adjust(
            ledger.get_account(customer), 10, key="adj-1", reason="Sorry", staff_user=staff
        )
    assert (entry.reason_code, entry.reason_params) == ("staff_adjustment", {"text": "Sorry"})
    assert read(entry, "es") == read(entry, "en") == "Sorry"


def test_a_deleted_customers_adjustment_keeps_no_words_and_reads_in_spanish(customer, staff):
    account = ledger.get_account(customer)
    ledger.adjust(account, 10, key="adj-1", reason="Ana Pérez asked", staff_user=staff)
    ledger.close_account(account)
    entry = LedgerEntry.objects.get(kind=Kind.ADJUSTMENT)
    assert (entry.reason, entry.reason_code, entry.reason_params) == (
        "Adjustment",
        "adjustment",
        {},
    )
    assert read(entry, "es") == "Ajuste"
    closed = LedgerEntry.objects.get(idempotency_key__startswith=keys.LOT_CLOSE)
    assert (closed.reason_code, read(closed, "es")) == (
        "account_deleted",
        "Cuenta del cliente eliminada",
    )


def test_till_reasons_keep_the_receipt_reference(customer, staff):
    with translation.override("es"):
        entry = till.award_purchase(
            customer, D("20.00"), key="k-1", reference="R-1042", staff_user=staff
        )
    assert entry.reason == "In-store purchase R-1042"
    assert read(entry, "es") == "Compra en tienda R-1042"


@override_settings(OSCAR_LOYALTY_WELCOME_BONUS_POINTS=25)
def test_the_welcome_bonus_is_coded(django_user_model):
    user = django_user_model.objects.create_user("new", "new@example.com", "x")
    with translation.override("en"):
        bonus.joined(user)
    entry = LedgerEntry.objects.get(account__user=user)
    assert (entry.reason_code, read(entry, "es")) == ("welcome_bonus", "Bono de bienvenida")


def test_matured_orders_and_expired_lots_are_coded_by_the_set_based_jobs(
    customer, place_order, monkeypatch
):
    order = place_order(customer)
    later = timezone.now() + timedelta(days=400)
    assert awards.mature_due_awards(now=later) == 1
    earned = LedgerEntry.objects.get(kind=Kind.EARN)
    assert (earned.reason_code, earned.reason_params) == ("order", {"number": str(order.number)})
    assert earned.reason == f"Order {order.number}"
    assert read(earned, "es") == f"Pedido {order.number}"
    with override_settings(OSCAR_LOYALTY_EXPIRY_POLICY="lifetime", OSCAR_LOYALTY_EXPIRY_MONTHS=1):
        lot = PointsLot.objects.get()
        PointsLot.objects.filter(pk=lot.pk).update(expires_at=later)
        assert expiry.expire_due_points(now=later + timedelta(days=1)) == 1
    expired = LedgerEntry.objects.get(kind=Kind.EXPIRE)
    assert (expired.reason_code, expired.reason_params, expired.reason) == (
        "expired",
        {},
        "Expired",
    )
    assert read(expired, "es") == "Caducados"


def test_the_portable_maturation_codes_its_entries_too(customer, place_order, monkeypatch):
    from oscar_loyalty.ledger import bulk

    monkeypatch.setattr(bulk, "earn_due_awards", bulk._earn_due_awards_portable)
    order = place_order(customer)
    awards.mature_due_awards(now=timezone.now() + timedelta(days=400))
    earned = LedgerEntry.objects.get(kind=Kind.EARN)
    assert (earned.reason_code, earned.reason_params) == ("order", {"number": str(order.number)})


def test_a_page_of_reward_entries_reads_their_names_in_one_query(rich, shipping):
    for _ in range(5):
        redemption.claim_reward(rich, shipping.pk)
    entries = list(LedgerEntry.objects.filter(kind=Kind.SPEND))
    with CaptureQueriesContext(connection) as queries:
        reasons.prefetch(entries)
        with translation.override("es"):
            texts = {entry.customer_reason() for entry in entries}
    assert texts == {"Recompensa: Envío gratis"}
    assert len(queries) == 1


# The data migration ------------------------------------------------------------


def old(account, key, reason, kind=Kind.EARN, points=10, **kwargs):
    """An entry as written before reason codes (no code, text in the language of the moment)."""
    return LedgerEntry.objects.create(
        account=account, kind=kind, points=points, balance_after=0, reason=reason,
        idempotency_key=key, **kwargs,
    )  # fmt: skip


def test_the_migration_fills_codes_from_the_keys(customer, shipping):
    account = ledger.get_account(customer)
    claim = Redemption.objects.create(
        account=account, points=30, value=0, reward=shipping, expires_at=timezone.now()
    )
    checkout = Redemption.objects.create(
        account=account, points=5, value=1, expires_at=timezone.now()
    )
    rows = {
        "order": old(account, "earn:order:100023", "Order 100023"),
        "referral": old(account, "earn:referral:4", "Referral: a friend's first order"),
        "welcome": old(account, "earn:welcome:9", "Welcome bonus"),
        "reward": old(account, f"spend:redemption:{claim.pk}", "Recompensa: Free shipping",
                      kind=Kind.SPEND, points=-30),
        "checkout": old(account, f"spend:redemption:{checkout.pk}", "Puntos usados al pagar",
                        kind=Kind.SPEND, points=-5),
        "cancelled": old(account, f"restore:redemption:{checkout.pk}", "Pedido 100023 cancelado",
                         kind=Kind.RESTORE, points=5),
        "removed": old(account, f"restore:redemption:{claim.pk}:to:3",
                       "Points voucher removed from the basket", kind=Kind.RESTORE),
        "restored": old(account, "restore:redemption:999", "Something else", kind=Kind.RESTORE),
        "expired": old(account, "expire:lot:3", "Caducados", kind=Kind.EXPIRE, points=-1),
        "closed": old(account, "close:lot:4", "Customer account deleted", kind=Kind.EXPIRE,
                      points=-1),
        "refund": old(account, "clawback:earn:order:100023:to:0", "Order 100023 refunded",
                      kind=Kind.CLAWBACK, points=-1),
        "friend": old(account, "clawback:earn:referral:4:to:0", "Your friend's order was refunded",
                      kind=Kind.CLAWBACK, points=-1),
        "till": old(account, "earn:till:abc", "In-store purchase R-7"),
        "till_spend": old(account, "spend:till:abd", "In-store redemption", kind=Kind.SPEND,
                          points=-1),
        "staff": old(account, "adjust:staff:t-1", "Sorry for the delay", kind=Kind.ADJUSTMENT),
        "store": old(account, "mystore:thing:1", "A store's own reason"),
    }  # fmt: skip
    spend = rows["checkout"]
    shortfall = Shortfall.objects.create(
        account=account,
        spend=spend,
        clawback_key="clawback:earn:order:100023:to:0",
        reason="Pedido 100023 reembolsado",
        points=3,
    )
    rows["shortfall"] = old(
        account, f"shortfall:{shortfall.pk}:from:77", "Pedido 100023 reembolsado", Kind.CLAWBACK, -1
    )
    fill.fill_reason_codes(apps, None)
    coded = {
        name: LedgerEntry.objects.values_list("reason_code", "reason_params").get(pk=row.pk)
        for name, row in rows.items()
    }
    assert coded == {
        "order": ("order", {"number": "100023"}),
        "referral": ("referral", {}),
        "welcome": ("welcome_bonus", {}),
        "reward": ("reward", {"reward_id": shipping.pk, "name": "Free shipping"}),
        "checkout": ("checkout", {}),
        "cancelled": ("order_cancelled", {"number": "100023"}),
        "removed": ("voucher_removed", {}),
        "restored": ("points_returned", {}),
        "expired": ("expired", {}),
        "closed": ("account_deleted", {}),
        "refund": ("order_refunded", {"number": "100023"}),
        "friend": ("friend_refunded", {}),
        "till": ("till_purchase", {"reference": "R-7"}),
        "till_spend": ("till_redemption", {}),
        "staff": ("staff_adjustment", {"text": "Sorry for the delay"}),
        "store": ("", {}),
        "shortfall": ("order_refunded", {"number": "100023"}),
    }
    shortfall.refresh_from_db()
    assert (shortfall.reason_code, shortfall.reason_params) == (
        "order_refunded",
        {"number": "100023"},
    )
    assert read(rows["store"], "es") == "A store's own reason"
    assert read(rows["welcome"], "es") == "Bono de bienvenida"
    # Run twice, changes nothing more.
    fill.fill_reason_codes(apps, None)
    assert LedgerEntry.objects.get(pk=rows["staff"].pk).reason_params == {
        "text": "Sorry for the delay"
    }
