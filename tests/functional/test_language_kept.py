"""A customer who signs up or in in Spanish stays in Spanish (allauth's redirects keep /es/)."""

import pytest
from django.core.cache import cache
from django.test import RequestFactory, override_settings
from django.utils import translation

from oscar_loyalty.accounts import in_language
from oscar_loyalty.models import MarketingConsent

pytestmark = pytest.mark.django_db
PASSWORD = "a-Long-passw0rd!"


@pytest.fixture(autouse=True)
def fresh_cache():
    """allauth's own sign-up limits count in the cache too."""
    cache.clear()


def signup(app, prefix, email):
    page = app.get(f"{prefix}/auth/signup/")
    form = next(f for f in page.forms.values() if "signup" in (f.action or ""))
    form["email"] = email
    form["password1"] = form["password2"] = PASSWORD
    form["marketing_consent"] = True
    return form.submit()


def login(app, prefix, email):
    page = app.get(f"{prefix}/auth/login/")
    form = next(f for f in page.forms.values() if "login" in (f.action or ""))
    form["login"] = email
    form["password"] = PASSWORD
    return form.submit()


def test_a_spanish_sign_up_lands_on_a_spanish_page(django_app):
    response = signup(django_app, "/es", "nueva@example.com")
    assert response.status_code == 302
    assert response.location.startswith("/es/"), response.location
    page = response.maybe_follow()
    assert page.request.path.startswith("/es/")
    assert page.html.html["lang"] == "es"
    consent = MarketingConsent.objects.get(user__email="nueva@example.com")
    assert consent.language == "es"  # the emails speak Spanish too


def test_a_spanish_login_and_logout_stay_in_spanish(django_app, django_user_model):
    django_user_model.objects.create_user("luz", "luz@example.com", PASSWORD)
    response = login(django_app, "/es", "luz@example.com")
    assert response.location.startswith("/es/"), response.location
    assert response.maybe_follow().html.html["lang"] == "es"
    page = django_app.get("/es/auth/logout/")
    response = page.forms[next(k for k, f in page.forms.items() if "logout" in f.action)].submit()
    assert response.location == "/es/"


def test_an_english_sign_up_stays_in_english(django_app):
    response = signup(django_app, "", "new@example.com")
    assert not response.location.startswith("/es/")
    assert response.maybe_follow().html.html["lang"] == "en"


def test_a_next_page_given_is_kept(django_app, django_user_model):
    django_user_model.objects.create_user("luz", "luz@example.com", PASSWORD)
    page = django_app.get("/es/auth/login/?next=/es/accounts/rewards/")
    form = next(f for f in page.forms.values() if "login" in (f.action or ""))
    form["login"] = "luz@example.com"
    form["password"] = PASSWORD
    assert form.submit().location == "/es/accounts/rewards/"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/accounts/", "/es/accounts/"),
        ("/accounts/?a=1", "/es/accounts/?a=1"),
        ("/", "/es/"),
        ("https://elsewhere.example/", "https://elsewhere.example/"),
        ("//elsewhere.example/", "//elsewhere.example/"),
        ("/no/such/page/", "/no/such/page/"),
        ("", ""),
    ],
)
def test_only_our_own_paths_change_language(url, expected):
    request = RequestFactory().get("/es/")
    request.LANGUAGE_CODE = "es"
    with translation.override("en"):
        assert in_language(request, url) == expected


@override_settings(ACCOUNT_ADAPTER="allauth.account.adapter.DefaultAccountAdapter")
def test_without_the_adapter_a_spanish_sign_up_falls_back_to_english(django_app):
    """What the adapter fixes: allauth's default sends the customer to an English page."""
    response = signup(django_app, "/es", "sin@example.com")
    assert not response.location.startswith("/es/")
