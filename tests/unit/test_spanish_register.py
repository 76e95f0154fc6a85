"""One register in Spanish: the customer is "tú" everywhere, and the basket has Oscar's name."""

import re
from pathlib import Path

import oscar
import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = polib.pofile(ROOT / "oscar_loyalty" / "locale" / "es" / "LC_MESSAGES" / "django.po")
OSCARS = polib.pofile(Path(oscar.__file__).parent / "locale" / "es" / "LC_MESSAGES" / "django.po")

# "usted" and the formal forms of the verbs a shop's texts use.
FORMAL = re.compile(
    r"\b(usted|ustedes|introduzca|inicie|haga|compruebe|elija|escriba|vuelva|pruebe|utilice"
    r"|añada|quite|revise|pulse|indique|seleccione|copie|comparta|espere|confirme|descargue"
    r"|guarde|canjee|consulte|marque|asígnele|edítelo|quítelo|úselos|regístrese|identifíquese"
    r"|puede usted|tiene usted)\b",
    re.IGNORECASE,
)


def texts(entry):
    return [entry.msgstr, *entry.msgstr_plural.values()]


def test_oscars_word_for_the_basket_is_carrito():
    assert OSCARS.find("Basket").msgstr == "Carrito"


@pytest.mark.parametrize("word", ["cesta", "cestas"])
def test_our_catalogue_calls_the_basket_as_oscar_does(word):
    found = [t for e in OURS for t in texts(e) if re.search(rf"\b{word}\b", t, re.IGNORECASE)]
    assert found == []


def test_the_customer_is_addressed_as_tu():
    formal = [t for e in OURS for t in texts(e) if FORMAL.search(t)]
    assert formal == []
