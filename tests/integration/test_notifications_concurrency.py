"""Two workers sending the same statements at the same moment: each customer gets one."""

from datetime import date

import pytest
from django.core import mail

from oscar_loyalty import ledger, notifications
from oscar_loyalty.consent import set_marketing_consent
from oscar_loyalty.models import MarketingConsent, SentMessage
from tests.helpers import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_batch_delivered_twice_at_once_sends_each_statement_once(django_user_model):
    users = []
    for n in range(6):
        user = django_user_model.objects.create_user(username=f"c{n}", email=f"c{n}@example.com")
        set_marketing_consent(user, True, MarketingConsent.Source.SIGNUP)
        ledger.earn(ledger.get_account(user), 10, key=f"k{n}", reason="r")
        users.append(user.pk)
    month = date(2026, 11, 1)
    results = run_together(4, lambda i: notifications.send_statements(month, users))
    assert sum(results) == 6, results
    assert sorted(m.to[0] for m in mail.outbox) == sorted(f"c{n}@example.com" for n in range(6))
    assert SentMessage.objects.filter(sent_at__isnull=False).count() == 6
