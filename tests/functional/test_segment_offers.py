"""A segment restricts an Oscar offer or voucher: a real basket, through the shop's pages."""

from decimal import Decimal as D

import pytest
from django.core.cache import cache
from oscar.core.loading import get_class, get_model
from oscar.test.factories import create_product, create_stockrecord

from oscar_loyalty import segments
from oscar_loyalty.models import Segment, SegmentCondition
from tests.helpers import messages

pytestmark = pytest.mark.django_db
ConditionalOffer = get_model("offer", "ConditionalOffer")
Benefit = get_model("offer", "Benefit")
Range = get_model("offer", "Range")
Voucher = get_model("voucher", "Voucher")
Order = get_model("order", "Order")


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


@pytest.fixture
def shoes():
    product = create_product(title="Trail shoes")
    create_stockrecord(product, price=D("80.00"), num_in_stock=100)
    return product


@pytest.fixture
def loyal(customer):
    """A segment of customers with two orders or more; ana has two."""
    for n in range(2):
        Order.objects.create(
            number=f"old-{n}",
            user=customer,
            currency="USD",
            total_incl_tax=D("30.00"),
            total_excl_tax=D("30.00"),
        )
    segment = Segment.objects.create(name="Loyal", min_orders=2)
    segments.save_condition(segment)
    return segment


def offer_for(segment, offer_type=ConditionalOffer.SITE, name="Loyal 10%"):
    everything = Range.objects.create(name=f"All {name}", includes_all_products=True)
    benefit = Benefit.objects.create(range=everything, type=Benefit.PERCENTAGE, value=D("10"))
    return ConditionalOffer.objects.create(
        name=name, offer_type=offer_type, condition=segment.condition, benefit=benefit
    )


def add(app, product, user):
    form = app.get(product.get_absolute_url(), user=user).forms["add_to_basket_form"]
    return form.submit(user=user).follow(user=user)


def basket_total(app, user):
    return app.get("/basket/", user=user).html.select_one("#basket_totals").text


def test_a_site_offer_for_a_segment_discounts_only_its_members(
    django_app, customer, django_user_model, loyal, shoes
):
    offer_for(loyal)
    add(django_app, shoes, customer)
    assert "$72.00" in basket_total(django_app, customer)
    django_app.reset()
    stranger = django_user_model.objects.create_user("sam", "sam@example.com", "x")
    add(django_app, shoes, stranger)
    assert "$72.00" not in basket_total(django_app, stranger)
    assert "$80.00" in basket_total(django_app, stranger)
    django_app.reset()
    add(django_app, shoes, None)  # a guest is in no segment
    assert "$80.00" in basket_total(django_app, None)


def test_a_voucher_for_a_segment_works_for_members_only(
    django_app, customer, django_user_model, loyal, shoes
):
    voucher = Voucher.objects.create(
        name="Loyal code",
        code="LOYAL10",
        usage=Voucher.MULTI_USE,
        start_datetime="2000-01-01T00:00Z",
        end_datetime="2100-01-01T00:00Z",
    )
    voucher.offers.add(offer_for(loyal, ConditionalOffer.VOUCHER, name="Loyal code"))

    def apply(user):
        add(django_app, shoes, user)
        form = django_app.get("/basket/", user=user).forms["voucher_form"]
        form["code"] = "LOYAL10"
        return form.submit(user=user).follow(user=user)

    page = apply(customer)
    assert "$72.00" in page.html.select_one("#basket_totals").text
    django_app.reset()
    stranger = django_user_model.objects.create_user("sam", "sam@example.com", "x")
    page = apply(stranger)
    assert "$72.00" not in page.html.select_one("#basket_totals").text
    assert messages(page) == ["Nothing in your basket is eligible for this coupon."]


def test_the_condition_is_offered_in_oscars_offer_dashboard(loyal):
    """Oscar's offer wizard lists conditions with a ``proxy_class`` as custom conditions."""
    form = get_class("dashboard.offers.forms", "ConditionForm")()
    choices = [str(text) for _value, text in form.fields["custom_condition"].choices]
    assert "Customer is in segment Loyal" in choices
    assert (
        SegmentCondition.objects.get(pk=loyal.condition_id).name == "Customer is in segment Loyal"
    )
