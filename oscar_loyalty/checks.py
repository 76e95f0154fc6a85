"""System checks: refuse bad loyalty settings, and a broken install, at start-up."""

import re
from decimal import Decimal
from pathlib import Path

from celery import current_app
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.checks import Error, Tags, Warning, register
from django.db import connections
from django.template import TemplateDoesNotExist, engines
from django.template.backends.django import DjangoTemplates
from django.template.loader_tags import ExtendsNode
from django.urls import NoReverseMatch, reverse

from .conf import DEFAULTS, EXPIRY_POLICIES, PREFIX, RULES, get_rule, loyalty_settings
from .schedule import BEAT_SCHEDULE

API_THROTTLE_SCOPES = ("customer", "staff", "token")
# What Django REST framework's throttles read: requests per second, minute, hour or day.
THROTTLE_RATE = re.compile(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)")


def _error(name, message, n):
    return Error(f"{PREFIX}{name}: {message}", id=f"oscar_loyalty.E{n:03d}")


@register()
def check_settings(app_configs=None, **kwargs):
    errors = []
    s = loyalty_settings
    for n, name in enumerate(("POINTS_PER_UNIT", "POINT_VALUE"), start=1):
        value = getattr(s, name)
        if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
            errors.append(_error(name, f"must be a positive Decimal, got {value!r}.", n))
    for n, name in enumerate(("RETURN_WINDOW_DAYS", "EXPIRY_MONTHS"), start=3):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(_error(name, f"must be a whole number of at least 1, got {value!r}.", n))
    if s.EXPIRY_POLICY not in EXPIRY_POLICIES:
        errors.append(
            _error(
                "EXPIRY_POLICY", f"must be one of {EXPIRY_POLICIES}, got {s.EXPIRY_POLICY!r}.", 5
            )
        )
    rates = s.POINTS_PER_UNIT_BY_CURRENCY
    if not isinstance(rates, dict) or not all(
        isinstance(v, Decimal) and v.is_finite() and v >= 0 for v in rates.values()
    ):
        errors.append(
            _error(
                "POINTS_PER_UNIT_BY_CURRENCY",
                f"must map currency codes to Decimal rates of 0 or more, got {rates!r}.",
                7,
            )
        )
    chunk = s.TASK_CHUNK_SIZE
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= 100_000:
        errors.append(
            _error("TASK_CHUNK_SIZE", f"must be a whole number from 1 to 100000, got {chunk!r}.", 8)
        )
    for n, name in enumerate(
        ("CANCELLED_ORDER_STATUSES", "REFUNDED_LINE_STATUSES", "REFUND_EVENT_TYPES"), start=9
    ):
        value = getattr(s, name)
        if not isinstance(value, tuple | list) or not all(isinstance(v, str) for v in value):
            errors.append(_error(name, f"must be a list of names, got {value!r}.", n))
    for rule, n in zip(RULES, (12, 19), strict=True):
        try:
            get_rule(rule)
        except Exception as exc:
            errors.append(_error(rule, f"cannot be loaded: {exc}", n))
    for n, name in enumerate(("COUPON_MAX_FAILURES", "COUPON_FAILURE_WINDOW"), start=13):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(_error(name, f"must be a whole number of at least 1, got {value!r}.", n))
    if not s.BRAND_CATEGORY and not s.BRAND_ATTRIBUTE:
        errors.append(_error("BRAND_ATTRIBUTE", "or BRAND_CATEGORY must be set.", 15))
    value = s.MIN_POINTS_PER_USE
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        errors.append(_error("MIN_POINTS_PER_USE", f"must be at least 1, got {value!r}.", 16))
    share = s.MAX_BASKET_SHARE
    if not isinstance(share, Decimal) or not share.is_finite() or not 0 < share <= 1:
        errors.append(
            _error("MAX_BASKET_SHARE", f"must be a Decimal above 0, at most 1, got {share!r}.", 17)
        )
    hours = s.REDEMPTION_LIFETIME_HOURS
    if isinstance(hours, bool) or not isinstance(hours, int) or hours < 1:
        errors.append(
            _error("REDEMPTION_LIFETIME_HOURS", f"must be at least 1, got {hours!r}.", 18)
        )
    minutes = s.CARD_CODE_MINUTES
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 1440:
        errors.append(
            _error(
                "CARD_CODE_MINUTES", f"must be a whole number from 1 to 1440, got {minutes!r}.", 40
            )
        )
    rates = s.API_THROTTLE_RATES
    if not (
        isinstance(rates, dict)
        and set(rates) == set(API_THROTTLE_SCOPES)
        and all(isinstance(r, str) and THROTTLE_RATE.fullmatch(r) for r in rates.values())
    ):
        errors.append(
            _error(
                "API_THROTTLE_RATES",
                f"must give a rate such as '120/minute' for each of {API_THROTTLE_SCOPES}, "
                f"got {rates!r}.",
                41,
            )
        )
    for n, name in enumerate(("RECONCILE_AFTER_MINUTES", "RECONCILE_DAYS"), start=20):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(_error(name, f"must be a whole number of at least 1, got {value!r}.", n))
    timeout = s.QUEUE_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 30:
        errors.append(
            _error(
                "QUEUE_TIMEOUT",
                f"must be a number of seconds above 0, at most 30, got {timeout!r}.",
                22,
            )
        )
    emails = s.EMAILS
    if not isinstance(emails, dict) or not all(
        name in DEFAULTS["EMAILS"]
        and isinstance(switch, dict)
        and set(switch) <= {"send", "marketing"}
        and all(isinstance(v, bool) for v in switch.values())
        for name, switch in emails.items()
    ):
        errors.append(
            _error(
                "EMAILS",
                f"must map some of {sorted(DEFAULTS['EMAILS'])} to "
                f'{{"send": bool, "marketing": bool}}, got {emails!r}.',
                171,
            )
        )
    for n, name in enumerate(
        ("EXPIRY_REMINDER_DAYS", "EXPIRY_LAST_CHANCE_DAYS", "EMAILS_PER_MINUTE"), start=172
    ):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(_error(name, f"must be a whole number of at least 1, got {value!r}.", n))
    if (
        isinstance(s.EXPIRY_REMINDER_DAYS, int)
        and isinstance(s.EXPIRY_LAST_CHANCE_DAYS, int)
        and s.EXPIRY_LAST_CHANCE_DAYS >= s.EXPIRY_REMINDER_DAYS
    ):
        errors.append(
            _error(
                "EXPIRY_LAST_CHANCE_DAYS",
                f"must be fewer than EXPIRY_REMINDER_DAYS ({s.EXPIRY_REMINDER_DAYS}).",
                175,
            )
        )
    chunk = s.TIER_CHUNK_SIZE
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= 100_000:
        errors.append(
            _error(
                "TIER_CHUNK_SIZE", f"must be a whole number from 1 to 100000, got {chunk!r}.", 181
            )
        )
    name = s.POINTS_NAME
    if not (isinstance(name, tuple | list) and len(name) == 2 and all(name)):
        errors.append(_error("POINTS_NAME", f"must be a (singular, plural) pair, got {name!r}.", 6))
    if not isinstance(s.HOOKS, bool):
        errors.append(_error("HOOKS", f"must be True or False, got {s.HOOKS!r}.", 42))
    elif not s.HOOKS:
        errors.append(
            Warning(
                f"{PREFIX}HOOKS is False: orders earn nothing and Oscar's pages show no "
                "points, coupons go through Oscar's own view unlimited.",
                hint="It is for measuring what the plugin costs; remove it in a live shop.",
                id="oscar_loyalty.W042",
            )
        )
    return errors


PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
COUPON_LIMIT_MIDDLEWARE = "oscar_loyalty.middleware.CouponLimitMiddleware"


@register()
def check_coupon_guessing_limit(app_configs=None, **kwargs):
    """The limit on guessing coupon codes: its settings, middleware and cache."""
    messages = []
    s = loyalty_settings
    value = s.COUPON_MAX_FAILURES_PER_ADDRESS
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        messages.append(
            _error(
                "COUPON_MAX_FAILURES_PER_ADDRESS",
                f"must be a whole number of at least 1, got {value!r}.",
                102,
            )
        )
    header = s.CLIENT_IP_HEADER
    if header is not None and not (isinstance(header, str) and header.isupper()):
        messages.append(
            _error(
                "CLIENT_IP_HEADER",
                f"must be None or a request.META key such as 'HTTP_X_FORWARDED_FOR', "
                f"got {header!r}.",
                103,
            )
        )
    if COUPON_LIMIT_MIDDLEWARE not in settings.MIDDLEWARE:
        messages.append(
            Error(
                "Oscar's own voucher view (basket:vouchers-add) is not limited: coupon codes "
                "can be guessed through it.",
                hint=f"Add {COUPON_LIMIT_MIDDLEWARE!r} to MIDDLEWARE, after Oscar's "
                "BasketMiddleware.",
                id="oscar_loyalty.E101",
            )
        )
    alias = getattr(settings, "RATELIMIT_USE_CACHE", "default")
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if backend in PER_PROCESS_CACHES:
        messages.append(
            checks.Warning(
                f"The coupon guessing limit counts in the {alias!r} cache, which is not a "
                "shared cache: each web process counts for itself (or, with DummyCache, not "
                "at all), so the limit does not hold.",
                hint="Use a shared cache (Redis, Memcached) in production; RATELIMIT_USE_CACHE "
                "names the cache the limit uses.",
                id="oscar_loyalty.W101",
            )
        )
    return messages


