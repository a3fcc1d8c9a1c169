#!/usr/bin/env bash
# Cedoka installer. Run from anywhere; it works in the directory that holds it.
#
#   ./install.sh --test   set up a development environment, then run every check:
#                         ruff, mypy and pytest
#   ./install.sh --demo   set up, then run the demo (`cedoka demo`)
#
# Idempotent: a second run skips what is already done. Never prompts, never reads stdin
# (CI runs it with CI=true and no standard input).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

# Debian packages the tests need: the build tools, and a real CUPS with the IPP Everywhere
# test printer (ippeveprinter, in cups-ipp-utils) that the suite starts privately (it never
# touches a system cupsd); libcups2-dev to build pycups; dbus-daemon for ippeveprinter.
# The kiosk screens are tested in Debian's Chromium through Playwright (never
# `playwright install`), and the real pywebview (Qt) window once under Xvfb with a window
# manager; Qt WebEngine needs the two xcb libraries beyond the base image.
TEST_APT_PACKAGES=(python3-venv python3-dev build-essential
    cups cups-client cups-ipp-utils libcups2-dev dbus-daemon
    chromium xvfb matchbox-window-manager libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0)
# Debian packages the demo needs.
DEMO_APT_PACKAGES=(python3-venv)

VENV=.venv
MIN_PYTHON=(3 11)
PIP_FLAGS=(--quiet --disable-pip-version-check --no-input)

usage() {
    cat <<EOF
Usage: ./install.sh MODE

Modes:
  --test       install what the tests need (apt packages, .venv, pip packages),
               then run every check: ruff, mypy and pytest
  --demo       install, then run the demo (district server, agent, kiosk, sample
               documents); in 0.1.0 the demo itself is not wired up yet
  --help       show this help

Not yet available in 0.1.0:
  (no mode)    production install of the village agent
  --district   production install of the district server
  --uninstall  remove an installation
EOF
}

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

# Install the given Debian packages, those not installed yet only.
ensure_apt_packages() {
    local missing=() pkg
    say "installing apt packages"
    if ! command -v dpkg >/dev/null 2>&1; then
        echo "dpkg not found: not a Debian system; make sure these are installed: $*"
        return 0
    fi
    for pkg in "$@"; do
        if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed$'; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        echo "already installed: $*"
        return 0
    fi
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 \
            || die "not root and no sudo: install these Debian packages first: ${missing[*]}"
        sudo=(sudo -n)  # never prompt; fails clearly without passwordless sudo
    fi
    echo "installing: ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}

# Succeeds if the given Python interpreter is at least MIN_PYTHON.
python_is_new_enough() {
    "$1" -c "import sys; sys.exit(sys.version_info < (${MIN_PYTHON[0]}, ${MIN_PYTHON[1]}))" \
        >/dev/null 2>&1
}

ensure_venv() {
    local want="${MIN_PYTHON[0]}.${MIN_PYTHON[1]}" python="" candidate
    say "creating the virtual environment $VENV"
    if [[ -x $VENV/bin/python ]]; then
        python_is_new_enough "$VENV/bin/python" \
            || die "$VENV does not run Python >= $want; remove it and run again"
        "$VENV/bin/python" -m pip --version >/dev/null 2>&1 \
            || die "$VENV has no pip (a broken venv?); remove it and run again"
        echo "already there: $("$VENV/bin/python" --version)"
        return 0
    fi
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 && python_is_new_enough "$candidate"; then
            python=$candidate
            break
        fi
    done
    [[ -n $python ]] || die "Cedoka needs Python >= $want; none found as python3 or python3.1x"
    echo "using $(command -v "$python") ($("$python" --version))"
    if ! "$python" -m venv "$VENV"; then
        rm -rf "$VENV"
        die "could not create $VENV with $python (on Debian: apt-get install python3-venv)"
    fi
}

# pip-install the project in editable mode with the given extras ("" for none). Skipped
# when the packaging files and the extras are unchanged since the last successful install.
ensure_pip_install() {
    local extras=$1 target=. stamp fingerprint
    if [[ -n $extras ]]; then
        target=".[$extras]"
    fi
    say "installing Python packages ($target)"
    stamp=$VENV/.cedoka-installed${extras:+-$extras}
    # The editable install maps the packages found at install time: a new package counts.
    fingerprint=$( (cat setup.cfg pyproject.toml; printf "%s\n" */__init__.py) | sha256sum)
    fingerprint=${fingerprint%% *}
    if [[ -f $stamp && $(<"$stamp") == "$fingerprint" ]]; then
        echo "up to date (packaging unchanged since the last install)"
        return 0
    fi
    rm -f "$stamp"
    "$VENV/bin/python" -m pip install "${PIP_FLAGS[@]}" --upgrade pip
    "$VENV/bin/python" -m pip install "${PIP_FLAGS[@]}" -e "$target"
    echo "$fingerprint" >"$stamp"
    echo "installed"
}

run_checks() {
    local failed=() rc
    say "ruff check ."
    "$VENV/bin/ruff" check . || failed+=(ruff)

    say "mypy"
    "$VENV/bin/mypy" || failed+=(mypy)

    say "pytest"
    rc=0
    "$VENV/bin/pytest" || rc=$?
    if ((rc == 5)); then
        echo "install.sh: pytest collected no tests (exit 5): that counts as a failure" >&2
        failed+=("pytest (no tests)")
    elif ((rc != 0)); then
        failed+=(pytest)
    fi

    if ((${#failed[@]} > 0)); then
        say "FAILED: ${failed[*]}"
        return 1
    fi
    say "all checks passed: ruff, mypy, pytest"
}

main() {
    case "${1:-}" in
        --test)
            ensure_apt_packages "${TEST_APT_PACKAGES[@]}"
            ensure_venv
            ensure_pip_install test,district,printers,ui,window
            run_checks
            ;;
        --demo)
            ensure_apt_packages "${DEMO_APT_PACKAGES[@]}"
            ensure_venv
            ensure_pip_install district
            say "running the demo: cedoka demo"
            local rc=0
            "$VENV/bin/cedoka" demo || rc=$?
            exit "$rc"
            ;;
        --help | -h)
            usage
            ;;
        --district | --uninstall)
            echo "install.sh: $1 is not yet available in 0.1.0" >&2
            exit 2
            ;;
        "")
            echo "install.sh: the production install is not yet available in 0.1.0" >&2
            usage >&2
            exit 2
            ;;
        *)
            echo "install.sh: unknown option: $1" >&2
            usage >&2
            exit 2
            ;;
    esac
}

main "$@"
