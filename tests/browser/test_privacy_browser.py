"""Customers' data in Chromium: the customer's download, erasing, an import's progress,
the accountant's export; desktop and phone, English and Spanish."""

import json
import os

import pytest
from django.core.management import call_command
from oscar.core.loading import get_model

from .conftest import DESKTOP, PHONE, log_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
User = get_model("auth", "User")
SIZES = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture
def sandbox(live_server):
    call_command("load_demo", stdout=open(os.devnull, "w"))
    User.objects.create_user(username="lola", email="lola@example.com", first_name="Lola")
    return live_server.url


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_customer_downloads_their_data(chromium, sandbox, screenshot, size, language):
    prefix = "" if language == "en" else f"/{language}"
    page = chromium.new_context(viewport=SIZES[size], accept_downloads=True).new_page()
    try:
        log_in(page, sandbox, "customer@example.com", "customer", prefix)
        page.goto(f"{sandbox}{prefix}/accounts/rewards/")
        section = page.locator("#rewards-your-data")
        title = {"en": "Your data", "es": "Tus datos"}[language]
        assert title in section.inner_text()
        section.scroll_into_view_if_needed()
        with page.expect_download() as download:
            page.click("#data-export")
        assert download.value.suggested_filename.startswith("loyalty-data-")
        data = json.loads(open(download.value.path()).read())
        assert data["customer"]["email"] == "customer@example.com"
        screenshot(page, f"privacy-rewards-download-{size}-{language}")
    finally:
        page.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_staff_import_a_file_and_watch_its_progress(chromium, sandbox, screenshot, size, tmp_path):
    path = tmp_path / "from-woocommerce.csv"
    path.write_text(
        "email,points,expires_on,marketing\n"
        "lola@example.com,120,2099-03-01,yes\n"
        "customer@example.com,30,,\n"
        "ghost@example.com,10,,\n"
        "lola@example.com,-5,,\n"
    )
    page = chromium.new_context(viewport=SIZES[size], accept_downloads=True).new_page()
    try:
        log_in(page, sandbox, "admin@example.com", "admin")
        page.goto(f"{sandbox}/dashboard/")
        assert page.locator("a[href='/dashboard/loyalty/imports/']").count() == 1  # in the menu
        page.goto(f"{sandbox}/dashboard/loyalty/imports/")
        screenshot(page, f"privacy-import-form-{size}")
        page.set_input_files("#id_file", str(path))
        page.click("#import-form button[type=submit]")
        page.wait_for_selector("#import-bar")
        page.wait_for_function("document.getElementById('import-bar').textContent === '100%'")
        assert page.inner_text("#import-imported") == "2"
        assert page.inner_text("#import-rejected") == "2"
        screenshot(page, f"privacy-import-done-{size}")
        with page.expect_download() as download:
            page.click("#import-report")
        report = open(download.value.path()).read()
        assert "no customer with this email" in report and "points cannot be negative" in report
    finally:
        page.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_staff_erase_a_customer_and_download_the_accounts(chromium, sandbox, screenshot, size):
    from oscar_loyalty import ledger

    lola = User.objects.get(email="lola@example.com")
    ledger.earn(ledger.get_account(lola), 25, key="earn:test:lola", reason="r")
    page = chromium.new_context(viewport=SIZES[size], accept_downloads=True).new_page()
    try:
        log_in(page, sandbox, "admin@example.com", "admin")
        page.goto(f"{sandbox}/dashboard/loyalty/customers/{lola.pk}/")
        screenshot(page, f"privacy-customer-actions-{size}")
        page.click("#customer-erase")
        page.wait_for_selector("#erase-form")
        page.fill("#id_confirm", "someone@example.com")
        page.click("#erase-form button[type=submit]")
        assert "not this customer" in page.inner_text("#erase-form")
        screenshot(page, f"privacy-erase-confirm-{size}")
        page.fill("#id_confirm", "lola@example.com")
        page.click("#erase-form button[type=submit]")
        page.wait_for_selector("#messages .alert")
        assert "erased" in page.inner_text("#messages")
        assert page.inner_text("#customer-balance") == "0"

        page.goto(f"{sandbox}/dashboard/loyalty/accounting/")
        page.select_option("#id_days", "30")
        page.select_option("#id_report", "ledger")
        screenshot(page, f"privacy-accounting-{size}")
        with page.expect_download() as download:
            page.click("#accounting-form button[type=submit]")
        ledger_csv = open(download.value.path()).read()
        assert ledger_csv.startswith("date,member_number,kind,points")
        assert "lola" not in ledger_csv
    finally:
        page.context.close()
