"""Celery tasks: thin wrappers, the work is in maturation.py.

Both are safe to run twice at once or to be redelivered.
"""

from celery import shared_task

from . import maturation, redemption


@shared_task(name="oscar_loyalty.mature_awards", ignore_result=True)
def mature_awards():
    return maturation.mature_due_awards()


@shared_task(name="oscar_loyalty.expire_points", ignore_result=True)
def expire_points():
    return maturation.expire_due_points()


@shared_task(name="oscar_loyalty.restore_unused_redemptions", ignore_result=True)
def restore_unused_redemptions():
    return redemption.expire_unused()
