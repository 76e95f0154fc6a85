"""Schemathesis fuzzes every endpoint against the schema the API serves.

No answer may be a 5xx, every answer must match the schema (status code,
headers, body), and input the schema forbids must be refused. Not checked:
that every input the schema allows is accepted, since a schema cannot say
every rule (a purchase too small to earn a point, an adjustment of zero);
those refusals have their own tests. Bounded to stay well under a minute.
"""

from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from oscar_loyalty import ledger
from oscar_loyalty.models import Reward

MAX_EXAMPLES = int(__import__("os").environ.get("FUZZ_EXAMPLES", 15))


# The schema as the API serves it, through Django's WSGI handler (its view reads
# no database); every call of the fuzzer goes through the same handler.
schema = schemathesis.openapi.from_wsgi("/api/loyalty/schema/", get_wsgi_application())


@pytest.fixture
def shop(db, customer, staff, settings):
    """A customer with points, a reward to claim, and no throttling in the way."""
    settings.OSCAR_LOYALTY_API_THROTTLE_RATES = {
        "customer": "100000/minute",
        "staff": "100000/minute",
        "token": "100000/minute",
    }
    ledger.earn(ledger.get_account(customer), 1000, key="seed:fuzz", reason="Seed")
    Reward.objects.create(name="Mug", kind=Reward.Kind.DISCOUNT, cost=100, value=Decimal("5"))


@pytest.fixture
def in_test_transaction():
    """Requests keep the test's connection, as with Django's test client."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_endpoint_answers_as_its_schema_says(
    case, shop, in_test_transaction, customer, staff
):
    user = staff if case.operation.path.startswith("/api/loyalty/staff/") else customer
    token = Token.objects.get_or_create(user=user)[0]
    case.call_and_validate(
        headers={"Authorization": f"Token {token.key}"},
        excluded_checks=[positive_data_acceptance],
    )
