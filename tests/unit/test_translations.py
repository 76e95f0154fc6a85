"""The Spanish catalogue is complete, compiled, and shipped up to date."""

import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "oscar_loyalty"
LOCALE = PACKAGE / "locale" / "es" / "LC_MESSAGES"


@pytest.fixture(scope="module")
def gettext_tools():
    missing = [tool for tool in ("xgettext", "msgfmt") if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"GNU gettext is needed, {' and '.join(missing)} missing: apt-get install gettext"
        )


def test_every_string_of_the_plugin_is_translated(gettext_tools, tmp_path):
    copy = tmp_path / "oscar_loyalty"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("locale", "__pycache__"))
    (copy / "locale").mkdir()
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "es", "--no-location"],
        cwd=copy,
        check=True,
        capture_output=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)},
    )
    extracted = {e.msgid for e in polib.pofile(copy / "locale/es/LC_MESSAGES/django.po")}
    catalogue = {e.msgid: e for e in polib.pofile(LOCALE / "django.po")}
    assert extracted - set(catalogue) == set(), "strings missing from the Spanish catalogue"
    untranslated = [
        msgid
        for msgid in extracted
        if "fuzzy" in catalogue[msgid].flags or not catalogue[msgid].translated()
    ]
    assert untranslated == []
    assert set(catalogue) - extracted == set(), "stale strings left in the catalogue"


def test_the_shipped_mo_is_compiled_from_the_po(gettext_tools, tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(
        ["msgfmt", "--check", "-o", str(fresh), str(LOCALE / "django.po")],
        check=True,
        capture_output=True,
    )

    def catalog(path):
        with open(path, "rb") as f:
            return gettext.GNUTranslations(f)._catalog

    assert catalog(LOCALE / "django.mo") == catalog(fresh)
