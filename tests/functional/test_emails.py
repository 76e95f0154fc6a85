"""Consent on the Rewards page, the unsubscribe link, and a statement through a real SMTP server."""

import email
import socket
from datetime import UTC, datetime
from email import policy
from urllib.parse import urlsplit

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import mail
from django.test import override_settings

from oscar_loyalty import ledger, notifications, tasks
from oscar_loyalty.consent import set_marketing_consent
from oscar_loyalty.models import MarketingConsent

pytestmark = pytest.mark.django_db
Source = MarketingConsent.Source


def consent_of(user):
    return MarketingConsent.objects.get(user=user)


# The Rewards page


def test_a_customer_changes_their_consent_on_the_rewards_page(django_app, customer):
    page = django_app.get("/accounts/rewards/", user=customer)
    form = next(f for f in page.forms.values() if f.action.endswith("/rewards/consent/"))
    assert form["marketing"].checked is False
    form["marketing"] = True
    page = form.submit().follow()
    record = consent_of(customer)
    assert (record.marketing, record.source, record.language) == (True, Source.ACCOUNT, "en")
    assert "We will send you offers and news by email." in page.text
    form = next(f for f in page.forms.values() if f.action.endswith("/rewards/consent/"))
    assert form["marketing"].checked is True
    form["marketing"] = False
    form.submit().follow()
    assert consent_of(customer).marketing is False


def test_the_consent_section_is_in_spanish(django_app, customer):
    page = django_app.get("/es/accounts/rewards/", user=customer)
    section = page.html.select_one("#rewards-consent").text
    assert "Envíame ofertas y novedades por email" in section
    assert "Incluye un resumen mensual de tus puntos." in section


def test_changing_consent_needs_a_signed_in_customer(client):
    response = client.post("/accounts/rewards/consent/", {"marketing": "on"})
    assert response.status_code == 302 and "login" in response["Location"]
    assert not MarketingConsent.objects.exists()


def test_signing_up_records_where_and_in_which_language(django_app):
    page = django_app.get("/es/auth/signup/")
    form = next(f for f in page.forms.values() if "signup" in (f.action or ""))
    form["email"] = "nueva@example.com"
    form["password1"] = form["password2"] = "a-Long-passw0rd!"
    form["marketing_consent"] = True
    form.submit()
    record = MarketingConsent.objects.get(user__email="nueva@example.com")
    assert (record.marketing, record.source, record.language) == (True, Source.SIGNUP, "es")


# Unsubscribing


@pytest.fixture
def subscribed(customer):
    set_marketing_consent(customer, True, Source.SIGNUP, language="es")
    return customer


def unsubscribe_path(user):
    return f"/rewards/unsubscribe/{notifications.unsubscribe_token(user)}/"


def test_opening_the_link_asks_and_changes_nothing(django_app, subscribed):
    page = django_app.get(unsubscribe_path(subscribed))
    assert page.html.select_one("#unsubscribe button")
    assert consent_of(subscribed).marketing is True


def test_one_click_post_without_signing_in_or_cookies_unsubscribes(django_app, subscribed):
    """RFC 8058: the mail client posts ``List-Unsubscribe=One-Click``, with no cookies."""
    response = django_app.post(
        unsubscribe_path(subscribed),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    record = consent_of(subscribed)
    assert (record.marketing, record.source, record.language) == (False, Source.UNSUBSCRIBE, "es")


def test_the_button_on_the_page_unsubscribes(django_app, subscribed):
    page = django_app.get(unsubscribe_path(subscribed))
    done = page.forms["unsubscribe-form"].submit()
    assert "we will not send you offers" in done.text
    assert consent_of(subscribed).marketing is False


def test_unsubscribing_changes_only_that_customers_marketing_consent(
    django_app, subscribed, django_user_model
):
    other = django_user_model.objects.create_user(username="bo", email="bo@example.com")
    set_marketing_consent(other, True, Source.SIGNUP)
    ledger.earn(ledger.get_account(subscribed), 10, key="k", reason="r")
    django_app.post(unsubscribe_path(subscribed))
    django_app.post(unsubscribe_path(subscribed))  # twice: still off, nothing else moves
    assert consent_of(other).marketing is True
    assert ledger.get_account(subscribed).balance == 10
    subscribed.refresh_from_db()
    assert subscribed.is_active and subscribed.email == "ana@example.com"


@pytest.mark.parametrize(
    "token",
    ["1:forged-signature", "nonsense", "MQ:1xYJS0:TkuroCjxwHii7bmMw9I-Kl6afXBzEzwd-8PC9eHJqRw"],
)
def test_a_tampered_link_is_refused_and_changes_nothing(django_app, subscribed, token):
    for response in (
        django_app.get(f"/rewards/unsubscribe/{token}/", status=400),
        django_app.post(f"/rewards/unsubscribe/{token}/", status=400),
    ):
        assert "not valid" in response.text
    assert consent_of(subscribed).marketing is True


def test_another_customers_id_with_this_signature_is_refused(
    django_app, subscribed, django_user_model
):
    other = django_user_model.objects.create_user(username="bo", email="bo@example.com")
    set_marketing_consent(other, True, Source.SIGNUP)
    signature = notifications.unsubscribe_token(subscribed).split(":")[1]
    django_app.post(f"/rewards/unsubscribe/{other.pk}:{signature}/", status=400)
    assert consent_of(other).marketing is True


# A real SMTP server


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
            EMAIL_USE_TLS=False,
            EMAIL_USE_SSL=False,
        ):
            yield inbox
    finally:
        controller.stop()


