"""allauth's pages speak as the shop does: "tú" in Spanish, in the shop's layout."""

import re

import pytest

pytestmark = pytest.mark.django_db
FORMAL = re.compile(r"\b(inicie|regístrese|ha olvidado su|tiene una cuenta|su contraseña)\b", re.I)
PAGES = {
    "/auth/signup/": ("Create your account", "Crea tu cuenta", "¿Ya tienes una cuenta?"),
    "/auth/login/": ("Log in", "Iniciar sesión", "¿Has olvidado tu contraseña?"),
    "/auth/password/reset/": (
        "Reset your password",
        "Restablece tu contraseña",
        "Escribe tu email",
    ),
}


@pytest.mark.parametrize("path", list(PAGES))
def test_the_account_pages_in_both_languages(django_app, path):
    english, spanish, phrase = PAGES[path]
    page = django_app.get(path)
    assert page.html.select_one("#account-page h1").text.strip() == english
    assert page.html.select_one("header.header")  # the shop's layout
    page = django_app.get(f"/es{path}")
    card = page.html.select_one("#account-page")
    assert card.select_one("h1").text.strip() == spanish
    assert phrase in card.text
    assert not FORMAL.search(card.text), card.text
    assert card.select("input.form-control")


def test_the_email_sent_page_speaks_spanish(django_app, django_user_model):
    django_user_model.objects.create_user("luz", "luz@example.com", "x")
    page = django_app.get("/es/auth/password/reset/")
    form = next(f for f in page.forms.values() if "reset" in (f.action or ""))
    form["email"] = "luz@example.com"
    page = form.submit().maybe_follow()
    assert page.html.select_one("#account-page h1").text.strip() == "Revisa tu email"
