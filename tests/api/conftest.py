import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from oscar_loyalty import ledger


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Throttle counts live in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


def client_for(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def api(customer):
    """The customer's app, with their token."""
    return client_for(customer)


@pytest.fixture
def till(staff):
    """The shop's till, with a staff member's token."""
    return client_for(staff)


@pytest.fixture
def other(django_user_model):
    return django_user_model.objects.create_user(
        username="beto", email="beto@example.com", password="x"
    )


@pytest.fixture
def rich(customer):
    """The customer with 500 points."""
    ledger.earn(ledger.get_account(customer), 500, key="seed:rich", reason="Seed")
    return customer


def entries():
    from oscar_loyalty.models import LedgerEntry

    return list(LedgerEntry.objects.order_by("pk").values_list("idempotency_key", "points"))
