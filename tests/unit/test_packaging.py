"""The wheel a store installs carries everything the app needs at run time."""

import subprocess
import sys
import zipfile
from pathlib import Path

import oscar_loyalty

ROOT = Path(__file__).resolve().parents[2]
DATA_DIRS = ["migrations", "templates", "static", "locale"]


def test_wheel_contains_migrations_templates_static_and_locale(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("oscar_loyalty-*.whl")
    assert oscar_loyalty.__version__ in wheel.name
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "oscar_loyalty"
    expected = {
        path.relative_to(ROOT).as_posix()
        for folder in DATA_DIRS
        for path in (package / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert "oscar_loyalty/migrations/0001_initial.py" in expected
    assert expected <= names, sorted(expected - names)
    metadata = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: django-oscar<4.3,>=4.2" in text