@register()
def check_referral_reward_affordable(app_configs=None, **kwargs):
    """Warn when one referral pays the referrer more than the friend's order must spend.

    A reward worth more than the minimum order is a loss on every referral,
    and an invitation to refer oneself through a second account.
    """
    s = loyalty_settings
    points, value, minimum = s.REFERRAL_POINTS, s.POINT_VALUE, s.REFERRAL_MIN_ORDER
    if not all(isinstance(v, int | Decimal) and not isinstance(v, bool) for v in (points, value)):
        return []  # check_settings reports a bad POINT_VALUE
    if not isinstance(minimum, Decimal):
        return []
    worth = points * value
    if worth <= minimum:
        return []
    return [
        checks.Warning(
            f"{PREFIX}REFERRAL_POINTS: one referral pays {worth} ({points} points at "
            f"{value} each), more than the {minimum} order it needs "
            f"({PREFIX}REFERRAL_MIN_ORDER).",
            hint=f"Pay a fraction of the minimum order, e.g. {PREFIX}REFERRAL_POINTS = "
            f"{int(minimum / value / 10) or 1} with a {minimum} minimum.",
            id="oscar_loyalty.W201",
        )
    ]


@register()
def check_point_values_by_currency(app_configs=None, **kwargs):
    """Each currency's point value is a positive Decimal in whole cents, like POINT_VALUE."""
    values = loyalty_settings.POINT_VALUE_BY_CURRENCY
    if isinstance(values, dict) and all(
        isinstance(v, Decimal) and v.is_finite() and v > 0 and v == v.quantize(Decimal("0.01"))
        for v in values.values()
    ):
        return []
    return [
        Error(
            f"{PREFIX}POINT_VALUE_BY_CURRENCY: must map currency codes to positive Decimal "
            f"amounts with at most 2 decimal places, got {values!r}.",
            id="oscar_loyalty.E201",
        )
    ]


# A broken install ---------------------------------------------------------------
#
# What a store can get wrong when installing the plugin, each with its fix. Cheap
# enough for every start-up, but for the broker and its workers, which are asked
# only by ``manage.py check --deploy``.

OURS = Path(__file__).resolve().parent / "templates"

# The Oscar templates the plugin extends, and what a store's own copy must keep.
EXTENDED_TEMPLATES = {
    "oscar/customer/baseaccountpage.html": "oscar_loyalty/partials/rewards_tab.html",
    "oscar/basket/partials/basket_content.html": "oscar_loyalty:coupon-add",
    "oscar/checkout/preview.html": "oscar_loyalty/partials/use_points.html",
    "oscar/checkout/thank_you.html": "oscar_loyalty/partials/order_points.html",
    "oscar/catalogue/detail.html": "oscar_loyalty/partials/earn_product.html",
    "oscar/basket/partials/basket_totals.html": "basket_earning",
    "oscar/communication/emails/commtype_order_placed_body.html": "order_points",
}


