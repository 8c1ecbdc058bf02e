# Shared by bin/dev, bin/test and .ci/run: find Python >= 3.12 and keep .venv in step with it.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3 python3.14 python3.13 python3.12 python; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  echo "error: Review App needs Python 3.12 or newer; none of python3, python3.14, python3.13, python3.12 is." >&2
  echo "       Install one, or point PYTHON at it: PYTHON=/path/to/python3.12 $0" >&2
  return 1
}

# ensure_venv [extras]: create .venv if missing (or built with an old Python) and install the
# project into it, with the given extras (e.g. "test").
ensure_venv() {
  local extras="${1:-}"
  if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then
    echo "Recreating $VENV (it was built with Python < 3.12)"
    rm -rf "$VENV"
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    local python
    python="$(find_python)"
    echo "Creating $VENV with $("$python" --version 2>&1)"
    "$python" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
  fi
  local target="$ROOT"
  [ -n "$extras" ] && target="$ROOT[$extras]"
  echo "Installing Review App${extras:+ with [$extras]} into $VENV"
  # pip's output (and the build backend's warnings) go to a log, shown only when it fails.
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$target" \
      >"$VENV/pip-install.log" 2>&1; then
    cat "$VENV/pip-install.log" >&2
    echo "error: installing the dependencies failed (log above, also in $VENV/pip-install.log)" >&2
    return 1
  fi
}

# ensure_chromium: browser tests drive Debian's /usr/bin/chromium (Playwright cannot download
# its own browser here). Installs it with apt-get when missing and we are root.
ensure_chromium() {
  local exe="${CHROMIUM_PATH:-/usr/bin/chromium}"
  [ -x "$exe" ] && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium for the browser tests (apt-get install chromium)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
      || echo "warning: could not install Chromium; browser tests will not run" >&2
  else
    echo "warning: $exe is missing; install Chromium (apt-get install chromium) for the browser tests" >&2
  fi
}
