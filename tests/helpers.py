"""Helpers shared by the test modules (fixtures live in ``conftest.py``)."""

import re
import threading
from datetime import UTC, datetime
from decimal import Decimal

import time_machine
from django.apps import apps
from django.db import connection, models
from oscar.apps.offer.applicator import Applicator
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_model
from oscar.test.factories import create_product, create_stockrecord

from oscar_loyalty import ledger

# The day the tests' stories start, when the date itself does not matter.
DAY0 = datetime(2026, 1, 15, 9, tzinfo=UTC)


def at(when, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with the clock frozen at ``when``."""
    with time_machine.travel(when, tick=False):
        return fn(*args, **kwargs)


def balance(user):
    """The user's balance, checked against the sum of the entries (rule 1)."""
    account = ledger.get_account(user)
    assert account.balance == ledger.balance_from_entries(account)
    return account.balance


def basket_for(user, *prices):
    """A basket of ``user``'s holding one new product at each price, offers applied."""
    basket = get_model("basket", "Basket").objects.create(owner=user)
    basket.strategy = Default()
    for price in prices:
        product = create_product(title=f"Item {price}")
        create_stockrecord(product, price=Decimal(price), num_in_stock=100)
        basket.add_product(product)
    Applicator().apply(basket, user)
    return basket


def text(node):
    """A page node's text with its whitespace collapsed."""
    return re.sub(r"\s+", " ", node.text).strip()


def messages(page):
    """The texts of the Django messages shown on a WebTest page."""
    return [text(m).lstrip("×").strip() for m in page.html.select("#messages .alert")]


def run_together(n, work):
    """Start ``work(i)`` in ``n`` threads at the same moment; return results/errors."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def target(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # collected, asserted by the caller
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def personal_rows(*needles):
    """Every row of every loyalty table with one of ``needles`` in a text or JSON column."""
    found = []
    for model in apps.get_app_config("oscar_loyalty").get_models():
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.CharField | models.TextField | models.JSONField):
                continue
            for needle in needles:
                rows = model.objects.filter(**{f"{field.name}__icontains": needle})
                found += [
                    (model.__name__, field.name, pk) for pk in rows.values_list("pk", flat=True)
                ]
    return found