def test_a_statement_through_smtp_carries_the_one_click_headers(
    django_app, subscribed, smtp_server
):
    account = ledger.get_account(subscribed)
    with time_machine.travel(datetime(2026, 11, 3, tzinfo=UTC), tick=False):
        ledger.earn(account, 40, key="k", reason="r")
    with time_machine.travel(datetime(2026, 12, 1, 8, 43, tzinfo=UTC), tick=False):
        tasks.send_statements()
    assert mail.outbox == []  # really sent over SMTP, not to the test outbox
    [(recipients, raw)] = smtp_server.messages
    assert recipients == ["ana@example.com"]
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "Tus puntos en noviembre 2026 en example.com"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message["List-Unsubscribe"].strip().removeprefix("<").removesuffix(">")
    assert url.startswith("http://example.com/es/rewards/unsubscribe/")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Ganados: 40 puntos" in text and url in text
    assert "<strong>40 puntos</strong>" in html and url in html
    # What the mail client does with the header: a POST, no cookies, no sign-in.
    django_app.post(
        urlsplit(url).path,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert consent_of(subscribed).marketing is False


def test_staff_see_consents_and_sent_emails_read_only(django_app, django_user_model, subscribed):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    listing = django_app.get("/admin/oscar_loyalty/marketingconsent/", user=admin)
    assert "ana" in listing.text and "Sign-up form" in listing.text
    django_app.get("/admin/oscar_loyalty/marketingconsent/add/", user=admin, status=403)
    django_app.get("/admin/oscar_loyalty/sentmessage/", user=admin)
    django_app.get("/admin/oscar_loyalty/sentmessage/add/", user=admin, status=403)


def test_a_batch_whose_worker_was_killed_resumes_without_sending_twice(
    django_user_model, smtp_server, monkeypatch
):
    """The worker dies while handing the third statement to the mail server;
    the batch is delivered again (``acks_late``) and sends the rest."""
    users = []
    for n in range(6):
        user = django_user_model.objects.create_user(username=f"c{n}", email=f"c{n}@example.com")
        set_marketing_consent(user, True, Source.SIGNUP)
        with time_machine.travel(datetime(2026, 11, 3, tzinfo=UTC), tick=False):
            ledger.earn(ledger.get_account(user), 10, key=f"k{n}", reason="r")
        users.append(user.pk)
    real = notifications.get_connection

    class DiesOnTheThird:
        def __init__(self):
            self.connection, self.sent = real(), 0

        def __enter__(self):
            self.connection.open()
            return self

        def __exit__(self, *exc):
            self.connection.close()

        def send_messages(self, emails):
            if self.sent == 2:
                raise SystemExit("worker killed")
            self.sent += len(emails)
            return self.connection.send_messages(emails)

    monkeypatch.setattr(notifications, "get_connection", DiesOnTheThird)
    with (
        time_machine.travel(datetime(2026, 12, 1, 8, 43, tzinfo=UTC), tick=False),
        pytest.raises(SystemExit),
    ):
        tasks.send_statement_batch("2026-11-01", users)
    assert len(smtp_server.messages) == 2
    monkeypatch.setattr(notifications, "get_connection", real)
    with time_machine.travel(datetime(2026, 12, 1, 8, 50, tzinfo=UTC), tick=False):
        tasks.send_statement_batch("2026-11-01", users)  # redelivered
        tasks.send_statements()  # and the next run finds nobody left
    received = sorted(to for recipients, _raw in smtp_server.messages for to in recipients)
    # Each customer at most once: the one in flight when the worker died is not
    # sent again (its claim was committed), everyone else got theirs.
    assert received == ["c0@example.com", "c1@example.com"] + [
        f"c{n}@example.com" for n in range(3, 6)
    ]
