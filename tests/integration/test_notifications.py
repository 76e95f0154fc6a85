"""Emails to customers: who gets what, once, in their language, and never without consent."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from oscar.core.loading import get_model

from oscar_loyalty import awards, ledger, notifications, tasks
from oscar_loyalty.consent import set_marketing_consent
from oscar_loyalty.models import (
    MarketingConsent,
    PendingAward,
    Referral,
    SentMessage,
    WinBackCampaign,
)
from tests.helpers import at

pytestmark = pytest.mark.django_db
CommunicationEventType = get_model("communication", "CommunicationEventType")
Email = get_model("communication", "Email")
Source = MarketingConsent.Source
NOVEMBER = date(2026, 11, 1)
DEC_1 = datetime(2026, 12, 1, 8, 43, tzinfo=UTC)


def consent(user, marketing=True, language="en"):
    return set_marketing_consent(user, marketing, Source.SIGNUP, language=language)


def only(messages=None):
    messages = mail.outbox if messages is None else messages
    assert len(messages) == 1, [m.subject for m in messages]
    return messages[0]


def html(message):
    [(body, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return body


@pytest.fixture
def november(customer, place_order):
    """Ana's November: 40 points earned, 15 spent, an order still pending."""
    account = ledger.get_account(customer)
    at(datetime(2026, 11, 3, tzinfo=UTC), ledger.earn, account, 40, key="k1", reason="r")
    at(datetime(2026, 11, 20, tzinfo=UTC), ledger.spend, account, 15, key="k2", reason="r")
    order = at(datetime(2026, 11, 25, tzinfo=UTC), place_order, customer, [("80.00", 1)])
    return order


# Consent


