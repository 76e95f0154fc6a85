"""Every curl example of docs/api.rst works, and every endpoint has one."""

import re
import shlex
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from oscar_loyalty import ledger, redemption, till
from oscar_loyalty.models import Reward

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.rst"
SHOP = "https://shop.example.com"

pytestmark = pytest.mark.django_db


def curl_examples():
    """Each ``curl`` command of the page, continuation lines joined."""
    commands, current = [], None
    for line in DOCS.read_text().splitlines():
        text = line.strip()
        if text.startswith("curl "):
            current = text
        elif current is not None:
            current += " " + text
        else:
            continue
        if current.endswith("\\"):
            current = current[:-1].rstrip()
        else:
            commands.append(current)
            current = None
    return commands


def parse(command):
    """(method, path, headers, body) of a curl command."""
    words = shlex.split(command)[1:]
    method, headers, body, url = "GET", {}, None, None
    while words:
        word = words.pop(0)
        if word == "-X":
            method = words.pop(0)
        elif word == "-H":
            name, _, value = words.pop(0).partition(": ")
            headers[name] = value
        elif word == "-d":
            body = words.pop(0)
        else:
            url = word
    return method, url, headers, body


@pytest.fixture
def values(customer, staff):
    customer.set_password("s3cret-pass")
    customer.save()
    ledger.earn(ledger.get_account(customer), 500, key="seed:docs", reason="Seed")
    reward = Reward.objects.create(name="Free shipping", kind=Reward.Kind.FREE_SHIPPING, cost=100)
    claim = redemption.claim_reward(customer, reward.pk)
    old = Token.objects.create(user=staff)
    return {
        "SHOP": SHOP,
        "TOKEN": Token.objects.create(user=customer).key,
        "STAFF_TOKEN": old.key,
        "OLD_TOKEN": old.key,
        "REWARD_ID": str(reward.pk),
        "CLAIM_ID": str(claim.pk),
        "CUSTOMER_ID": str(customer.pk),
        "CARD": till.card_code(customer)[0],
    }


def expand(text, values):
    return re.sub(r"\$([A-Z_]+)", lambda m: values[m.group(1)], text)


def test_the_page_has_examples():
    assert len(curl_examples()) >= 20


def test_every_curl_example_works(values):
    # The token's revocation goes last: the staff examples use the same token.
    examples = sorted(curl_examples(), key=lambda c: "-X DELETE" in c)
    for command in examples:
        method, url, headers, body = parse(expand(command, values))
        assert url.startswith(SHOP), command
        response = APIClient().generic(
            method,
            url[len(SHOP) :],
            body or "",
            content_type=headers.pop("Content-Type", "application/octet-stream"),
            headers=headers,
        )
        assert 200 <= response.status_code < 300, (command, response.content)


def test_every_endpoint_of_the_schema_has_an_example(values):
    schema = Client().get("/api/loyalty/schema/", HTTP_ACCEPT="application/json").json()
    operations = {
        (method.upper(), re.sub(r"\{\w+\}", "{}", path))
        for path, item in schema["paths"].items()
        for method in item
    }
    shown = set()
    for command in curl_examples():
        method, url, _headers, _body = parse(command)
        path = url.replace("$SHOP", "").split("?")[0]
        shown.add((method, re.sub(r"\$[A-Z_]+", "{}", path)))
    assert operations - shown == set()


def test_the_schema_is_served_and_rendered():
    client = Client()
    yaml = client.get("/api/loyalty/schema/")
    assert yaml.status_code == 200
    assert yaml.content.startswith(b"openapi: 3.")
    schema = client.get("/api/loyalty/schema/", HTTP_ACCEPT="application/json").json()
    assert all(path.startswith("/api/loyalty/") for path in schema["paths"])
    assert "/api/loyalty/schema/" not in schema["paths"]
    page = client.get("/api/loyalty/docs/")
    assert page.status_code == 200
    assert b"/api/loyalty/schema/" in page.content
