"""A real Celery worker, with beat, against the real Redis broker."""

import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from oscar_loyalty.models import LedgerEntry, PendingAward

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]
ROOT = Path(__file__).resolve().parents[2]


def sandbox_env(tmp_path):
    """The sandbox's settings on the test database, with Redis as its Celery broker."""
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sandbox.settings",
        "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**db),
        "CELERY_BROKER_URL": settings.REDIS_URL,
        "LOYALTY_BEAT_SECONDS": "1",
        "WHOOSH_PATH": str(tmp_path / "whoosh"),
    }


def start_worker(tmp_path, name="worker", beat=True):
    """A real worker process (``--pool=solo``: one task at a time) on the test database."""
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115  (closed by stop_worker)
    options = ["-B", "-s", str(tmp_path / "beat-schedule")] if beat else []
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "sandbox",
            "worker",
            "--pool=solo",
            "--prefetch-multiplier=1",
            "--loglevel=INFO",
            "-n",
            f"{name}@%h",
            *options,
        ],
        cwd=ROOT,
        env=sandbox_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    process.log_path = tmp_path / f"{name}.log"
    process.log = log
    return process


def stop_worker(process):
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    process.log.close()


@pytest.fixture
def worker(tmp_path):
    process = start_worker(tmp_path)
    yield process
    stop_worker(process)


def test_scheduled_task_matures_a_due_award_in_a_real_worker(customer, place_order, worker):
    order = place_order(customer, [("120.00", 1)])
    PendingAward.objects.filter(order=order).update(
        matures_at=timezone.now() - timedelta(minutes=1)
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and worker.poll() is None:
        if LedgerEntry.objects.filter(order=order, kind="earn").exists():
            break
        time.sleep(0.5)
    else:
        pytest.fail("no worker matured the award:\n" + worker.log_path.read_text()[-4000:])
    assert LedgerEntry.objects.get(order=order).points == 12
    assert PendingAward.objects.get(order=order).status == PendingAward.Status.EARNED


PLACE_ORDER = """
from decimal import Decimal
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_model
from oscar.test.factories import create_order, create_product, create_stockrecord
user = get_model("auth", "User").objects.get(pk={user})
product = create_product(title="Boots")
create_stockrecord(product, price=Decimal("120.00"), num_in_stock=5)
basket = get_model("basket", "Basket").objects.create(owner=user)
basket.strategy = Default()
basket.add_product(product, 1)
print(create_order(basket=basket, user=user).pk)
"""


def test_an_order_placed_in_a_store_with_a_broker_is_awarded_by_the_worker(
    customer, worker, tmp_path
):
    """The store (another process, a real broker) only queues; the worker records the award."""
    placed = subprocess.run(
        [sys.executable, "sandbox/manage.py", "shell", "-c", PLACE_ORDER.format(user=customer.pk)],
        cwd=ROOT,
        env=sandbox_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    order_id = int(placed.stdout.split()[-1])
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and worker.poll() is None:
        if PendingAward.objects.filter(order_id=order_id).exists():
            break
        time.sleep(0.2)
    else:
        pytest.fail("no worker recorded the award:\n" + worker.log_path.read_text()[-4000:])
    assert PendingAward.objects.get(order_id=order_id).points == 12
    assert "oscar_loyalty.order_placed" in worker.log_path.read_text()


def test_the_deploy_check_finds_the_running_worker(worker, monkeypatch):
    from celery import current_app

    from oscar_loyalty import checks

    monkeypatch.setitem(current_app.conf, "task_always_eager", False)
    monkeypatch.setitem(current_app.conf, "broker_url", settings.REDIS_URL)
    monkeypatch.setitem(current_app.conf, "broker_write_url", None)
    # The app's producers were made for the test settings' in-memory broker.
    monkeypatch.setattr(current_app, "_pool", None)
    monkeypatch.setattr(current_app.amqp, "_producer_pool", None)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and worker.poll() is None:
        found = checks.check_celery_workers()
        if not found:
            break
        assert [m.id for m in found] == ["oscar_loyalty.W310"]  # not started yet
    else:
        pytest.fail("the worker never answered:\n" + worker.log_path.read_text()[-4000:])


def test_two_workers_share_the_maturing_job_and_never_double_award(
    django_user_model, place_order, tmp_path
):
    """Every range queued twice, and the whole job on top: each award is posted once."""
    import redis
    from celery import Celery

    from oscar_loyalty import awards, ledger, tasks

    users = [django_user_model.objects.create_user(f"w{i}", f"w{i}@x.com") for i in range(3)]
    for i in range(18):
        place_order(users[i % 3], [("10.00", 1 + i % 4)])
    PendingAward.objects.update(matures_at=timezone.now() - timedelta(minutes=1))
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    workers = [start_worker(tmp_path, f"w{i}", beat=False) for i in range(2)]
    try:
        # Not the current app: the tests after this one queue through the project's.
        app = Celery("test", broker=settings.REDIS_URL, set_as_current=False)
        ranges = awards.due_ranges(timezone.now(), 3)
        assert len(ranges) == 7
        for after, until in ranges * 2:
            position = (tasks._position_out(after), tasks._position_out(until))
            app.send_task("oscar_loyalty.mature_award_range", position)
        app.send_task("oscar_loyalty.mature_awards")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and all(w.poll() is None for w in workers):
            logs = [w.log_path.read_text() for w in workers]
            done = [log.count("mature_award_range[") for log in logs]
            # The 14 range tasks, each logged twice, and the job, which queues one more
            # range unless the others have left nothing due.
            job_done = any(re.search(r"mature_awards\[[^]]+\] succeeded", log) for log in logs)
            if (
                sum(done) >= 2 * 14
                and job_done
                and not PendingAward.objects.filter(status="pending").exists()
            ):
                break
            time.sleep(0.5)
        else:
            pending = PendingAward.objects.filter(status="pending").count()
            pytest.fail(
                f"{pending} awards pending; range tasks logged: {done}\n" + ranges_log(workers)
            )
    finally:
        for w in workers:
            stop_worker(w)
    logs = [w.log_path.read_text() for w in workers]
    assert all("mature_award_range[" in log for log in logs), "a worker took no range"
    assert all("Traceback" not in log for log in logs), logs
    assert LedgerEntry.objects.filter(kind="earn").count() == 18
    for user in users:
        account = ledger.get_account(user)
        assert account.balance == ledger.balance_from_entries(account) > 0


def ranges_log(workers):
    """The workers' log lines about the maturing job and errors (emails left out)."""
    return "\n".join(
        line
        for w in workers
        for line in w.log_path.read_text().splitlines()
        if "mature_award" in line or "ERROR" in line or "Error" in line
    )
