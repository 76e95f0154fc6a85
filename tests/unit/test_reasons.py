"""Reason codes render in the reader's language; the stored text is the source language's."""

import pytest
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from oscar_loyalty import reasons
from oscar_loyalty.i18n import translated


@pytest.mark.parametrize(
    ("reason", "en", "es"),
    [
        (reasons.Reason(reasons.WELCOME_BONUS), "Welcome bonus", "Bono de bienvenida"),
        (reasons.order("100023"), "Order 100023", "Pedido 100023"),
        (
            reasons.Reason(reasons.ORDER_REFUNDED, {"number": "7"}),
            "Order 7 refunded",
            "Pedido 7 reembolsado",
        ),
        (reasons.Reason(reasons.EXPIRED), "Expired", "Caducados"),
        (reasons.Reason(reasons.TILL_PURCHASE), "In-store purchase", "Compra en tienda"),
        (
            reasons.Reason(reasons.TILL_PURCHASE, {"reference": "R-1"}),
            "In-store purchase R-1",
            "Compra en tienda R-1",
        ),
    ],
)
def test_a_code_reads_in_the_active_language(reason, en, es):
    for language, expected in (("en", en), ("es", es)):
        with translation.override(language):
            assert reasons.render(reason.code, reason.params) == expected


def test_the_stored_text_is_the_source_language_whatever_is_active():
    with translation.override("es"):
        assert str(reasons.Reason(reasons.WELCOME_BONUS)) == "Welcome bonus"
        assert str(reasons.reward(3, "Envío gratis")) == "Reward: Envío gratis"


def test_a_reward_that_is_gone_keeps_the_name_it_had(monkeypatch):
    with translation.override("es"):
        assert reasons.render(reasons.REWARD, {"name": "Taza"}, load=False) == "Recompensa: Taza"


def test_staff_words_are_shown_as_written_in_every_language():
    words = reasons.staff_adjustment("Perdón por el retraso: 50% más")
    for language in ("en", "es"):
        with translation.override(language):
            assert reasons.render(words.code, words.params) == "Perdón por el retraso: 50% más"


@pytest.mark.parametrize(
    ("code", "params"),
    [
        ("no_such_code", {}),
        (reasons.ORDER, {}),  # its number is missing
        (reasons.ORDER, None),
        (reasons.ORDER, ["not", "a", "mapping"]),
        (reasons.STAFF_ADJUSTMENT, {"words": "x"}),
        ("", {}),
    ],
)
def test_an_odd_entry_shows_its_stored_text_rather_than_failing(code, params):
    assert reasons.render(code, params, fallback="stored text") == "stored text"


def test_other_features_register_their_own_reasons():
    try:
        reasons.register("test_birthday", _("Welcome bonus"))
        with translation.override("es"):
            assert reasons.render("test_birthday", {}) == "Bono de bienvenida"
    finally:
        reasons._TYPES.pop("test_birthday", None)


@pytest.mark.parametrize(
    "arguments",
    [
        ("", "text"),
        ("x" * 33, "text"),
        (None, "text"),
    ],
)
def test_a_bad_code_is_refused(arguments):
    with pytest.raises(ValueError):
        reasons.register(*arguments)


def test_a_model_needs_its_reference():
    with pytest.raises(ValueError):
        reasons.register("test_half", "x", model="oscar_loyalty.Reward")
    assert reasons.registered("test_half") is None


NAMES = {"es": "Envío gratis", "pt-br": "Frete grátis", "fr": ""}


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("es", "Envío gratis"),
        ("es-mx", "Envío gratis"),  # the base language
        ("pt-br", "Frete grátis"),  # the exact one
        ("fr", "Free shipping"),  # an empty translation does not count
        ("de", "Free shipping"),
        ("en", "Free shipping"),
    ],
)
def test_a_merchant_translation_is_read_in_the_active_language(language, expected):
    with translation.override(language):
        assert translated(NAMES, "Free shipping") == expected


@pytest.mark.parametrize("garbage", [None, {}, [], "es", {"es": 3}, {"es": None}, {"es": "  "}])
def test_garbage_translations_fall_back_to_the_default(garbage):
    with translation.override("es"):
        assert translated(garbage, "Free shipping") == "Free shipping"
