import os

import pytest
from django.conf import settings
from django.utils import translation

from oscar_loyalty import ledger

# What makes a test use the database: pytest-django's marker or one of its fixtures.
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def needs_database(item):
    return item.get_closest_marker("django_db") is not None or bool(
        DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
    )


def needs_redis(item):
    return item.get_closest_marker("redis") is not None


def _unreachable(database, redis_):
    """What the collected tests need and cannot reach: the run fails rather than skip."""
    problems = []
    db = settings.DATABASES["default"]
    if database and db["ENGINE"].endswith("postgresql"):
        import psycopg

        try:
            psycopg.connect(
                host=db.get("HOST") or None,
                port=db.get("PORT") or None,
                user=db.get("USER") or None,
                password=db.get("PASSWORD") or None,
                dbname="postgres",
                connect_timeout=5,
            ).close()
        except psycopg.Error as exc:
            problems.append(f"PostgreSQL at {db.get('HOST')}:{db.get('PORT')}: {exc}")
    elif database and db["ENGINE"].endswith("mysql"):  # CI's MariaDB step
        import MySQLdb

        try:
            MySQLdb.connect(
                host=db.get("HOST") or "127.0.0.1",
                port=int(db.get("PORT") or 3306),
                user=db.get("USER") or "root",
                password=db.get("PASSWORD") or "",
                connect_timeout=5,
            ).close()
        except MySQLdb.Error as exc:
            problems.append(f"MariaDB at {db.get('HOST')}:{db.get('PORT')}: {exc}")
    elif database and os.environ.get("CI"):
        problems.append(f"CI must test on PostgreSQL or MariaDB, not {db['ENGINE']}")
    if redis_:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5).ping()
        except redis.RedisError as exc:
            problems.append(f"Redis at {settings.REDIS_URL}: {exc}")
    return problems


def pytest_collection_modifyitems(config, items):
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def pytest_collection_finish(session):
    """Check the services only the tests about to run need, so ``tests/unit`` runs without any."""
    items = session.items
    problems = _unreachable(
        database=any(map(needs_database, items)), redis_=any(map(needs_redis, items))
    )
    if problems:
        pytest.exit(
            "Test services unreachable (start them, or set DATABASE_URL / REDIS_URL):\n  "
            + "\n  ".join(problems),
            returncode=3,
        )


@pytest.fixture
def customer(django_user_model):
    return django_user_model.objects.create_user(
        username="ana", email="ana@example.com", password="x"
    )


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        username="staff", email="staff@example.com", password="x", is_staff=True
    )


@pytest.fixture
def account(customer):
    return ledger.get_account(customer)


@pytest.fixture
def place_order(django_capture_on_commit_callbacks):
    """Place an order through Oscar's own OrderCreator (so order_placed fires).

    ``lines`` is a list of (price, quantity) or (product, quantity). The
    order's task is queued once the order commits: here, as the order is
    placed (the test's own transaction never commits).
    """
    from decimal import Decimal

    from oscar.apps.offer.applicator import Applicator
    from oscar.apps.partner.strategy import Default
    from oscar.core.loading import get_model
    from oscar.test.factories import create_order, create_product, create_stockrecord

    Basket = get_model("basket", "Basket")

    def place(user, lines=(("100.00", 1),), **kwargs):
        basket = Basket.objects.create(owner=user)
        basket.strategy = Default()
        for what, quantity in lines:
            if isinstance(what, str | Decimal | int):
                product = create_product(title=f"Product {what}")
                create_stockrecord(product, price=Decimal(what), num_in_stock=1000)
            else:
                product = what
            basket.add_product(product, quantity)
        Applicator().apply(basket, user)
        with django_capture_on_commit_callbacks(execute=True):
            return create_order(basket=basket, user=user, **kwargs)

    return place


@pytest.fixture(autouse=True)
def default_language():
    """Django's LocaleMiddleware activates a request's language and leaves it
    active (each real request sets its own): a test that fetched a Spanish page
    must not leave the next test's code speaking Spanish."""
    yield
    translation.activate(settings.LANGUAGE_CODE)
