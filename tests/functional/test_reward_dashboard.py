"""The reward form: Oscar's product chooser, only the chosen kind's fields, proposed dates."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model
from oscar.test.factories import create_product

from oscar_loyalty.models import Reward

pytestmark = pytest.mark.django_db
Product = get_model("catalogue", "Product")
CREATE = "/dashboard/loyalty/rewards/create/"


def new_form(app, staff, **values):
    form = app.get(CREATE, user=staff).forms["reward-form"]
    for name, value in {"name": "Gift", "cost": "100", **values}.items():
        if name == "product" or value == "voucher":
            # The chooser fills its options as the user types; "voucher" is no kind.
            form[name].force_value(value)
        else:
            form[name] = value
    return form


def test_the_product_is_picked_with_oscars_product_chooser(django_app, staff):
    page = django_app.get(CREATE, user=staff)
    select = page.html.select_one("select#id_product")
    assert "select2" in select["class"] and "product-select" in select["class"]
    lookup = reverse("dashboard:catalogue-product-lookup")
    assert select["data-ajax-url"] == lookup
    assert len(select.select("option")) <= 1  # no list of every product in the page
    # The chooser's lookup answers staff allowed to see products, as in Oscar's own pages.
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_product"))
    create_product(title="Tote bag")
    found = django_app.get(lookup + "?q=tote", user=staff).json
    assert [r["text"] for r in found["results"]] == ["Tote bag"]


def test_a_free_product_reward_keeps_its_product_and_shows_it_again(django_app, staff):
    product = create_product(title="Tote bag")
    form = new_form(django_app, staff, kind="free_product", product=str(product.pk))
    form.submit(user=staff).follow(user=staff)
    reward = Reward.objects.get()
    assert (reward.kind, reward.product, reward.value) == ("free_product", product, None)
    page = django_app.get(f"/dashboard/loyalty/rewards/{reward.pk}/", user=staff)
    chosen = page.html.select_one("select#id_product option[selected]")
    assert chosen["value"] == str(product.pk) and chosen.text == "Tote bag"


def test_only_the_chosen_kinds_fields_are_shown_and_kept(django_app, staff):
    page = django_app.get(CREATE, user=staff)
    assert page.html.select_one("#id_value")["data-reward-kind"] == "discount"
    assert page.html.select_one("#id_product")["data-reward-kind"] == "free_product"
    assert "data-reward-kind" not in page.html.select_one("#id_cost").attrs
    scripts = [s.get("src", "") for s in page.html.select("script")]
    script = next(s for s in scripts if s.endswith("oscar_loyalty/js/reward_form.js"))
    assert script.startswith("/static/")  # the package's own file, no CDN
    # A value typed for another kind, then hidden, is not saved.
    product = create_product(title="Mug")
    form = new_form(django_app, staff, kind="free_shipping", value="7.50", product=str(product.pk))
    form.submit(user=staff).follow(user=staff)
    reward = Reward.objects.get()
    assert (reward.kind, reward.value, reward.product) == ("free_shipping", None, None)


@pytest.mark.parametrize(
    "values,field",
    [
        ({"kind": "discount"}, "value"),
        ({"kind": "discount", "value": "-5"}, "value"),
        ({"kind": "free_product"}, "product"),
        ({"kind": "free_product", "product": "999999"}, "product"),
        ({"kind": "free_product", "product": "not-a-number"}, "product"),
        ({"kind": "voucher", "value": "5"}, "kind"),
        ({"kind": "discount", "value": "5", "cost": "0"}, "cost"),
        ({"kind": "discount", "value": "5", "cost": "-1"}, "cost"),
    ],
)
def test_a_bad_reward_is_refused_and_nothing_saved(django_app, staff, values, field):
    page = new_form(django_app, staff, **values).submit(user=staff)
    assert page.status_code == 200
    assert field in page.context["form"].errors
    assert not Reward.objects.exists()


def test_a_parent_product_cannot_be_the_free_product(django_app, staff):
    parent = create_product(title="T-shirt", structure="parent")
    page = new_form(django_app, staff, kind="free_product", product=str(parent.pk)).submit(
        user=staff
    )
    assert "product" in page.context["form"].errors
    assert not Reward.objects.exists()


def test_a_new_reward_is_proposed_dates(django_app, staff):
    form = django_app.get(CREATE, user=staff).forms["reward-form"]
    today = timezone.localdate()
    assert form["starts_at"].value.startswith(f"{today:%Y-%m-%d} 00:00")
    assert form["ends_at"].value.startswith(f"{today + timedelta(days=91):%Y-%m-%d} 00:00")
    form["name"] = "Five off"
    form["kind"] = "discount"
    form["value"] = "5"
    form["cost"] = "50"
    form.submit(user=staff).follow(user=staff)
    reward = Reward.objects.get()
    assert reward.is_available() and reward.value == D("5.00")
    # Editing keeps the reward's own dates, not new proposals.
    Reward.objects.filter(pk=reward.pk).update(starts_at=None, ends_at=None)
    form = django_app.get(f"/dashboard/loyalty/rewards/{reward.pk}/", user=staff).forms[
        "reward-form"
    ]
    assert (form["starts_at"].value, form["ends_at"].value) == ("", "")
