"""The deploy checks against a real broker: unreachable, or reachable with no worker on it."""

import pytest
from django.conf import settings

from oscar_loyalty import checks


def ids(messages):
    return [m.id for m in messages]


@pytest.fixture
def broker(monkeypatch):
    from celery import current_app

    monkeypatch.setitem(current_app.conf, "task_always_eager", False)
    monkeypatch.setitem(current_app.conf, "broker_write_url", None)
    # The app's producers were made for the test settings' in-memory broker.
    monkeypatch.setattr(current_app, "_pool", None)
    monkeypatch.setattr(current_app.amqp, "_producer_pool", None)

    def use(url):
        monkeypatch.setitem(current_app.conf, "broker_url", url)

    return use


def test_deploy_check_an_unreachable_broker_is_an_error(broker):
    broker("redis://:secret@127.0.0.1:1/0")
    (error,) = checks.check_celery_workers()
    assert error.id == "oscar_loyalty.E309"
    assert "secret" not in error.hint


@pytest.mark.redis  # a real broker that answers, with no worker on it
def test_deploy_check_a_broker_with_no_worker_is_reported(broker):
    broker(settings.REDIS_URL)  # no worker listens there during the unit tests
    assert ids(checks.check_celery_workers()) == ["oscar_loyalty.W310"]