@register()
def check_app_order(app_configs=None, **kwargs):
    names = [config.name for config in apps.get_app_configs()]
    if "oscar" in names and names.index("oscar_loyalty") > names.index("oscar"):
        return [
            Error(
                "oscar_loyalty is listed after Oscar's apps in INSTALLED_APPS: Oscar's "
                "templates hide the plugin's (Rewards tab, points at checkout, coupon field).",
                hint='List "oscar_loyalty" (and "oscar_loyalty.dashboard") before Oscar\'s apps.',
                id="oscar_loyalty.E301",
            )
        ]
    return []


@register(Tags.templates)
def check_template_overrides(app_configs=None, **kwargs):
    return [
        Warning(
            f"{origin} overrides {name} without the plugin's part ({part}).",
            hint=(
                f'Start it with {{% extends "{name}" %}} and override only the blocks you '
                "change, or add the part as docs/install.rst shows."
            ),
            id="oscar_loyalty.W302",
        )
        for name, part, origin in _overriding_templates()
    ]


def _overriding_templates():
    """(name, part, origin) of each store template that hides one we extend without our part.

    A template extending the one it overrides passes on to the next in line,
    ours eventually. Oscar's own template coming first is ``check_app_order``'s.
    """
    import oscar

    oscars = Path(oscar.__file__).resolve().parent / "templates"
    found = []
    for backend in engines.all():
        if not isinstance(backend, DjangoTemplates):
            continue
        for name, part in EXTENDED_TEMPLATES.items():
            skip = []
            while True:
                try:
                    template, origin = backend.engine.find_template(name, skip=skip)
                except TemplateDoesNotExist:
                    break
                path = Path(origin.name).resolve()
                if path.is_relative_to(OURS) or path.is_relative_to(oscars):
                    break
                if part in template.source:
                    break
                extends = template.nodelist.get_nodes_by_type(ExtendsNode)
                if extends and extends[0].parent_name.var == name:
                    skip.append(origin)
                    continue
                found.append((name, part, origin.name))
                break
    return found


@register()
def check_middleware(app_configs=None, **kwargs):
    ours = "oscar_loyalty.middleware.BasketCheckMiddleware"
    names = (ours, "oscar_loyalty.middleware.ExpiredCouponMiddleware")  # and its old name
    basket = "oscar.apps.basket.middleware.BasketMiddleware"
    middleware = list(settings.MIDDLEWARE)
    found = [middleware.index(name) for name in names if name in middleware]
    if found and basket in middleware[: found[0]]:
        return []
    return [
        Warning(
            f"{ours} is missing from MIDDLEWARE, or comes before Oscar's {basket}: "
            "expired coupons stay in baskets without a word to the customer.",
            hint=f"Add it to MIDDLEWARE right after {basket}.",
            id="oscar_loyalty.W303",
        )
    ]


@register(Tags.urls)
def check_urls(app_configs=None, **kwargs):
    errors = []
    try:
        reverse("oscar_loyalty:rewards")
    except NoReverseMatch:
        errors.append(
            Error(
                "The plugin's pages (Rewards, coupon field, referral links) have no URL.",
                hint='Add path("", include("oscar_loyalty.urls")) to your urlpatterns '
                "(inside i18n_patterns if you use it).",
                id="oscar_loyalty.E304",
            )
        )
    if apps.is_installed("oscar_loyalty.dashboard"):
        try:
            reverse("loyalty-dashboard:coupon-list")
        except NoReverseMatch:
            errors.append(
                Error(
                    "oscar_loyalty.dashboard is installed but its pages have no URL.",
                    hint='Add path("dashboard/loyalty/", apps.get_app_config('
                    '"oscar_loyalty_dashboard").urls) beside your dashboard\'s URLs.',
                    id="oscar_loyalty.E305",
                )
            )
    return errors


