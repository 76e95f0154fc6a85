"""The README and docs/install.rst tell one story about installing the plugin."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = {
    "README.md": (ROOT / "README.md").read_text(),
    "docs/install.rst": (ROOT / "docs" / "install.rst").read_text(),
}

# Each step as a store writes it: the same line in both documents.
STEPS = [
    'pip install "./oscar-loyalty[redis]"',
    '"oscar_loyalty",',
    '"oscar_loyalty.dashboard",',
    '"oscar.apps.basket.middleware.BasketMiddleware",\n'
    '    "oscar_loyalty.middleware.BasketCheckMiddleware",\n'
    '    "oscar_loyalty.middleware.CouponLimitMiddleware",',
    "OSCAR_DASHBOARD_NAVIGATION = [*OSCAR_DASHBOARD_NAVIGATION, *LOYALTY_NAVIGATION]",
    "CELERY_BEAT_SCHEDULE = {**LOYALTY_BEAT_SCHEDULE}",
    'path("dashboard/loyalty/", apps.get_app_config("oscar_loyalty_dashboard").urls),',
    'path("", include("oscar_loyalty.urls")),',
    "python manage.py migrate",
    "celery -A yourproject worker -B",
]


def normalised(text):
    """Both documents' code, whatever its indentation."""
    return "\n".join(line.strip() for line in text.splitlines())


@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize("step", STEPS)
def test_each_step_is_in_both_documents(doc, step):
    assert normalised(step) in normalised(DOCS[doc])


@pytest.mark.parametrize("doc", DOCS)
def test_neither_names_the_unpublished_package_nor_the_wrong_order(doc):
    text = DOCS[doc]
    assert "pip install oscar-loyalty\n" not in text
    assert "after Oscar's apps" not in text
    assert text.index('"oscar_loyalty",') < text.index("Oscar's apps")
