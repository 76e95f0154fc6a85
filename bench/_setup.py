"""What the benchmarks share: a fresh PostgreSQL database, Django set up on it, timing helpers.

``bootstrap()`` must run before anything imports Django models. It

* points ``DATABASE_URL`` at the bench database (default
  ``postgres://postgres@127.0.0.1:5432/oscar_loyalty_bench``; a name without
  "bench" in it gets ``_bench`` appended, so a bench never drops the database
  the test suite or a developer uses; ``suffix`` appends ``_<suffix>``, so
  benchmarks running at the same time do not drop each other's database);
* drops and recreates that database (through the ``postgres`` maintenance
  database), sets Django up with ``tests.settings`` and migrates.
"""

import atexit
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/oscar_loyalty_bench"


def bench_url(suffix=None) -> str:
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit(f"The benchmarks need PostgreSQL; DATABASE_URL is {url!r}")
    name = parts.path.lstrip("/") or "oscar_loyalty_bench"
    if "bench" not in name:
        name += "_bench"
    if suffix and not name.endswith(f"_{suffix}"):
        name += f"_{suffix}"
    return urlunsplit(parts._replace(path="/" + name))


def bootstrap(quiet_search=True, suffix=None):
    """Fresh database, Django set up and migrated. Returns the database name."""
    os.environ["DATABASE_URL"] = bench_url(suffix)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    import django
    from django.conf import settings

    django.setup()
    # tests.settings makes a temporary Whoosh index directory: do not leave it behind.
    whoosh = settings.HAYSTACK_CONNECTIONS["default"].get("PATH")
    if whoosh and Path(whoosh).name.startswith("oscar-loyalty-whoosh-"):
        atexit.register(shutil.rmtree, whoosh, True)
    if quiet_search:
        # The sandbox indexes every saved product in Whoosh as it is saved. That
        # is catalogue work, not checkout work: keep it out of the figures.
        from django.apps import apps

        processor = getattr(apps.get_app_config("haystack"), "signal_processor", None)
        if processor is not None:
            processor.teardown()

    db = settings.DATABASES["default"]
    recreate_database(db)

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return db["NAME"]


def recreate_database(db):
    import psycopg
    from psycopg import sql

    params = {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        name = sql.Identifier(db["NAME"])
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def code_version() -> str:
    """The commit measured, and whether the working tree differs from it."""
    import subprocess

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "oscar_loyalty")
    return f"code: {head}" + (" + uncommitted changes in oscar_loyalty/" if dirty else "")


def machine() -> str:
    """CPUs and load: other work on the machine moves every figure here."""
    one, five, _fifteen = os.getloadavg()
    return f"machine: {os.cpu_count()} CPUs, load average {one:.2f} (1 min), {five:.2f} (5 min)"


def server_settings() -> str:
    """The PostgreSQL settings that move these figures most."""
    from django.db import connection

    names = ("server_version", "shared_buffers", "work_mem", "jit", "synchronous_commit")
    with connection.cursor() as cursor:
        values = []
        for name in names:
            cursor.execute(f"SHOW {name}")
            values.append(f"{name}={cursor.fetchone()[0]}")
    return ", ".join(values)


def open_transactions(min_seconds=30) -> list[tuple]:
    """Other sessions' transactions open for over ``min_seconds``, any database.

    While one is open PostgreSQL cannot clean up dead row versions anywhere on
    the server (new snapshots' xmin includes its xid): index scans then walk
    the dead versions of already processed rows, which slows long batch jobs.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT pid, datname, EXTRACT(EPOCH FROM now() - xact_start)::int
            FROM pg_stat_activity
            WHERE pid <> pg_backend_pid()
              AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)
              AND xact_start < now() - make_interval(secs => %s)
            ORDER BY xact_start
            """,
            [min_seconds],
        )
        return cursor.fetchall()


def warn_open_transactions(when):
    for pid, datname, seconds in open_transactions():
        print(
            f"  WARNING ({when}): session {pid} on database {datname} has had a transaction "
            f"open for {seconds} s; dead rows cannot be cleaned meanwhile, figures may suffer"
        )


def maxrss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False


def ratio_line(name, ours, baseline) -> str:
    return f"RATIO {name} {ours / baseline:.3f}"
