#!/usr/bin/env bash
# Runs the whole test suite, installing what it needs first (into .venv).
# Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379, or
# DATABASE_URL / REDIS_URL naming others. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests use: Chromium (browser tests) and gettext (catalogue check).
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v msgfmt >/dev/null || missing+=(gettext)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]}); their tests will fail." >&2
  fi
fi

VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
stamp="$VENV/.oscar_loyalty-test-installed"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[test]"
  touch "$stamp"
fi
exec "$VENV/bin/python" -m pytest "$@"
