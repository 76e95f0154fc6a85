"""The plugin's periodic jobs, ready to merge into a project's CELERY_BEAT_SCHEDULE.

A module of its own (no models imported) so that settings files can import it.
"""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "oscar-loyalty-mature-awards": {
        "task": "oscar_loyalty.mature_awards",
        "schedule": crontab(minute=7),
    },
    "oscar-loyalty-restore-unused-redemptions": {
        "task": "oscar_loyalty.restore_unused_redemptions",
        "schedule": crontab(minute=37),
    },
    "oscar-loyalty-reconcile-orders": {
        "task": "oscar_loyalty.reconcile_orders",
        "schedule": crontab(minute=47),
    },
    "oscar-loyalty-expire-points": {
        "task": "oscar_loyalty.expire_points",
        "schedule": crontab(hour=3, minute=17),
    },
    # Every customer's tier, after the night's expiry (and the hour's maturing).
    "oscar-loyalty-recompute-tiers": {
        "task": "oscar_loyalty.recompute_tiers",
        "schedule": crontab(hour=3, minute=53),
    },
    # Hourly, so yesterday is summed soon after midnight, and its expired lots
    # once the expiry job has run; an hour with nothing to sum costs two queries.
    "oscar-loyalty-store-daily-figures": {
        "task": "oscar_loyalty.store_daily_figures",
        "schedule": crontab(minute=47),
    },
    # After the expiry job, so points that just expired get no reminder.
    "oscar-loyalty-send-expiry-reminders": {
        "task": "oscar_loyalty.send_expiry_reminders",
        "schedule": crontab(hour=9, minute=23),
    },
    # Today's birthdays (in CELERY_TIMEZONE, which should be the shop's), early.
    "oscar-loyalty-give-birthday-bonuses": {
        "task": "oscar_loyalty.give_birthday_bonuses",
        "schedule": crontab(hour=6, minute=13),
    },
    # Win-back coupons for customers at risk, in office hours.
    "oscar-loyalty-send-winback-coupons": {
        "task": "oscar_loyalty.send_winback_coupons",
        "schedule": crontab(hour=10, minute=33),
    },
    # Last month's statements, on the 1st.
    "oscar-loyalty-send-statements": {
        "task": "oscar_loyalty.send_statements",
        "schedule": crontab(day_of_month=1, hour=8, minute=43),
    },
}
