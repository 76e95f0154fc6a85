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


def _installed_closure(name, extras):
    """The distributions ``pip install name[extras]`` brought, read from what is installed."""
    import importlib.metadata

    from packaging.requirements import Requirement

    found, todo = set(), [(name, frozenset(extras))]
    while todo:
        dist_name, dist_extras = todo.pop()
        key = (dist_name.lower().replace("_", "-"), dist_extras)
        if key in found:
            continue
        found.add(key)
        try:
            requires = importlib.metadata.requires(dist_name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            envs = [{"extra": e} for e in dist_extras] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, frozenset(req.extras)))
    return {dist for dist, _extras in found}


def test_the_sandbox_extra_installs_every_app_the_sandbox_lists():
    """``./run-sandbox.sh`` installs ``.[sandbox]`` only: each app it lists must come with it."""
    import importlib.metadata

    from django.conf import settings

    installed = _installed_closure("oscar-loyalty", {"sandbox"})
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for app in settings.INSTALLED_APPS:
        top = app.split(".")[0]
        if top in {"oscar_loyalty", "sandbox", "tests"}:
            continue
        dists = {d.lower().replace("_", "-") for d in providers.get(top, [])}
        if not dists & installed:
            missing[app] = sorted(dists)
    assert not missing, f"apps the sandbox lists that .[sandbox] does not install: {missing}"
