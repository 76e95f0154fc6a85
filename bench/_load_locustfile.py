"""The customers ``bench/load.py`` sends to the store: Locust users, one signed-in customer each.

Run by ``load.py`` as ``locust --headless -f bench/_load_locustfile.py ...``; it
passes, in the environment:

* ``LOAD_CUSTOMERS``: the emails of the customers this run logs in as
  (comma-separated; one per user, each with a default shipping address and
  points, seeded by load.py), password ``LOAD_PASSWORD``;
* ``LOAD_PRODUCTS``: product page paths; ``LOAD_COUPON``: a coupon code;
* ``LOAD_POINTS``: points to use per order;
* ``LOAD_SAMPLES``: where to write every request's step, time and outcome (JSON).

Each user loops over one journey, the steps a customer takes, with a short
pause between them: product page, add to basket, basket page, apply a coupon,
use points, the checkout pages, place an order, the thank-you page, the account
page and the Rewards page. A customer does only what the pages offer: the
coupon is posted wherever the basket page's coupon form says (the plugin's
coupon view, or Oscar's own with the hooks off), and points are used, and the
Rewards page visited, only when the basket page has the form and the account
page the tab. Every response is checked (status, redirect target, a piece of
the page); anything else is a failure, which load.py counts as an error.
"""

import json
import os
import random
import re

import gevent
from locust import HttpUser, events, task

CUSTOMERS = os.environ.get("LOAD_CUSTOMERS", "").split(",")
PASSWORD = os.environ.get("LOAD_PASSWORD", "")
PRODUCTS = os.environ.get("LOAD_PRODUCTS", "").split(",")
COUPON = os.environ.get("LOAD_COUPON", "")
POINTS = os.environ.get("LOAD_POINTS", "10")
SAMPLES_PATH = os.environ.get("LOAD_SAMPLES", "")
# Seconds between two steps, as a customer reads the page. Long enough that the store is
# not saturated on a quiet machine: each step's time is its own, not a queue's.
THINK = (0.3, 1.0)

SAMPLES: list[tuple[str, float, bool]] = []
_next_customer = iter(CUSTOMERS)

VOUCHER_FORM = re.compile(r'<form[^>]*id="voucher_form"[^>]*action="([^"]+)"')
ADDRESS_ID = re.compile(r'name="address_id" value="(\d+)"')
ORDER_NUMBER = re.compile(r"/checkout/thank-you/")


@events.request.add_listener
def record(request_type, name, response_time, response_length, exception=None, **kwargs):
    SAMPLES.append((name, response_time, exception is None))


@events.quitting.add_listener
def save(environment, **kwargs):
    if SAMPLES_PATH:
        with open(SAMPLES_PATH, "w") as out:
            json.dump(SAMPLES, out)


class Customer(HttpUser):
    # The journey is one task: the pause between two journeys is the last step's.
    wait_time = staticmethod(lambda: 0)

    def on_start(self):
        self.email = next(_next_customer)
        self.client.get("/auth/login/", name="login")
        with self.client.post(
            "/auth/login/",
            {"login": self.email, "password": PASSWORD, "csrfmiddlewaretoken": self.csrf()},
            name="login",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            expect_redirect(response)

    def csrf(self) -> str:
        return self.client.cookies.get("csrftoken", "")

    def think(self):
        gevent.sleep(random.uniform(*THINK))

    def post(self, url, data, name, location=None):
        """A form post, as a browser sends it; its redirect is checked, not followed."""
        with self.client.post(
            url,
            {**data, "csrfmiddlewaretoken": self.csrf()},
            name=name,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            expect_redirect(response, location)
            return response

    def page(self, url, name, needle=None):
        with self.client.get(url, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
            elif needle and needle not in response.text:
                response.failure(f"{needle!r} not on the page ({response.url})")
            return response

    @task
    def journey(self):
        product = random.choice(PRODUCTS)
        page = self.page(product, "product page", 'id="add_to_basket_form"')
        add_url = re.search(r'id="add_to_basket_form"[^>]*action="([^"]+)"', page.text)
        self.think()
        if add_url is None:
            return
        self.post(add_url.group(1), {"quantity": "1"}, "add to basket")
        self.think()

        basket = self.page("/basket/", "basket page", 'id="voucher_form"')
        form = VOUCHER_FORM.search(basket.text)
        self.think()
        if form:
            self.post(form.group(1), {"code": COUPON}, "apply a coupon", "/basket/")
            self.think()
        if 'id="use-points-form"' in basket.text:
            self.post("/basket/points/", {"points": POINTS}, "use points", "/basket/")
            self.think()

        address = self.page("/checkout/shipping-address/", "checkout: address", "address_id")
        found = ADDRESS_ID.search(address.text)
        self.think()
        if found is None:
            return
        with self.client.post(
            "/checkout/shipping-address/",
            {"action": "ship_to", "address_id": found.group(1), "csrfmiddlewaretoken": self.csrf()},
            name="checkout: ship to (to payment)",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or "/checkout/payment-details/" not in response.url:
                response.failure(f"status {response.status_code} at {response.url}")
        self.think()
        self.page("/checkout/preview/", "checkout: preview", 'id="place_order_form"')
        self.think()
        placed = self.post(
            "/checkout/preview/",
            {"action": "place_order"},
            "place an order",
            "/checkout/thank-you/",
        )
        self.think()
        if placed.status_code == 302:
            self.page("/checkout/thank-you/", "thank-you page", "order")
            self.think()

        account = self.page("/accounts/profile/", "account page", "Profile")
        self.think()
        if 'href="/accounts/rewards/"' in account.text:
            self.page("/accounts/rewards/", "Rewards page", 'id="rewards-history"')
            self.think()


def expect_redirect(response, location=None):
    if response.status_code != 302:
        response.failure(f"status {response.status_code}, not a redirect")
    elif location and location not in response.headers.get("Location", ""):
        response.failure(f"redirected to {response.headers.get('Location')}, not {location}")
    else:
        response.success()
