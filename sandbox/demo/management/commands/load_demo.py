"""Fill the sandbox with a small catalogue, two logins, coupons and rewards. Safe to run again."""

from datetime import timedelta
from decimal import Decimal as D

from django.contrib.auth import get_user_model
from django.contrib.sites.models import Site
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.text import slugify
from oscar.apps.catalogue.categories import create_from_breadcrumbs
from oscar.apps.checkout.calculators import OrderTotalCalculator
from oscar.apps.order.utils import OrderCreator
from oscar.apps.partner.strategy import Default
from oscar.apps.shipping.methods import Free
from oscar.core.loading import get_model

from oscar_loyalty import awards, ledger
from oscar_loyalty.coupons.creation import CouponSpec, save_coupon

Product = get_model("catalogue", "Product")
ProductClass = get_model("catalogue", "ProductClass")
ProductAttribute = get_model("catalogue", "ProductAttribute")
ProductCategory = get_model("catalogue", "ProductCategory")
Partner = get_model("partner", "Partner")
StockRecord = get_model("partner", "StockRecord")
Basket = get_model("basket", "Basket")
Order = get_model("order", "Order")
PendingAward = get_model("oscar_loyalty", "PendingAward")
Reward = get_model("oscar_loyalty", "Reward")
BonusCampaign = get_model("oscar_loyalty", "BonusCampaign")
Voucher = get_model("voucher", "Voucher")
Country = get_model("address", "Country")
UserAddress = get_model("address", "UserAddress")

# (title, brand, category breadcrumbs, price)
CATALOGUE = [
    ("Trail running shoes", "Andes", "Sport > Shoes", "89.90"),
    ("Hiking socks (3 pairs)", "Andes", "Sport > Clothing", "14.50"),
    ("Rain jacket", "Andes", "Sport > Clothing", "120.00"),
    ("Yoga mat", "Brisa", "Sport > Equipment", "32.00"),
    ("Cotton tote bag", "Brisa", "Home > Textiles", "9.99"),
    ("Linen tablecloth", "Brisa", "Home > Textiles", "45.00"),
    ("Ceramic coffee mug", "Cumbre", "Home > Kitchen", "12.00"),
    ("Cast iron skillet", "Cumbre", "Home > Kitchen", "54.00"),
    ("Ground coffee 500 g", "Cumbre", "Food > Coffee", "11.25"),
    ("Dark chocolate bar", "Dulcería", "Food > Sweets", "3.80"),
    ("Honey jar 350 g", "Dulcería", "Food > Sweets", "8.40"),
    ("Gift card $50", "Loyalty sandbox", "Gifts", "50.00"),
]

# (code, name, kind, value, minimum, excluded brands)
COUPONS = [
    ("WELCOME10", "10% off your order", "percentage", "10", None, []),
    ("SPRING15", "15% off, Andes excluded", "percentage", "15", None, ["Andes"]),
    ("FREESHIP50", "Free shipping from $50", "free_shipping", "0", "50.00", []),
]

# (name, kind, cost in points, discount value, free product title)
REWARDS = [
    ("$5 off your order", "discount", 25, "5.00", None),
    ("Free shipping", "free_shipping", 30, None, None),
    ("A free dark chocolate bar", "free_product", 40, None, "Dark chocolate bar"),
]
# The names in Spanish, as a merchant types them in the reward form.
REWARD_NAMES_ES = {
    "$5 off your order": "5 $ de descuento en tu pedido",
    "Free shipping": "Envío gratis",
    "A free dark chocolate bar": "Una tableta de chocolate negro gratis",
}

LOGINS = [
    ("admin@example.com", "admin", True, "Admin"),
    ("customer@example.com", "customer", False, "Carmen"),
]