def test_consent_keeps_when_and_where_it_was_given(customer):
    first = at(datetime(2026, 1, 1, tzinfo=UTC), consent, customer, True, "es")
    assert (first.marketing, first.source, first.language) == (True, Source.SIGNUP, "es")
    again = at(
        datetime(2026, 2, 1, tzinfo=UTC),
        set_marketing_consent,
        customer,
        True,
        Source.ACCOUNT,
        language="en",
    )
    assert again.changed_at == datetime(2026, 1, 1, tzinfo=UTC)  # same answer: date kept
    assert (again.source, again.language) == (Source.SIGNUP, "en")
    off = at(
        datetime(2026, 3, 1, tzinfo=UTC), set_marketing_consent, customer, False, Source.ACCOUNT
    )
    assert (off.marketing, off.source, off.changed_at) == (
        False,
        Source.ACCOUNT,
        datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert off.language == "en"  # no language given: the known one is kept
    assert MarketingConsent.objects.count() == 1


def test_an_imported_consent_keeps_its_own_date(customer):
    given = datetime(2024, 5, 17, tzinfo=UTC)
    record = set_marketing_consent(customer, True, Source.IMPORT, changed_at=given)
    assert (record.source, record.changed_at) == (Source.IMPORT, given)


def test_unsubscribe_tokens_name_the_customer_and_cannot_be_forged(customer, django_user_model):
    other = django_user_model.objects.create_user(username="bo", email="bo@example.com")
    token = notifications.unsubscribe_token(customer)
    assert notifications.user_for_token(token) == customer
    assert token == notifications.unsubscribe_token(customer)  # the same in every email
    forged = f"{other.pk}:{token.split(':')[1]}"
    assert notifications.user_for_token(forged) is None
    assert notifications.user_for_token(token[:-1]) is None
    assert notifications.user_for_token("nonsense") is None
    # Signed for another purpose (a referral cookie, say): refused.
    from django.core import signing

    assert notifications.user_for_token(signing.dumps(customer.pk, salt="other")) is None


# The monthly statement


def test_statement_says_what_happened_in_the_month(customer, november):
    consent(customer)
    at(DEC_1, tasks.send_statements)
    message = only()
    assert message.to == ["ana@example.com"]
    assert message.subject == "Your points in November 2026 at example.com"
    assert "Earned: 40 points" in message.body
    assert "Spent: 15 points" in message.body
    assert "You have 25 points, worth $25.00." in message.body
    assert f"8 points from order {november.number}, yours on Dec. 25, 2026" in message.body
    body = html(message)
    assert "<strong>25 points</strong>" in body
    assert 'id="statement-pending"' in body
    # One record per customer and month, marked sent; Oscar's own log of the email.
    record = SentMessage.objects.get()
    assert (record.key, record.message, record.sent_at) == ("statement:2026-11", "statement", DEC_1)
    assert Email.objects.get(user=customer).subject == message.subject


def test_statement_lists_points_about_to_expire(customer):
    consent(customer)
    account = ledger.get_account(customer)
    at(datetime(2025, 12, 20, tzinfo=UTC), ledger.earn, account, 30, key="old", reason="r")
    at(DEC_1, tasks.send_statements)
    assert "30 points expire on Dec. 20, 2026" in only().body


def test_statement_is_in_the_customers_language(customer, november):
    consent(customer, language="es")
    at(DEC_1, tasks.send_statements)
    message = only()
    assert message.subject == "Tus puntos en noviembre 2026 en example.com"
    assert "Ganados: 40 puntos" in message.body
    assert "Canjeados: 15 puntos" in message.body
    assert "Darse de baja" in html(message)


def test_statement_goes_once_however_often_the_task_runs(customer, november):
    consent(customer)
    at(DEC_1, tasks.send_statements)
    at(DEC_1 + timedelta(hours=1), tasks.send_statements)
    # A batch delivered again (the worker died before acknowledging it).
    at(DEC_1, tasks.send_statement_batch, "2026-11-01", [customer.pk])
    at(DEC_1, notifications.send_statements, NOVEMBER, [customer.pk])
    only()
    # December's is another statement.
    at(datetime(2027, 1, 1, 9, tzinfo=UTC), tasks.send_statements)
    assert [m.subject for m in mail.outbox][1] == "Your points in December 2026 at example.com"


def test_a_claimed_statement_whose_worker_died_is_not_sent_again(customer, november):
    consent(customer)
    SentMessage.objects.create(user=customer, message="statement", key="statement:2026-11")
    at(DEC_1, tasks.send_statements)
    assert mail.outbox == []


def test_statement_goes_to_customers_with_something_to_say(customer, django_user_model):
    consent(customer)
    ledger.get_account(customer)  # an account with nothing in it
    silent = at(DEC_1, tasks.send_statements)
    assert (silent, mail.outbox) == (0, [])
    assert list(notifications.statement_recipients(NOVEMBER)) == []
    no_email = django_user_model.objects.create_user(username="noemail", email="")
    consent(no_email)
    ledger.earn(ledger.get_account(no_email), 5, key="k", reason="r")
    inactive = django_user_model.objects.create_user(
        username="gone", email="gone@example.com", is_active=False
    )
    consent(inactive)
    ledger.earn(ledger.get_account(inactive), 5, key="k2", reason="r")
    at(DEC_1, tasks.send_statements)
    assert mail.outbox == []


def test_a_merchant_can_switch_the_statement_off(customer, november):
    consent(customer)
    with override_settings(OSCAR_LOYALTY_EMAILS={"statement": {"send": False}}):
        at(DEC_1, tasks.send_statements)
    assert mail.outbox == []


def test_statement_batches_are_spread_out_to_the_per_minute_limit(
    customer, django_user_model, monkeypatch
):
    for n in range(5):
        user = django_user_model.objects.create_user(username=f"c{n}", email=f"c{n}@example.com")
        consent(user)
        ledger.earn(ledger.get_account(user), 10, key=f"k{n}", reason="r")
    queued = []
    monkeypatch.setattr(notifications, "BATCH_SIZE", 2)
    monkeypatch.setattr(
        tasks.send_statement_batch,
        "apply_async",
        lambda args, countdown: queued.append((len(args[1]), countdown)),
    )
    with override_settings(OSCAR_LOYALTY_EMAILS_PER_MINUTE=4):
        assert at(DEC_1, tasks.send_statements) == 5
    # 4 a minute: a batch of 2 every 30 seconds.
    assert queued == [(2, 0), (2, 30), (1, 60)]


def test_a_failed_send_gives_up_its_claim_so_a_retry_sends_it(customer, november, monkeypatch):
    consent(customer)

    class Down:
        def send_messages(self, emails):
            raise ConnectionRefusedError("mail server down")

    with pytest.raises(ConnectionRefusedError):
        at(
            DEC_1,
            notifications.send,
            customer,
            "statement",
            "statement:2026-11",
            notifications.statement_context(ledger.get_account(customer), NOVEMBER),
            Down(),
        )
    assert not SentMessage.objects.exists()
    at(DEC_1, tasks.send_statements)
    only()


def test_a_template_edited_in_the_dashboard_is_used(customer, november):
    consent(customer)
    CommunicationEventType.objects.filter(code="LOYALTY_STATEMENT").update(
        email_subject_template="{{ balance }} points for {{ user.email }}",
    )
    at(DEC_1, tasks.send_statements)
    assert only().subject == "25 points for ana@example.com"


def test_the_emails_are_listed_in_oscars_dashboard():
    codes = set(
        CommunicationEventType.objects.filter(code__startswith="LOYALTY_").values_list(
            "code", flat=True
        )
    )
    assert codes == set(notifications.EVENT_TYPES.values())


# Event messages


def test_matured_points_are_announced(customer, place_order):
    order = at(datetime(2026, 1, 1, tzinfo=UTC), place_order, customer, [("120.00", 1)])
    at(datetime(2026, 1, 31, tzinfo=UTC), awards.mature_due_awards)
    entry = ledger.get_account(customer).entries.get()
    assert entry.order == order
    assert notifications.send_points_available([entry.pk]) == 1
    assert notifications.send_points_available([entry.pk]) == 0  # redelivered
    message = only()
    assert message.subject == "12 points are now yours to spend"
    assert "You have 12 points, worth $12.00." in message.body
    assert "List-Unsubscribe" not in message.extra_headers  # not marketing


def test_matured_points_say_which_order_in_the_customers_language(customer, place_order):
    """The reasons are rendered as the email is written, in the customer's language."""
    consent(customer, marketing=False, language="es")
    order = at(datetime(2026, 1, 1, tzinfo=UTC), place_order, customer, [("120.00", 1)])
    at(datetime(2026, 1, 31, tzinfo=UTC), awards.mature_due_awards)  # the job speaks English
    entry = ledger.get_account(customer).entries.get()
    notifications.send_points_available([entry.pk])
    message = only()
    assert f"- Pedido {order.number}: 12 puntos" in message.body
    assert f"<li>Pedido {order.number}: 12 puntos</li>" in html(message)


def test_the_maturing_job_has_its_customers_told(
    customer, place_order, django_capture_on_commit_callbacks
):
    """Through ``award_matured``: the job's commit queues the email task."""
    at(datetime(2026, 1, 1, tzinfo=UTC), place_order, customer, [("120.00", 1)])
    with django_capture_on_commit_callbacks(execute=True):
        at(datetime(2026, 1, 31, tzinfo=UTC), tasks.mature_awards)
    assert only().subject == "12 points are now yours to spend"
    with django_capture_on_commit_callbacks(execute=True):
        at(datetime(2026, 2, 1, tzinfo=UTC), tasks.mature_awards)  # nothing more due
    assert len(mail.outbox) == 1


def test_a_broker_down_sends_the_email_at_once(
    customer, place_order, django_capture_on_commit_callbacks, monkeypatch
):
    def down(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.send_points_available, "delay", down)
    at(datetime(2026, 1, 1, tzinfo=UTC), place_order, customer, [("120.00", 1)])
    with django_capture_on_commit_callbacks(execute=True):
        at(datetime(2026, 1, 31, tzinfo=UTC), tasks.mature_awards)
    assert only().subject == "12 points are now yours to spend"


def test_no_email_for_a_customer_deleted_before_the_task_ran(customer):
    entry = ledger.earn(ledger.get_account(customer), 10, key="e1", reason="r")
    customer.delete()  # the account outlives them, detached
    assert notifications.send_points_available([entry.pk]) == 0
    assert mail.outbox == []


def test_a_customer_whose_points_matured_together_gets_one_email(customer):
    account = ledger.get_account(customer)
    first = ledger.earn(account, 10, key="e1", reason="r")
    second = ledger.earn(account, 5, key="e2", reason="r")
    assert notifications.send_points_available([first.pk, second.pk]) == 1
    assert only().subject == "15 points are now yours to spend"


def test_a_referrer_hears_that_their_friend_ordered(customer, django_user_model, place_order):
    friend = django_user_model.objects.create_user(username="f", email="friend@example.com")
    referral = Referral.objects.create(referrer=customer, referred=friend)
    at(datetime(2026, 4, 1, tzinfo=UTC), place_order, friend, [("50.00", 1)])
    award = PendingAward.objects.get(referral=referral)
    # The order's commit sent referral_rewarded, which sent the email: once.
    assert notifications.send_referral_rewarded(referral.pk) is False
    message = only()
    assert message.to == ["ana@example.com"]
    assert f"{award.points} points will be yours on May 1, 2026" in message.body


def test_a_referrers_friend_ordering_has_them_told(
    customer, django_user_model, place_order, django_capture_on_commit_callbacks
):
    """Through ``referral_rewarded``, sent when the friend's first order is recorded."""
    friend = django_user_model.objects.create_user(username="f", email="friend@example.com")
    Referral.objects.create(referrer=customer, referred=friend)
    with django_capture_on_commit_callbacks(execute=True):
        at(datetime(2026, 4, 1, tzinfo=UTC), place_order, friend, [("50.00", 1)])
    message = only([m for m in mail.outbox if m.to == ["ana@example.com"]])
    assert message.subject == "Your friend placed their first order"


def test_no_referral_email_for_a_voided_referral(customer, django_user_model, place_order):
    friend = django_user_model.objects.create_user(username="f", email="friend@example.com")
    referral = Referral.objects.create(
        referrer=customer, referred=friend, status=Referral.Status.VOID
    )
    place_order(friend, [("50.00", 1)])
    assert notifications.send_referral_rewarded(referral.pk) is False
    assert [m for m in mail.outbox if m.to == ["ana@example.com"]] == []


def expiring_lot(user, earned_at, points=30, key="lot"):
    return at(earned_at, ledger.earn, ledger.get_account(user), points, key=key, reason="r")


def test_expiry_reminder_thirty_days_before_and_last_chance_three_days_before(customer):
    expiring_lot(customer, datetime(2026, 3, 10, 12, tzinfo=UTC))  # expires 10 March 2027
    at(datetime(2027, 2, 7, 13, tzinfo=UTC), notifications.send_expiry_reminders)
    assert mail.outbox == []  # 31 days before
    at(datetime(2027, 2, 8, 13, tzinfo=UTC), notifications.send_expiry_reminders)
    assert only().subject == "30 points expire on March 10, 2027"
    for day in range(9, 28):  # a daily job: nothing more until the last chance
        at(datetime(2027, 2, day, 13, tzinfo=UTC), notifications.send_expiry_reminders)
    assert len(mail.outbox) == 1
    at(datetime(2027, 3, 7, 13, tzinfo=UTC), notifications.send_expiry_reminders)
    at(datetime(2027, 3, 8, 13, tzinfo=UTC), notifications.send_expiry_reminders)
    assert [m.subject for m in mail.outbox] == [
        "30 points expire on March 10, 2027",
        "Last chance: 30 points expire on March 10, 2027",
    ]


def test_points_due_in_two_days_get_only_the_last_chance(customer):
    expiring_lot(customer, datetime(2026, 3, 10, 12, tzinfo=UTC))
    at(datetime(2027, 3, 8, 13, tzinfo=UTC), notifications.send_expiry_reminders)
    assert only().subject.startswith("Last chance: 30 points")


def test_no_reminder_for_points_that_do_not_really_expire(customer):
    lot_day = datetime(2026, 3, 10, 12, tzinfo=UTC)
    expiring_lot(customer, lot_day)
    account = ledger.get_account(customer)
    at(lot_day, ledger.spend, account, 30, key="spent", reason="r")  # nothing left to expire
    at(datetime(2027, 2, 8, 13, tzinfo=UTC), notifications.send_expiry_reminders)
    assert mail.outbox == []
    with override_settings(OSCAR_LOYALTY_EXPIRY_POLICY="never"):
        expiring_lot(customer, lot_day, key="never")
        at(datetime(2027, 3, 8, 13, tzinfo=UTC), notifications.send_expiry_reminders)
    assert mail.outbox == []


@override_settings(OSCAR_LOYALTY_EXPIRY_POLICY="inactivity", OSCAR_LOYALTY_EXPIRY_MONTHS=6)
def test_inactivity_policy_reminds_of_the_whole_balance(customer):
    expiring_lot(customer, datetime(2026, 3, 10, 12, tzinfo=UTC), points=45)
    at(datetime(2026, 8, 8, 13, tzinfo=UTC), notifications.send_expiry_reminders)
    assert mail.outbox == []
    at(datetime(2026, 8, 12, 13, tzinfo=UTC), notifications.send_expiry_reminders)
    assert only().subject == "45 points expire on Sept. 10, 2026"


def test_a_merchant_can_switch_expiry_reminders_off(customer):
    expiring_lot(customer, datetime(2026, 3, 10, 12, tzinfo=UTC))
    off = {"points_expiring": {"send": False}, "points_last_chance": {"send": False}}
    with override_settings(OSCAR_LOYALTY_EMAILS=off):
        at(datetime(2027, 2, 8, 13, tzinfo=UTC), notifications.send_expiry_reminders)
        at(datetime(2027, 3, 8, 13, tzinfo=UTC), notifications.send_expiry_reminders)
    assert mail.outbox == []


# Never a marketing email to a customer who said no


def run_sender(message, customer, django_user_model, place_order):
    """Make ``customer`` due for ``message``, then run the code that sends it."""
    account = ledger.get_account(customer)
    if message == "statement":
        at(datetime(2026, 11, 3, tzinfo=UTC), ledger.earn, account, 40, key="k", reason="r")
        at(DEC_1, tasks.send_statements)
    elif message == "points_available":
        entry = ledger.earn(account, 40, key="k", reason="r")
        tasks.send_points_available([entry.pk])
    elif message in ("points_expiring", "points_last_chance"):
        expiring_lot(customer, datetime(2026, 3, 10, 12, tzinfo=UTC))
        when = datetime(2027, 2 if message == "points_expiring" else 3, 8, 13, tzinfo=UTC)
        at(when, tasks.send_expiry_reminders)
    elif message == "referral_rewarded":
        friend = django_user_model.objects.create_user(username="f", email="friend@example.com")
        referral = Referral.objects.create(referrer=customer, referred=friend)
        place_order(friend, [("50.00", 1)])
        tasks.send_referral_rewarded(referral.pk)
    elif message == "winback":  # the customer ordered once, long ago
        WinBackCampaign.objects.create(
            name="Back", enabled=True, days=60, kind="percentage", value=Decimal("10")
        )
        with time_machine.travel(datetime(2026, 1, 5, tzinfo=UTC), tick=False):
            place_order(customer, [("50.00", 1)])
        at(datetime(2026, 6, 1, 10, tzinfo=UTC), tasks.send_winback_coupons)
    else:
        raise AssertionError(f"no sender for {message}")


@pytest.mark.parametrize("message", sorted(notifications.EVENT_TYPES))
@pytest.mark.parametrize("said", ["no", "nothing", "yes then unsubscribed"])
def test_an_opted_out_customer_is_never_sent_a_marketing_email(
    message, said, customer, django_user_model, place_order
):
    if said == "no":
        consent(customer, False)
    elif said == "yes then unsubscribed":
        consent(customer, True)
        set_marketing_consent(customer, False, Source.UNSUBSCRIBE)
    with override_settings(OSCAR_LOYALTY_EMAILS={message: {"marketing": True}}):
        run_sender(message, customer, django_user_model, place_order)
    assert [m for m in mail.outbox if "ana@example.com" in m.to] == []


@pytest.mark.parametrize("message", sorted(notifications.EVENT_TYPES))
def test_a_consenting_customer_gets_each_marketing_email_with_unsubscribe_headers(
    message, customer, django_user_model, place_order
):
    consent(customer, True)
    with override_settings(OSCAR_LOYALTY_EMAILS={message: {"marketing": True}}):
        run_sender(message, customer, django_user_model, place_order)
    email = only([m for m in mail.outbox if "ana@example.com" in m.to])
    token = notifications.unsubscribe_token(customer)
    url = f"http://example.com/rewards/unsubscribe/{token}/"  # Oscar's OSCAR_URL_SCHEMA
    assert email.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in email.body and url in html(email)


@pytest.mark.parametrize(
    "message", sorted(set(notifications.EVENT_TYPES) - {"statement", "winback"})
)
def test_messages_about_points_go_without_marketing_consent_by_default(
    message, customer, django_user_model, place_order
):
    consent(customer, False)
    run_sender(message, customer, django_user_model, place_order)
    email = only([m for m in mail.outbox if "ana@example.com" in m.to])
    assert "List-Unsubscribe" not in email.extra_headers
    assert "unsubscribe" not in email.body.lower()
