#!/usr/bin/env bash
# Set everything up from scratch on a Debian 12 machine, then lint, type-check and run the
# whole test suite.   Usage: bash ops/test.sh [extra pytest args]
# (README's test command; CI runs it through .ci/run with CI=true.)
#
# apt packages (Debian 12 "bookworm"):
#   redis-server   - tests start their own redis-server on a free port (tests/servers.py)
#   postgresql     - tests run initdb/pg_ctl from /usr/lib/postgresql/<ver>/bin themselves
#   chromium       - browser tests (Playwright with executable_path, no `playwright install`)
#   wrk            - load benchmarks
#   python3 python3-venv - Debian's python3 has no ensurepip without python3-venv
#   ca-certificates      - HTTPS for pip and friends
# No system service is started or needed: a temporary policy-rc.d denies service starts
# during the install, and postgresql-common is told not to create its "main" cluster.
#
# Environment: CI=true forces the apt step (otherwise it runs only if something is
# missing); VENV=path uses another virtualenv than .venv (it is created if absent).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES=(redis-server postgresql chromium wrk python3 python3-venv ca-certificates)
VENV="${VENV:-.venv}"
export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1

T0=$SECONDS
step_start=$SECONDS
step() {
    echo
    echo "==> [$((SECONDS - T0))s] $*"
    step_start=$SECONDS
}
done_step() { echo "    ($((SECONDS - step_start))s)"; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo env DEBIAN_FRONTEND=noninteractive "$@"
    else
        echo "error: need root or sudo to run: $*" >&2
        return 1
    fi
}

have_everything() {
    command -v redis-server >/dev/null &&
        compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null &&
        command -v chromium >/dev/null &&
        command -v wrk >/dev/null
}

# ---------------------------------------------------------------- system packages
if [[ "${CI:-}" == "true" ]] || ! have_everything; then
    step "apt: ${APT_PACKAGES[*]}"
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        trap 'as_root rm -f '"$policy" EXIT
    fi
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    as_root sh -c 'echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/ci.conf'
    as_root apt-get update -q
    as_root apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"
    done_step
else
    step "apt: everything present, skipped (CI=true forces it)"
fi

# ---------------------------------------------------------------- python
PYTHON=""
for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        PYTHON=$(command -v "$candidate")
        break
    fi
done
if [[ -z $PYTHON ]]; then
    echo "error: Python >= 3.11 not found" >&2
    exit 1
fi

step "venv $VENV with $PYTHON ($("$PYTHON" --version))"
if [[ ! -x $VENV/bin/python ]]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e '.[test]'
done_step

# the pinned 0.x Anthropic SDK (sends x-api-key, not Bearer), in its own venv: the client
# compatibility tests (tests/web/test_anthropic_sdk.py) run it as a subprocess
OLD_SDK_VENV=.venv-anthropic0
step "venv $OLD_SDK_VENV (anthropic 0.x client for compatibility tests)"
if [[ ! -x $OLD_SDK_VENV/bin/python ]]; then
    "$PYTHON" -m venv "$OLD_SDK_VENV"
fi
"$OLD_SDK_VENV/bin/python" -m pip install -q "anthropic==0.49.0" "httpx==0.27.2"
done_step

# ---------------------------------------------------------------- checks
step "ruff check"
"$VENV/bin/ruff" check .
done_step

step "ruff format --check"
"$VENV/bin/ruff" format --check .
done_step

step "mypy"
"$VENV/bin/mypy"
done_step

step "pytest"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
done_step

echo
echo "==> all passed in $((SECONDS - T0))s"
