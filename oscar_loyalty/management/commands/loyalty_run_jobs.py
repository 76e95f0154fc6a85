from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from oscar_loyalty import awards, expiry, reconcile, redemption


class Command(BaseCommand):
    help = (
        "Run the plugin's periodic jobs now, as Celery beat would: record orders whose "
        "task was lost, mature due awards, give back unused points vouchers, expire points."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=0,
            help="Run them as if this many days had passed (to try out a sandbox: the "
            "entries posted are dated then).",
        )

    def handle(self, *args, days, **options):
        if not 0 <= days <= 3650:
            raise CommandError(f"--days must be from 0 to 3650, not {days}.")
        now = timezone.now() + timedelta(days=days)
        jobs = [
            ("orders recorded by reconcile", reconcile.record_missing_awards),
            ("awards matured", awards.mature_due_awards),
            ("points vouchers given back", redemption.expire_unused),
            ("points lots expired", expiry.expire_due_points),
        ]
        for label, job in jobs:
            self.stdout.write(f"{label}: {job(now=now)}")
