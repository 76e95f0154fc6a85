"""Points and the store's coupons in one basket, through Oscar's basket and checkout pages."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone
from oscar.core.loading import get_class, get_model
from oscar.test.factories import create_product, create_stockrecord

from oscar_loyalty import ledger, redemption
from oscar_loyalty.coupons.creation import CouponSpec, save_coupon
from oscar_loyalty.models import LedgerEntry, PendingAward, Redemption
from tests.helpers import balance, messages, text

pytestmark = pytest.mark.django_db
Order = get_model("order", "Order")
Voucher = get_model("voucher", "Voucher")
PaymentDetailsView = get_class("checkout.views", "PaymentDetailsView")
VoucherRemoveView = get_class("basket.views", "VoucherRemoveView")
voucher_removal = get_class("basket.signals", "voucher_removal")


def total(page):
    return text(page.html.select_one("#basket_totals"))


@pytest.fixture
def lamp():
    product = create_product(title="Lamp", product_class="Download")
    product.product_class.requires_shipping = False  # straight to payment at checkout
    product.product_class.save()
    create_stockrecord(product, price=D("60.00"), num_in_stock=100)
    return product


@pytest.fixture
def shopper(customer, django_app, lamp):
    """100 points and two lamps ($120) in the basket."""
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="Order 1")
    page = django_app.get(lamp.get_absolute_url(), user=customer)
    form = page.forms["add_to_basket_form"]
    form["quantity"] = 2
    form.submit(user=customer)
    return customer


def coupon(code, percent="15", minimum=None):
    now = timezone.now()
    return save_coupon(
        CouponSpec(
            name=code,
            code=code,
            kind="percentage",
            value=D(percent),
            start=now - timedelta(days=1),
            end=now + timedelta(days=30),
            usage=Voucher.SINGLE_USE,
            minimum=minimum,
        )
    )


def apply_coupon(app, user, code):
    form = app.get("/basket/", user=user).forms["voucher_form"]
    form["code"] = code
    return form.submit(user=user).follow(user=user)


def use_points(app, user, points):
    form = app.get("/basket/", user=user).forms["use-points-form"]
    form["points"] = points
    return form.submit(user=user).follow(user=user)


def set_quantity(app, user, quantity):
    form = app.get("/basket/", user=user).forms["basket_formset"]
    form["form-0-quantity"] = quantity
    return form.submit(user=user).follow(user=user)


def preview(app, user):
    """Walk Oscar's checkout to its preview page (the session records each step).

    The messages shown on the way are gathered on the preview page's ``seen``.
    """
    page, seen = app.get("/checkout/", user=user), []
    while page.status_int == 302:
        page = page.follow(user=user)
        seen += messages(page)
    page = app.get("/checkout/preview/", user=user)
    page.seen = seen + messages(page)
    return page


def place_order(app, user):
    page = preview(app, user).forms["place_order_form"].submit(user=user)
    return page.follow(user=user) if page.status_int == 302 else page


def test_the_basket_says_points_pay_what_coupons_leave(django_app, shopper):
    page = django_app.get("/basket/", user=shopper)
    assert text(page.html.select_one("#points-stack")) == (
        "Points pay what is left after your coupons and offers, up to 50% of it."
    )


def test_coupon_then_points_both_discount_and_the_order_records_both(django_app, shopper):
    coupon("SAVE15")
    page = apply_coupon(django_app, shopper, "SAVE15")
    assert "Coupon SAVE15 applied to your basket." in messages(page)
    assert "$102.00" in total(page)
    assert "From 10 to 51 on this basket." in text(page.html.select_one("#use-points"))
    page = use_points(django_app, shopper, "51")
    assert messages(page) == ["You used 51 points: $51.00 off your basket."]
    assert "$51.00" in total(page)  # 120 - 18 (15%) - 51 (half of what is left)
    place_order(django_app, shopper)
    order = Order.objects.get()
    assert order.total_incl_tax == D("51.00")
    assert sorted((d.voucher_code[:3], d.amount) for d in order.discounts.all()) == [
        ("PTS", D("51.00")),
        ("SAV", D("18.00")),
    ]
    assert Voucher.objects.get(code="SAVE15").num_orders == 1
    assert Redemption.objects.get().status == Redemption.Status.USED
    assert balance(shopper) == 49


def test_points_then_coupon_the_coupon_applies_and_the_points_shrink_to_the_share(
    django_app, shopper
):
    coupon("SAVE15")
    use_points(django_app, shopper, "60")
    page = apply_coupon(django_app, shopper, "SAVE15")
    assert messages(page) == [
        "Coupon SAVE15 applied to your basket.",
        "Your basket changed, so your points now pay $51.00 of it (at most 50% of what "
        "is left after coupons): 9 points are back in your account.",
    ]
    assert "$51.00" in total(page)
    assert balance(shopper) == 49
    used = Redemption.objects.get()
    assert (used.points, used.value) == (51, D("51.00"))
    place_order(django_app, shopper)
    assert Order.objects.get().total_incl_tax == D("51.00")


def test_a_coupon_that_gives_nothing_is_taken_out_before_the_order_and_stays_unused(
    django_app, shopper
):
    coupon("BIG20", percent="20", minimum=D("100.00"))
    apply_coupon(django_app, shopper, "BIG20")
    set_quantity(django_app, shopper, 1)  # $60: under the coupon's minimum now
    page = preview(django_app, shopper)
    assert page.seen == [
        "Coupon BIG20 gives this basket no discount, so it was taken out and stays unused."
    ]
    place_order(django_app, shopper)
    order = Order.objects.get()
    assert order.total_incl_tax == D("60.00") and not order.discounts.exists()
    voucher = Voucher.objects.get(code="BIG20")
    assert voucher.num_orders == 0 and not voucher.applications.exists()


def test_placing_an_order_as_a_voucher_stops_giving_a_discount_sends_back_to_the_preview(
    django_app, shopper
):
    coupon("BIG20", percent="20", minimum=D("100.00"))
    apply_coupon(django_app, shopper, "BIG20")
    form = preview(django_app, shopper).forms["place_order_form"]
    set_quantity(django_app, shopper, 1)  # in another tab
    page = form.submit(user=shopper)
    assert page.status_int == 302 and page.location.endswith("/checkout/preview/")
    assert not Order.objects.exists()
    page = page.follow(user=shopper)
    assert "Coupon BIG20 gives this basket no discount" in " ".join(messages(page))


def test_shrinking_the_basket_shrinks_the_points_voucher_and_gives_the_rest_back(
    django_app, shopper, django_capture_on_commit_callbacks
):
    use_points(django_app, shopper, "60")
    page = set_quantity(django_app, shopper, 1)
    assert (
        "Your basket changed, so your points now pay $30.00 of it (at most 50% of what is "
        "left after coupons): 30 points are back in your account." in messages(page)
    )
    assert "$30.00" in total(page)
    assert balance(shopper) == 70
    assert "30 points used: $30.00 off this basket." in text(page.html.select_one("#use-points"))
    # Nothing more changes on the next page.
    assert messages(django_app.get("/basket/", user=shopper)) == []
    with django_capture_on_commit_callbacks(execute=True):  # the order commits, its task runs
        place_order(django_app, shopper)
    order = Order.objects.get()
    assert order.total_incl_tax == D("30.00")
    assert PendingAward.objects.get(order=order).points == 3  # on the $30 paid
    order.set_status("Cancelled")
    assert balance(shopper) == 100
    assert sorted(LedgerEntry.objects.filter(kind="restore").values_list("points", flat=True)) == [
        30,
        30,
    ]


def test_emptying_the_basket_gives_all_the_points_back(django_app, shopper):
    use_points(django_app, shopper, "60")
    page = set_quantity(django_app, shopper, 0)
    assert (
        "Your basket changed and points can no longer pay for any of it: your 60 points "
        "are back in your account." in messages(page)
    )
    assert balance(shopper) == 100
    assert Redemption.objects.get().status == Redemption.Status.RESTORED


def test_taking_the_points_voucher_out_while_the_payment_runs_leaves_it_with_the_order(
    django_app, shopper, monkeypatch
):
    use_points(django_app, shopper, "60")

    def pay(view, order_number, total, **kwargs):
        # Meanwhile the customer's other tab removes the voucher from the basket.
        voucher = Redemption.objects.get().voucher
        voucher_removal.send(sender=VoucherRemoveView, basket=view.request.basket, voucher=voucher)

    monkeypatch.setattr(PaymentDetailsView, "handle_payment", pay)
    place_order(django_app, shopper)
    order = Order.objects.get()
    assert order.total_incl_tax == D("60.00")
    assert Redemption.objects.get().status == Redemption.Status.USED
    assert balance(shopper) == 40


def test_points_given_back_after_the_checkout_priced_the_basket_stop_the_order_with_a_message(
    django_app, shopper, monkeypatch
):
    use_points(django_app, shopper, "60")
    number = PaymentDetailsView.generate_order_number

    def numbered(view, basket):
        # The basket was priced for this request; now the other tab takes the voucher out.
        redemption.restore(Redemption.objects.get().pk, "Points voucher removed from the basket")
        return number(view, basket)

    monkeypatch.setattr(PaymentDetailsView, "generate_order_number", numbered)
    page = preview(django_app, shopper).forms["place_order_form"].submit(user=shopper)
    assert "Your points voucher was taken out of your basket while you were checking out" in (
        text(page.html.select_one(".alert-danger"))
    )
    assert not Order.objects.exists()
    assert balance(shopper) == 100
    assert "$120.00" in total(django_app.get("/basket/", user=shopper))
