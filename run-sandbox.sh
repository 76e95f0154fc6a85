#!/usr/bin/env bash
# Sets up and serves the sandbox store at http://127.0.0.1:8000/ (SQLite, eager
# Celery: nothing else needs to run). DATABASE_URL and CELERY_BROKER_URL switch
# to PostgreSQL and a real broker.
set -euo pipefail
cd "$(dirname "$0")"

VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
stamp="$VENV/.oscar_loyalty-sandbox-installed"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[sandbox]"
  touch "$stamp"
fi
manage() { "$VENV/bin/python" sandbox/manage.py "$@"; }
manage migrate --noinput -v0
manage load_demo
echo "Serving the sandbox store at http://${SANDBOX_ADDR:-127.0.0.1:8000}/"
exec "$VENV/bin/python" sandbox/manage.py runserver "${SANDBOX_ADDR:-127.0.0.1:8000}"
