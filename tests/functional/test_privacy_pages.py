"""Customers' data in the shop and the dashboard: downloads, erasing, imports, the
accountant's export; only the customer themselves or staff."""

import csv
import io
import json
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from webtest import Upload

from oscar_loyalty import ledger
from oscar_loyalty.models import (
    Account,
    DataRequest,
    ImportRun,
    LedgerEntry,
    MarketingConsent,
)
from tests.helpers import messages

pytestmark = pytest.mark.django_db
BASE = "/dashboard/loyalty/"


@pytest.fixture
def other(django_user_model):
    user = django_user_model.objects.create_user(
        username="bea", email="bea@example.com", password="x"
    )
    ledger.earn(ledger.get_account(user), 77, key="earn:test:bea", reason="Bea's order")
    return user


def test_a_customer_downloads_their_own_data_from_the_rewards_page(django_app, customer, other):
    ledger.earn(ledger.get_account(customer), 12, key="earn:test:ana", reason="r")
    page = django_app.get(reverse("oscar_loyalty:rewards"), user=customer)
    link = page.html.select_one("#data-export")
    response = django_app.get(link["href"], user=customer)
    assert response.content_type == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.body)
    assert data["customer"]["email"] == "ana@example.com"
    assert [e["points"] for e in data["ledger"]] == [12]
    # another customer's id in the address changes nothing: the page takes none
    forged = django_app.get(link["href"] + f"?user={other.pk}&pk={other.pk}", user=customer)
    assert json.loads(forged.body)["customer"]["email"] == "ana@example.com"
    assert DataRequest.objects.filter(requested_by=customer, by_staff=False).count() == 2


def test_a_visitor_must_sign_in_to_download(django_app):
    response = django_app.get(reverse("oscar_loyalty:data-export"))
    assert response.status_code == 302 and "login" in response.location


def test_staff_export_and_erase_from_the_customer_page(django_app, staff, customer):
    account = ledger.get_account(customer)
    ledger.earn(account, 40, key="earn:test:1", reason="r")
    from oscar_loyalty.consent import set_marketing_consent

    set_marketing_consent(customer, True, MarketingConsent.Source.SIGNUP)
    page = django_app.get(f"{BASE}customers/{customer.pk}/", user=staff)
    exported = django_app.get(page.html.select_one("#customer-export")["href"], user=staff)
    assert json.loads(exported.body)["account"]["balance"] == 40
    assert DataRequest.objects.get().by_staff

    confirm = django_app.get(page.html.select_one("#customer-erase")["href"], user=staff)
    form = confirm.forms["erase-form"]
    form["confirm"] = "someone@example.com"
    refused = form.submit(user=staff)
    assert "not this customer" in refused.text
    assert Account.objects.get(pk=account.pk).user == customer  # nothing erased

    form = refused.forms["erase-form"]
    form["confirm"] = " ANA@example.com "
    done = form.submit(user=staff).follow(user=staff)
    assert "erased" in " ".join(messages(done))
    erased = Account.objects.get(pk=account.pk)
    assert erased.user is None and erased.balance == 0
    assert not MarketingConsent.objects.filter(user=customer).exists()
    assert DataRequest.objects.filter(action="erase", requested_by=staff).count() == 1


def test_only_staff_reach_the_data_pages(django_app, customer, staff, other):
    gets = [
        f"customers/{other.pk}/export/",
        f"customers/{other.pk}/erase/",
        "imports/",
        "accounting/",
        "accounting/?days=30&report=ledger",
    ]
    run = ImportRun.objects.create(name="x.csv")
    gets += [f"imports/{run.pk}/", f"imports/{run.pk}/progress/", f"imports/{run.pk}/rejected/"]
    for url in gets:
        django_app.reset()
        assert django_app.get(BASE + url).status_code == 302, url
        assert django_app.get(BASE + url, user=customer, expect_errors=True).status_code == 403
        assert django_app.get(BASE + url, user=staff).status_code == 200, url
    django_app.reset()
    erase = django_app.post(
        BASE + f"customers/{other.pk}/erase/",
        {"confirm": "bea@example.com"},
        user=customer,
        expect_errors=True,
    )
    assert erase.status_code == 403
    assert Account.objects.get(user=other).balance == 77
    assert not DataRequest.objects.filter(action="erase").exists()


