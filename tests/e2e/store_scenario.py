"""Run inside the throwaway store (its own virtualenv): a customer's visit, checked.

Prints ``SCENARIO OK`` at the end; any failed check raises.
"""

import os
from datetime import timedelta
from decimal import Decimal as D

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "frobshop.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from oscar.core.loading import get_model  # noqa: E402

from oscar_loyalty.coupons.creation import CouponSpec, save_coupon  # noqa: E402
from oscar_loyalty.models import PendingAward  # noqa: E402

Country = get_model("address", "Country")
Order = get_model("order", "Order")
Partner = get_model("partner", "Partner")
Product = get_model("catalogue", "Product")
ProductClass = get_model("catalogue", "ProductClass")
StockRecord = get_model("partner", "StockRecord")


def check(condition, what, response=None):
    if not condition:
        detail = response.content.decode()[:3000] if response is not None else ""
        raise AssertionError(f"{what}\n{detail}")


now = timezone.now()
User = get_user_model()
customer = User.objects.create_user("ana", "ana@example.com", "secret")
staff = User.objects.create_user("boss", "boss@example.com", "secret", is_staff=True)
Country.objects.create(
    iso_3166_1_a2="GB", iso_3166_1_a3="GBR", name="United Kingdom", is_shipping_country=True
)
goods = ProductClass.objects.create(name="Goods", requires_shipping=True, track_stock=True)
boots = Product.objects.create(product_class=goods, title="Boots")
StockRecord.objects.create(
    product=boots,
    partner=Partner.objects.create(name="Warehouse"),
    partner_sku="boots",
    price=D("100.00"),
    num_in_stock=5,
)
save_coupon(
    CouponSpec(
        name="10% off",
        code="WELCOME10",
        kind="percentage",
        value=D("10"),
        start=now - timedelta(days=1),
        end=now + timedelta(days=30),
    )
)

shop = Client(SERVER_NAME="localhost")  # startproject allows only local hosts
check(shop.login(username="ana@example.com", password="secret"), "the customer logs in")
page = shop.get("/accounts/rewards/")
check(page.status_code == 200, "the Rewards page answers", page)
page = shop.get("/accounts/profile/")
check(b"/accounts/rewards/" in page.content, "the account pages have the Rewards tab", page)

shop.post(f"/basket/add/{boots.pk}/", {"quantity": 1})
page = shop.get("/basket/")
check(b'action="/basket/coupon/"' in page.content, "the basket's code field is the plugin's", page)
page = shop.post("/basket/coupon/", {"code": " welcome10 "}, follow=True)
check(b"WELCOME10" in page.content, "the coupon is in the basket", page)

page = shop.post(
    "/checkout/shipping-address/",
    {
        "first_name": "Ana",
        "last_name": "Ruiz",
        "line1": "1 High Street",
        "line4": "London",
        "postcode": "N1 9GU",
        "country": "GB",
    },
    follow=True,
)
check(page.status_code == 200, "the shipping address is taken", page)
page = shop.get("/checkout/preview/")
check(page.status_code == 200, "the preview shows", page)
page = shop.post("/checkout/preview/", {"action": "place_order"}, follow=True)
order = Order.objects.filter(user=customer).first()
check(order is not None, "the order is placed", page)
check(order.total_incl_tax == D("90.00"), f"the coupon took 10% off: {order.total_incl_tax}")
# ATOMIC_REQUESTS: the order's task ran once the request's transaction committed.
award = PendingAward.objects.filter(order=order, referral=None).first()
check(award is not None and award.points == 9, f"the order earns 9 points: {award}")
page = shop.get("/accounts/rewards/")
check(b"9" in page.content and order.number.encode() in page.content, "pending points show", page)

staff_client = Client(SERVER_NAME="localhost")
staff_client.login(username="boss@example.com", password="secret")
page = staff_client.get("/dashboard/")
check(b"Store notes" in page.content, "the store's own menu entry is kept", page)
check(b"/dashboard/loyalty/coupons/" in page.content, "the Loyalty menu is added", page)
page = staff_client.get("/dashboard/loyalty/coupons/")
check(page.status_code == 200 and b"WELCOME10" in page.content, "the coupons page lists it", page)
print("SCENARIO OK", order.number, award.points)
