#!/usr/bin/env bash
# Create the virtualenv and install the pinned requirements into it.
set -euo pipefail
VENV=$1
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || { echo "Dockyard needs Python 3.11 or newer: install python3." >&2; exit 1; }
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  { echo "Dockyard needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1)." >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    # Debian ships venv support separately.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$PYTHON" -m venv "$VENV"
    else
      echo "Python's venv module is missing: install it (Debian: apt-get install python3-venv)." >&2; exit 1
    fi
  fi
fi
echo "Installing Python requirements into $VENV..." >&2
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