class Command(BaseCommand):
    help = "Load the demo catalogue, a staff user and a demo customer into the sandbox."

    def handle(self, *args, **options):
        Site.objects.update_or_create(
            pk=1, defaults={"domain": "127.0.0.1:8000", "name": "Loyalty sandbox"}
        )
        product_class, _ = ProductClass.objects.get_or_create(
            name="Goods", defaults={"requires_shipping": True, "track_stock": True}
        )
        ProductAttribute.objects.get_or_create(
            product_class=product_class, code="brand", defaults={"name": "Brand", "type": "text"}
        )
        partner, _ = Partner.objects.get_or_create(name="Demo warehouse")
        for title, brand, breadcrumbs, price in CATALOGUE:
            self._product(product_class, partner, title, brand, breadcrumbs, D(price))

        call_command("update_index", remove=True, verbosity=0)

        User = get_user_model()
        for email, password, staff, first_name in LOGINS:
            user = User.objects.filter(email=email).first() or User(
                username=email.split("@")[0], email=email
            )
            user.is_staff = user.is_superuser = staff
            user.first_name = first_name
            user.set_password(password)
            user.save()

        country, _ = Country.objects.update_or_create(
            iso_3166_1_a2="US",
            defaults={
                "iso_3166_1_a3": "USA",
                "iso_3166_1_numeric": "840",
                "name": "United States of America",
                "printable_name": "United States",
                "is_shipping_country": True,
            },
        )
        customer = User.objects.get(email="customer@example.com")
        UserAddress.objects.get_or_create(
            user=customer,
            line1="1 Main Street",
            defaults={
                "first_name": "Carmen",
                "last_name": "Customer",
                "line4": "Springfield",
                "postcode": "12345",
                "country": country,
                "is_default_for_shipping": True,
                "is_default_for_billing": True,
            },
        )
        if not Order.objects.filter(user=customer).exists():
            self._history(customer, User.objects.get(email="admin@example.com"))

        self._coupons()
        self._rewards()
        self._campaign()

        self.stdout.write(self.style.SUCCESS(f"Demo catalogue: {len(CATALOGUE)} products."))
        for email, password, staff, _first_name in LOGINS:
            role = "staff (dashboard /dashboard/)" if staff else "customer"
            self.stdout.write(f"  {role}: {email} / {password}")
        self.stdout.write("Coupon codes (type one in the basket):")
        for code, name, *_rest in COUPONS:
            self.stdout.write(f"  {code}: {name}")
        self.stdout.write(
            "Rewards (the customer's Rewards page, /accounts/rewards/): "
            + "; ".join(f"{name} for {cost} points" for name, _kind, cost, *_rest in REWARDS)
        )
        self.stdout.write(
            "Pending points arrive when the return window has passed: "
            "python sandbox/manage.py loyalty_run_jobs --days 30"
        )

    def _coupons(self):
        now = timezone.now()
        for code, name, kind, value, minimum, brands in COUPONS:
            if Voucher.objects.filter(code=code).exists():
                continue
            save_coupon(
                CouponSpec(
                    name=name,
                    code=code,
                    kind=kind,
                    value=D(value),
                    minimum=D(minimum) if minimum else None,
                    start=now - timedelta(days=1),
                    end=now + timedelta(days=365),
                    excluded_brands=brands,
                )
            )

    def _campaign(self):
        """A bonus campaign running this week, announced on the coffee's product page."""
        now = timezone.now()
        campaign, _ = BonusCampaign.objects.update_or_create(
            name="Double points this week",
            defaults={
                "multiplier": D(2),
                "starts_at": now - timedelta(days=1),
                "ends_at": now + timedelta(days=7),
            },
        )
        campaign.categories.set([create_from_breadcrumbs("Food > Coffee")])

    def _rewards(self):
        for name, kind, cost, value, product in REWARDS:
            Reward.objects.get_or_create(
                name=name,
                defaults={
                    "kind": kind,
                    "cost": cost,
                    "value": D(value) if value else None,
                    "product": Product.objects.get(title=product) if product else None,
                    "name_translations": {"es": REWARD_NAMES_ES[name]},
                },
            )

    def _product(self, product_class, partner, title, brand, breadcrumbs, price):
        sku = slugify(title)[:64]
        product = Product.objects.filter(stockrecords__partner_sku=sku).first()
        if product is None:
            product = Product(product_class=product_class, title=title, slug=sku)
        product.attr.brand = brand
        product.save()
        category = create_from_breadcrumbs(breadcrumbs)
        ProductCategory.objects.get_or_create(product=product, category=category)
        StockRecord.objects.update_or_create(
            partner=partner,
            partner_sku=sku,
            defaults={"product": product, "price": price, "num_in_stock": 1000},
        )

    def _history(self, customer, staff):
        """Two orders for the demo customer: one past its return window, one not."""
        now = timezone.now()
        for titles, days_ago in [
            (["Rain jacket", "Trail running shoes"], 45),
            (["Cast iron skillet"], 3),
        ]:
            basket = Basket.objects.create(owner=customer)
            basket.strategy = Default()
            for title in titles:
                basket.add_product(Product.objects.get(title=title))
            shipping = Free()
            charge = shipping.calculate(basket)
            order = OrderCreator().place_order(
                basket=basket,
                user=customer,
                shipping_method=shipping,
                shipping_charge=charge,
                total=OrderTotalCalculator().calculate(basket, charge),
            )
            basket.submit()
            placed = now - timedelta(days=days_ago)
            Order.objects.filter(pk=order.pk).update(date_placed=placed)
            PendingAward.objects.filter(order=order).update(matures_at=placed + timedelta(days=30))
        awards.mature_due_awards()
        ledger.adjust(
            ledger.get_account(customer),
            10,
            key="demo:welcome",
            reason="Welcome to our rewards club!",
            staff_user=staff,
        )