def test_staff_upload_an_import_and_watch_it_finish(
    django_app, staff, customer, django_capture_on_commit_callbacks
):
    page = django_app.get(BASE + "imports/", user=staff)
    form = page.forms["import-form"]
    form["file"] = Upload(
        "from-woo.csv", b"email,points,marketing\nana@example.com,90,yes\nnobody@example.com,5,\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        submitted = form.submit(user=staff)  # the task is queued on commit, and runs eagerly
    detail = submitted.follow(user=staff)
    run = ImportRun.objects.get()
    assert run.uploaded_by == staff and run.status == ImportRun.Status.DONE
    assert not run.file  # the file, full of emails, is gone once imported
    progress = django_app.get(
        detail.html.select_one("#import-run")["data-progress-url"], user=staff
    ).json
    assert progress["percent"] == 100 and progress["finished"]
    assert (progress["imported"], progress["rejected"], progress["points"]) == (1, 1, 90)
    report = django_app.get(detail.html.select_one("#import-report")["href"], user=staff)
    rows = list(csv.reader(io.StringIO(report.text)))
    assert rows[0] == ["line", "reason", "email", "points", "marketing"]
    assert rows[1][:3] == ["3", "no customer with this email", "nobody@example.com"]
    assert ledger.get_account(customer).balance == 90
    listing = django_app.get(BASE + "imports/", user=staff)
    assert "from-woo.csv" in listing.html.select_one("#import-runs").text


@pytest.mark.parametrize(
    "content, error",
    [
        (b"PK\x03\x04xlsx...", "spreadsheet, not CSV"),
        (b"", "empty"),
    ],
)
def test_a_file_that_is_not_csv_is_refused_at_upload(django_app, staff, content, error):
    page = django_app.get(BASE + "imports/", user=staff)
    form = page.forms["import-form"]
    form["file"] = Upload("points.xlsx", content)
    response = form.submit(user=staff)
    assert error in response.text
    assert not ImportRun.objects.exists()


def test_a_run_already_done_is_not_imported_again(customer, staff):
    from oscar_loyalty import importing

    run = ImportRun.objects.create(name="a.csv", status=ImportRun.Status.DONE)
    run.file.save("a.csv", SimpleUploadedFile("a.csv", b"email,points\nana@example.com,5\n"))
    assert importing.import_upload(run.pk) is None
    assert not LedgerEntry.objects.exists()
    run.file.delete(save=False)


@override_settings(OSCAR_LOYALTY_POINT_VALUE_BY_CURRENCY={"EUR": D("0.90")})
def test_the_accountants_export_in_the_dashboard(django_app, staff, customer):
    ledger.earn(ledger.get_account(customer), 150, key="earn:test:1", reason="=cmd()")
    page = django_app.get(BASE + "accounting/", user=staff)
    form = page.forms["accounting-form"]
    form["days"] = "30"
    form["report"] = "balances"
    response = form.submit(user=staff)
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["member_number", "balance", "liability_USD", "liability_EUR"]
    assert rows[1][1:] == ["150", "150.00", "135.00"]
    assert rows[-1] == ["total", "150", "150.00", "135.00"]
    ledger_csv = django_app.get(BASE + "accounting/?days=30&report=ledger", user=staff)
    rows = list(csv.reader(io.StringIO(ledger_csv.text)))
    assert rows[1][5] == "'=cmd()"  # a formula stays text in the spreadsheet
    bad = django_app.get(BASE + "accounting/?start=2026-02-01&end=2026-01-01&report=x", user=staff)
    assert bad.content_type == "text/html" and "alert-danger" in bad.text
