#!/usr/bin/env bash
# Set up and run the proxy on embedded defaults: SQLite under ./data, in-memory cache.
#   Usage: bash ops/run.sh
# - creates .venv and installs the project (once);
# - keeps a generated JWT secret in data/jwt-secret for a first try (unless
#   BEDROCK_JWT__SECRET is set) - `bedrock-proxy serve` itself never invents one;
# - with no AWS credentials anywhere, starts the local Bedrock emulator and uses it as
#   upstream (answers are synthetic), and says so;
# - creates a demo user and API key and prints a request to paste into another terminal.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV="${VENV:-.venv}"
PORT="${BEDROCK_SERVER__PORT:-3000}"
DATA=data
mkdir -p "$DATA"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# ---------------------------------------------------------------- python environment
PYTHON=""
for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        PYTHON=$(command -v "$candidate")
        break
    fi
done
[[ -n $PYTHON ]] || { echo "error: Python >= 3.11 is required" >&2; exit 1; }
if [[ ! -x $VENV/bin/bedrock-proxy ]]; then
    say "installing into $VENV (first run only)"
    [[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e .
fi
BP="$VENV/bin/bedrock-proxy"

# ---------------------------------------------------------------- JWT secret
if [[ -z ${BEDROCK_JWT__SECRET:-} ]]; then
    if [[ ! -s $DATA/jwt-secret ]]; then
        (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))' >"$DATA/jwt-secret")
        say "generated a JWT secret for this first try and kept it in $DATA/jwt-secret"
    fi
    BEDROCK_JWT__SECRET=$(cat "$DATA/jwt-secret")
    export BEDROCK_JWT__SECRET
    echo "    (for production set BEDROCK_JWT__SECRET yourself; see README)"
fi

# ---------------------------------------------------------------- upstream: AWS or the emulator
EMULATOR_PID=""
cleanup() { [[ -n $EMULATOR_PID ]] && kill "$EMULATOR_PID" 2>/dev/null || true; }
trap cleanup EXIT
has_aws=$("$VENV/bin/python" - <<'PY'
import os
import botocore.session
explicit = os.environ.get("BEDROCK_AWS__ACCESS_KEY_ID") or os.environ.get("BEDROCK_AWS__PROFILE")
try:
    found = botocore.session.get_session().get_credentials() is not None
except Exception:
    found = False
print("yes" if explicit or found else "no")
PY
)
if [[ $has_aws == no && -z ${BEDROCK_AWS__ENDPOINT_URL:-} ]]; then
    EMU_PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$BP" emulator --host 127.0.0.1 --port "$EMU_PORT" >"$DATA/emulator.log" 2>&1 &
    EMULATOR_PID=$!
    export BEDROCK_AWS__ENDPOINT_URL="http://127.0.0.1:$EMU_PORT"
    export BEDROCK_AWS__ACCESS_KEY_ID=AKIDEMULATOREXAMPLE
    export BEDROCK_AWS__SECRET_ACCESS_KEY=emulator-secret-access-key
    say "no AWS credentials found: using the local Bedrock EMULATOR at $BEDROCK_AWS__ENDPOINT_URL"
    echo "    answers are synthetic; configure AWS credentials (env, profile or role) for real Bedrock"
else
    say "using AWS Bedrock in region ${BEDROCK_AWS__REGION:-us-east-1} with your AWS credentials"
fi

# ---------------------------------------------------------------- database and a demo key
"$BP" init >/dev/null
"$BP" users create --email demo@example.com --name "Demo User" >/dev/null
# one live quickstart key at a time: revoke the ones earlier runs printed
for id in $("$BP" keys list --email demo@example.com | awk '$2 == "active" && / quickstart / {print $1}'); do
    "$BP" keys revoke --id "$id" >/dev/null
done
KEY=$("$BP" keys create --email demo@example.com --name "quickstart $(date -u +%Y-%m-%dT%H:%MZ)" --expires-in-days 1)
say "demo user demo@example.com has a new API key (valid 1 day); try, in another terminal:"
cat <<EOF

curl -N http://localhost:$PORT/anthropic/v1/messages \\
  -H "x-api-key: $KEY" -H "content-type: application/json" \\
  -d '{"model": "claude-sonnet-4-5", "max_tokens": 200, "stream": true,
       "messages": [{"role": "user", "content": "Say hello"}]}'

EOF
say "starting the proxy on http://localhost:$PORT (Ctrl+C drains and stops)"
"$BP" serve
