"""Every setting of the plugin, with its default, in one place.

Read settings through ``loyalty_settings.NAME``: the value comes from the
project's ``OSCAR_LOYALTY_NAME`` if set, else from ``DEFAULTS`` below. Values are
read at each access, so ``override_settings`` in tests just works. Each setting
is documented in ``docs/settings.rst`` (a test keeps the two in step).
"""

from decimal import Decimal

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

PREFIX = "OSCAR_LOYALTY_"

DEFAULTS = {
    # Points earned per unit of currency paid: Decimal("0.1") is 1 point per 10.
    "POINTS_PER_UNIT": Decimal("0.1"),
    # Rates for other currencies than OSCAR_DEFAULT_CURRENCY: {"EUR": Decimal("0.1")}.
    # Orders in a currency with no rate earn nothing.
    "POINTS_PER_UNIT_BY_CURRENCY": {},
    # Whether points are earned on prices including tax.
    "EARN_ON_TAX": True,
    # The class that decides what an order is worth (see earning.EarningRule).
    "EARNING_RULE": "oscar_loyalty.earning.EarningRule",
    # What one point is worth, in the shop's default currency, when spent.
    "POINT_VALUE": Decimal("1.00"),
    # What one point is worth in other currencies: {"EUR": Decimal("0.90")}.
    # Points cannot be spent on a basket in a currency with no value here.
    "POINT_VALUE_BY_CURRENCY": {},
    # Days after an order is placed before its points become spendable.
    "RETURN_WINDOW_DAYS": 30,
    # "lifetime": each earned lot expires EXPIRY_MONTHS after it was earned;
    # "inactivity": the whole balance expires after EXPIRY_MONTHS without activity;
    # "never": points do not expire.
    "EXPIRY_POLICY": "lifetime",
    "EXPIRY_MONTHS": 12,
    # Order statuses that cancel an order: its award is voided (or taken back).
    "CANCELLED_ORDER_STATUSES": ("Cancelled",),
    # Line statuses meaning the line came back or was refunded in full.
    "REFUNDED_LINE_STATUSES": ("Refunded", "Returned", "Cancelled"),
    # Payment event types (name or code) recording a refund of line quantities.
    "REFUND_EVENT_TYPES": ("Refunded", "Refund"),
    # How many awards (or lots) the periodic tasks post per transaction.
    "TASK_CHUNK_SIZE": 1000,
    # How long (seconds) the checkout waits for the Celery broker when queueing
    # an order's task; an order that could not be queued is left to the
    # reconcile job, which records any order with no award after
    # RECONCILE_AFTER_MINUTES, looking back RECONCILE_DAYS at most.
    "QUEUE_TIMEOUT": 1.0,
    "RECONCILE_AFTER_MINUTES": 30,
    "RECONCILE_DAYS": 7,
    # Where a product's brand comes from: the code of a product attribute, or,
    # if BRAND_CATEGORY is set, the name of that category's child the product
    # is in (e.g. "Brands" > "Andes").
    "BRAND_ATTRIBUTE": "brand",
    "BRAND_CATEGORY": None,
    # Wrong coupon codes allowed per visitor (a signed-in customer, or an
    # anonymous basket and session) within the window (seconds); after that,
    # codes are refused until the window passes.
    "COUPON_MAX_FAILURES": 10,
    "COUPON_FAILURE_WINDOW": 15 * 60,
    # Wrong codes allowed per client address (IPv6: per /64 network) within the
    # window, whoever sends them. Signed-in customers who have ordered before
    # are not held to it, so strangers on a shared address cannot lock them out.
    "COUPON_MAX_FAILURES_PER_ADDRESS": 100,
    # The request.META key of the header in which your proxy puts the client's
    # address (e.g. "HTTP_X_FORWARDED_FOR"; its last address counts). None:
    # the connection's own address (REMOTE_ADDR). Set it only behind a proxy
    # that sets the header, or anyone can pretend to be anyone.
    "CLIENT_IP_HEADER": None,
    # Spending points at checkout: the fewest points per use, the largest share
    # of the basket's products that points may pay, and how long a points
    # voucher left unused stays in the basket before the points come back.
    "MIN_POINTS_PER_USE": 10,
    "MAX_BASKET_SHARE": Decimal("0.5"),
    "REDEMPTION_LIFETIME_HOURS": 72,
    # Points for joining (0: none), given at once.
    "WELCOME_BONUS_POINTS": 0,
    # Refer a friend: how long a link visit is remembered, what the referrer
    # earns once the friend's first order (of at least REFERRAL_MIN_ORDER) is
    # past its return window, how many rewarded referrals a month at most, and
    # the friend's welcome coupon (kind "percentage" or "fixed", value, days).
    # By default a referral pays 5 points (5.00) for a first order of 50.00 or
    # more: a tenth, what the shop gives back on any order. A reward worth more
    # than the minimum order is warned about at start-up.
    "REFERRAL_COOKIE_DAYS": 30,
    "REFERRAL_POINTS": 5,
    "REFERRAL_MIN_ORDER": Decimal("50.00"),
    "REFERRAL_MONTHLY_CAP": 10,
    "REFERRAL_WELCOME_COUPON": {"kind": "percentage", "value": Decimal("10"), "days": 30},
    # The class whose methods decide whether a referral counts.
    "REFERRAL_RULES": "oscar_loyalty.referrals.ReferralRules",
    # The REST API (oscar_loyalty.api): requests allowed per customer, per staff
    # member and per client address asking for a token ("N/second|minute|hour|day").
    "API_THROTTLE_RATES": {"customer": "120/minute", "staff": "600/minute", "token": "10/minute"},
    # Minutes a card code shown by the customer's app at the till stays valid.
    "CARD_CODE_MINUTES": 10,
    # Emails to customers. Each can be switched off ("send": False), and each
    # is either marketing (sent only to customers who consented, with a
    # one-click unsubscribe) or about points the customer has (sent to all).
    # Give only what changes: {"statement": {"send": False}}.
    "EMAILS": {
        "statement": {"send": True, "marketing": True},
        "points_available": {"send": True, "marketing": False},
        "points_expiring": {"send": True, "marketing": False},
        "points_last_chance": {"send": True, "marketing": False},
        "referral_rewarded": {"send": True, "marketing": False},
        "winback": {"send": True, "marketing": True},
    },
    # Expiry reminders go this many days before points expire, and once more
    # (the last chance) this many days before. Only points that really expire.
    "EXPIRY_REMINDER_DAYS": 30,
    "EXPIRY_LAST_CHANCE_DAYS": 3,
    # The monthly statements are queued in batches spread out so that at most
    # this many are sent a minute (what the shop's mail provider allows).
    "EMAILS_PER_MINUTE": 600,
    # The most points one row of an import file may bring (larger rows are refused).
    "IMPORT_MAX_POINTS": 1_000_000,
    # How many customers' tiers the recompute reads and writes per chunk.
    "TIER_CHUNK_SIZE": 5000,
    # What the shop calls its points, singular and plural ("estrella", "estrellas").
    "POINTS_NAME": (_("point"), _("points")),
    # False switches off every hook into Oscar's pages and events (receivers,
    # middleware, template blocks), to measure what the plugin costs a store
    # against the same store without it (bench/load.py). Not for a live shop.
    "HOOKS": True,
}

EXPIRY_POLICIES = ("lifetime", "inactivity", "never")

# The rules a store may replace by subclassing ours and naming the subclass in
# the setting (as allauth's adapters): each is loaded by ``get_rule`` only, and
# loading it is a system check, so a wrong path fails at start-up.
RULES = ("EARNING_RULE", "REFERRAL_RULES")


class LoyaltySettings:
    def __getattr__(self, name):
        if name not in DEFAULTS:
            raise AttributeError(f"oscar_loyalty has no setting {name!r}")
        return getattr(settings, PREFIX + name, DEFAULTS[name])


loyalty_settings = LoyaltySettings()


def get_rule(name: str):
    """A new instance of the class the rule setting ``name`` (one of ``RULES``) names."""
    if name not in RULES:
        raise ValueError(f"{name!r} is not one of {RULES}")
    return import_string(getattr(loyalty_settings, name))()
