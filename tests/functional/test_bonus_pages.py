"""The merchant sets what each bonus action earns; the customer gives their birthday."""

import pytest

from oscar_loyalty.models import Birthday, BonusAction
from tests.helpers import messages

pytestmark = pytest.mark.django_db
BASE = "/dashboard/loyalty/bonus/"


def test_only_staff_see_the_bonus_pages(django_app, customer, staff):
    for url in (BASE, BASE + "review/"):
        django_app.reset()
        assert django_app.get(url).status_code == 302
        assert django_app.get(url, user=customer, expect_errors=True).status_code == 403
        assert django_app.get(url, user=staff).status_code == 200
    menu = django_app.get("/dashboard/", user=staff).html.select_one("#bottom_nav_bar")
    assert BASE in {a.get("href") for a in menu.select("a")}


def test_the_merchant_switches_on_a_review_bonus_with_caps(django_app, staff):
    page = django_app.get(BASE, user=staff)
    assert len(page.html.select("#bonus-action-list tbody tr")) == 4
    form = page.click(href=BASE + "review/").forms["bonus-action-form"]
    form["enabled"] = True
    form["points"] = "15"
    form["daily_cap"] = "2"
    form["lifetime_cap"] = "30"
    saved = form.submit().follow()
    assert "Bonus for Approved product review saved." in saved.html.select_one("#messages").text
    action = BonusAction.objects.get(action="review")
    assert (action.enabled, action.points, action.daily_cap, action.lifetime_cap) == (
        True,
        15,
        2,
        30,
    )


@pytest.mark.parametrize("points", ["-5", "abc", "10000000000", ""])
def test_bad_points_are_refused_and_nothing_saved(django_app, staff, points):
    form = django_app.get(BASE + "birthday/", user=staff).forms["bonus-action-form"]
    form["enabled"] = True
    form["points"] = points
    page = form.submit()
    assert page.status_code == 200
    assert page.html.select(".invalid-feedback, .error-block, .text-danger, .alert-danger")
    assert not BonusAction.objects.exists()


def test_an_unknown_action_is_not_found(django_app, staff):
    assert django_app.get(BASE + "nonsense/", user=staff, expect_errors=True).status_code == 404


def test_the_customer_gives_their_birthday_with_consent_and_can_remove_it(django_app, customer):
    BonusAction.objects.create(action="birthday", enabled=True, points=50)
    page = django_app.get("/accounts/rewards/", user=customer)
    assert "50 points on your birthday, every year." in page.text
    form = next(f for f in page.forms.values() if f.action.endswith("/birthday/"))
    form["day"] = "10"
    form["month"] = "5"
    form["consent"] = True
    page = form.submit().follow()
    assert messages(page) == ["Thank you: we will remember your birthday."]
    birthday = Birthday.objects.get(user=customer)
    assert (birthday.month, birthday.day) == (5, 10)
    assert "on 10/5 every year" in page.html.select_one("#rewards-birthday").text
    form = next(f for f in page.forms.values() if f.action.endswith("/birthday/"))
    page = form.submit("remove").follow()
    assert not Birthday.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"day": "31", "month": "4", "consent": "on"},
        {"day": "10", "month": "5"},
        {"day": "x", "month": "5", "consent": "on"},
        {"day": "10", "month": "13", "consent": "on"},
    ],
)
def test_a_bad_birthday_says_why_and_keeps_nothing(django_app, customer, data):
    BonusAction.objects.create(action="birthday", enabled=True, points=50)
    page = django_app.get("/accounts/rewards/", user=customer)
    token = page.forms[next(iter(page.forms))]["csrfmiddlewaretoken"].value
    response = django_app.post(
        "/accounts/rewards/birthday/", {**data, "csrfmiddlewaretoken": token}, user=customer
    ).follow()
    assert response.html.select("#messages .alert-danger")
    assert not Birthday.objects.exists()


def test_no_birthday_block_while_the_bonus_is_off(django_app, customer):
    page = django_app.get("/accounts/rewards/", user=customer)
    assert page.html.select_one("#rewards-birthday") is None
