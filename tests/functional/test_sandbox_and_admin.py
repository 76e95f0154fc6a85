import pytest
from django.core.management import call_command
from oscar.core.loading import get_model

from oscar_loyalty import ledger

pytestmark = pytest.mark.django_db
Product = get_model("catalogue", "Product")


def test_demo_data_loads_twice_without_duplicates(django_user_model):
    call_command("load_demo", stdout=open("/dev/null", "w"))
    call_command("load_demo", stdout=open("/dev/null", "w"))
    products = Product.objects.all()
    assert products.count() == 12
    brands = {p.attr.brand for p in products if p.attr.get_all_attributes()}
    assert len(brands) >= 3
    assert all(p.categories.exists() and p.stockrecords.exists() for p in products)
    assert django_user_model.objects.get(email="admin@example.com").is_staff
    assert not django_user_model.objects.get(email="customer@example.com").is_staff


def test_demo_coupons_and_rewards_are_loaded_once_and_printed(django_app, django_user_model):
    from io import StringIO

    call_command("load_demo", stdout=open("/dev/null", "w"))
    out = StringIO()
    call_command("load_demo", stdout=out)
    for code in ("WELCOME10", "SPRING15", "FREESHIP50"):
        assert code in out.getvalue()
    assert "loyalty_run_jobs" in out.getvalue()
    Voucher = get_model("voucher", "Voucher")
    assert Voucher.objects.count() == 3
    excluded = Voucher.objects.get(code="SPRING15").offers.get().benefit.range.excluded_products
    assert {p.attr.brand for p in excluded.all()} == {"Andes"}
    Reward = get_model("oscar_loyalty", "Reward")
    assert Reward.objects.count() == 3
    customer = django_user_model.objects.get(email="customer@example.com")
    page = django_app.get("/accounts/rewards/", user=customer)
    for reward in Reward.objects.all():
        assert reward.name in page


@pytest.mark.django_db(transaction=True)  # orders commit, and queue their task, as in the sandbox
def test_loyalty_run_jobs_brings_pending_points_in_when_their_day_comes():
    from io import StringIO

    from django.core.management.base import CommandError

    call_command("load_demo", stdout=open("/dev/null", "w"))
    account = ledger.get_account(
        get_model("auth", "User").objects.get(email="customer@example.com")
    )
    before = account.balance
    out = StringIO()
    call_command("loyalty_run_jobs", stdout=out)
    assert "awards matured: 0" in out.getvalue()
    call_command("loyalty_run_jobs", "--days", "30", stdout=out)
    assert "awards matured: 1" in out.getvalue()
    account.refresh_from_db()
    assert account.balance == before + 5  # the $54 skillet ordered 3 days ago
    with pytest.raises(CommandError, match="--days"):
        call_command("loyalty_run_jobs", "--days", "-1")


def test_sandbox_home_and_product_pages_render(django_app):
    call_command("load_demo", stdout=open("/dev/null", "w"))
    home = django_app.get("/").maybe_follow()
    assert "Yoga mat" in home
    product = Product.objects.get(title="Yoga mat")
    page = django_app.get(product.get_absolute_url())
    assert "Yoga mat" in page


def test_admin_shows_the_ledger_read_only(django_app, django_user_model, customer):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    entry = ledger.earn(ledger.get_account(customer), 40, key="k", reason="Order 100023")
    listing = django_app.get("/admin/oscar_loyalty/ledgerentry/", user=admin)
    assert "Order 100023" in listing
    assert "Add ledger entry" not in listing
    django_app.get("/admin/oscar_loyalty/ledgerentry/add/", user=admin, status=403)
    django_app.get(f"/admin/oscar_loyalty/ledgerentry/{entry.pk}/delete/", user=admin, status=403)
    detail = django_app.get(f"/admin/oscar_loyalty/account/{entry.account_id}/change/", user=admin)
    assert "Order 100023" in detail
    assert 'name="_save"' not in detail