@register()
def check_celery(app_configs=None, **kwargs):
    app = current_celery_app()
    if app is None:
        return [
            Error(
                "No Celery app is configured: orders' points and the periodic jobs never run.",
                hint="Create <project>/celery.py as in Celery's 'First steps with Django' and "
                "import its app in <project>/__init__.py (see docs/install.rst).",
                id="oscar_loyalty.E306",
            )
        ]
    if apps.is_installed("django_celery_beat"):
        return []  # schedules may live in its admin
    scheduled = {entry.get("task") for entry in (app.conf.beat_schedule or {}).values()}
    missing = sorted({e["task"] for e in BEAT_SCHEDULE.values()} - scheduled)
    if missing:
        return [
            Warning(
                f"Celery's beat schedule lacks the plugin's jobs: {', '.join(missing)}.",
                hint="CELERY_BEAT_SCHEDULE = {**oscar_loyalty.schedule.BEAT_SCHEDULE, ...} "
                "in your settings.",
                id="oscar_loyalty.W307",
            )
        ]
    return []


@register(deploy=True)
def check_celery_workers(app_configs=None, **kwargs):
    """Ask the broker for a worker, once, with short timeouts (``check --deploy`` only)."""
    app = current_celery_app()
    if app is None:
        return []
    if app.conf.task_always_eager:
        return [
            Warning(
                "Celery runs tasks eagerly: every order's loyalty work happens in the request.",
                hint="Set CELERY_TASK_ALWAYS_EAGER = False and run a worker.",
                id="oscar_loyalty.W308",
            )
        ]
    connection = app.connection_for_write(
        connect_timeout=2, transport_options={"max_retries": 0, "socket_connect_timeout": 2}
    )
    try:
        with connection:
            connection.ensure_connection(max_retries=0)
            replies = app.control.ping(timeout=1.0, connection=connection)
    except Exception as exc:
        return [
            Error(
                f"Celery's broker cannot be reached ({type(exc).__name__}: {exc}).",
                hint=f"Start the broker, or fix CELERY_BROKER_URL (now {connection.as_uri()}).",
                id="oscar_loyalty.E309",
            )
        ]
    if not replies:
        return [
            Warning(
                "No Celery worker answered: queued orders wait until one runs "
                "(the reconcile job records them only once a worker runs too).",
                hint="Run a worker with its beat: celery -A <project> worker -B",
                id="oscar_loyalty.W310",
            )
        ]
    return []


def current_celery_app():
    """The project's Celery app, or None if it made none (Celery's fallback app)."""
    app = current_app._get_current_object()
    # What Celery makes when asked for an app and none was created.
    fallback = app.main == "default" and not app.set_as_current
    return None if fallback else app


@register(Tags.database)
def check_database(databases=None, **kwargs):
    errors = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "mysql":
            continue
        if not connection.mysql_is_mariadb or connection.mysql_version < (10, 6):
            errors.append(
                Error(
                    f"Database {alias!r} is MySQL or MariaDB < 10.6: the plugin needs "
                    "INSERT ... RETURNING and SKIP LOCKED.",
                    hint="Use PostgreSQL, or MariaDB 10.6 or later.",
                    id="oscar_loyalty.E311",
                )
            )
        elif settings.USE_TZ and not _has_time_zone_tables(connection):
            errors.append(
                Error(
                    f"Database {alias!r} has no time zone tables: dates in the shop's time "
                    "zone (the dashboard's daily figures) would come out empty.",
                    hint="Load them once: mysql_tzinfo_to_sql /usr/share/zoneinfo | "
                    "mysql -u root mysql",
                    id="oscar_loyalty.E312",
                )
            )
    return errors


def _has_time_zone_tables(connection) -> bool:
    """MariaDB answers NULL to CONVERT_TZ between named zones until its tables are loaded."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONVERT_TZ('2000-01-01 00:00:00', 'UTC', 'Europe/Madrid')")
        return cursor.fetchone()[0] is not None
