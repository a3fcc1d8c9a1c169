#!/usr/bin/env bash
# Cedoka installer. Run from anywhere; it works in the directory that holds it.
#
#   ./install.sh --test        set up a development environment (.venv), then run every
#                              check: ruff (lint and format), mypy and pytest
#   ./install.sh --demo [ARGS] set up .venv, then run the demo (`cedoka demo ARGS`)
#   sudo ./install.sh          production install of the village kiosk agent
#   sudo ./install.sh --district          production install of the district server
#   sudo ./install.sh --uninstall [--purge] [--district]
#   ./install.sh … --root DIR  any production mode into a throw-away root (tests, packaging)
#
# The production layout (docs/adr/0017-production-install-layout.md): releases in
# /opt/cedoka/releases/<version>-<hash>/ (one venv each) behind the symlinks
# /opt/cedoka/current and /opt/cedoka/previous; configuration in /etc/cedoka; state in
# /var/lib/cedoka (0700); the systemd units, udev rule, autostart entry … from deploy/.
#
# Idempotent: a second run skips what is already done; a production re-run is an upgrade in
# place. Never prompts, never reads stdin (CI runs it with CI=true and no standard input); the
# one question, whether --uninstall should delete the state too, is asked on /dev/tty only
# when stdin is a terminal and CI is not set.
set -euo pipefail

ORIG_PWD=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")"
SRC_DIR=$PWD

# --- Debian packages ---------------------------------------------------------------------

# Debian packages the tests need: the build tools, and a real CUPS with the IPP Everywhere
# test printer (ippeveprinter, in cups-ipp-utils) that the suite starts privately (it never
# touches a system cupsd); libcups2-dev to build pycups; dbus-daemon for ippeveprinter.
# The kiosk screens are tested in Debian's Chromium through Playwright (never
# `playwright install`), and the real pywebview (Qt) window once under Xvfb with a window
# manager; Qt WebEngine needs the xcb libraries beyond the base image. systemd brings
# systemd-analyze, which checks the installed units (tests/install). postgresql brings the
# server binaries for the district store's private test cluster (tests/district/pglab.py).
# nginx: the shipped reverse-proxy site (deploy/nginx) runs in a private prefix in front of
# two server processes (tests/district/test_nginx.py; never the system nginx that Debian
# starts on port 80 when it installs the package, as it starts a postgresql cluster).
TEST_APT_PACKAGES=(python3-venv python3-dev build-essential
    cups cups-client cups-ipp-utils libcups2-dev dbus-daemon
    chromium xvfb matchbox-window-manager libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0
    systemd postgresql nginx)
# Debian packages the demo needs; with a display, the window's; with a CUPS queue, pycups'.
DEMO_APT_PACKAGES=(python3-venv)
WINDOW_APT_PACKAGES=(libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0)
PYCUPS_BUILD_APT_PACKAGES=(build-essential python3-dev libcups2-dev)
# The village kiosk PC: CUPS, a venv, what building pycups needs, Qt WebEngine's xcb libraries.
KIOSK_APT_PACKAGES=(cups python3-venv "${PYCUPS_BUILD_APT_PACKAGES[@]}" "${WINDOW_APT_PACKAGES[@]}")
# The district server: its Python packages all come as wheels.
DISTRICT_APT_PACKAGES=(python3-venv)

# --- development environment (--test, --demo) ----------------------------------------------

VENV=.venv
MIN_PYTHON=(3 11)
PIP_FLAGS=(--quiet --disable-pip-version-check --no-input)
TEST_EXTRAS=test,district,printers,ui,window,demo
DEMO_EXTRAS=district,ui,demo

# --- production layout (every path below is prefixed with --root DIR when given) ----------

OPT_DIR=/opt/cedoka                # releases/<version>-<hash>/, current, previous
ETC_DIR=/etc/cedoka                # agent.env, district.env
UNIT_DIR=/etc/systemd/system
UPDATE_SERVICE=cedoka-update.service  # the kiosk's self-update check (ADR 0031) …
UPDATE_TIMER=cedoka-update.timer      # … every 4 hours
BIN_DIR=/usr/local/bin             # symlinks cedoka, cedoka-district → current/bin/…
AUTOSTART_FILE=/etc/xdg/autostart/cedoka-kiosk.desktop
UDEV_RULE=/etc/udev/rules.d/70-cedoka-receipt.rules
MODULES_LOAD_FILE=/etc/modules-load.d/cedoka-serial.conf
CUPSD_CONF=/etc/cups/cupsd.conf
KIOSK_URL_FILE=/run/cedoka/kiosk-url
# The interpreter of the production venvs: Debian's own (python3-venv), never one under a
# home directory that the service user could not read. CEDOKA_PYTHON overrides it.
PROD_PYTHON=${CEDOKA_PYTHON:-/usr/bin/python3}
RELEASE_MARKER=.cedoka-release

# Options of the production modes (parse_production_args).
ROLE=kiosk          # kiosk | district
UNINSTALL=0
PURGE=0
ROOT=""             # --root DIR, "" for the real system
KIOSK_USER=""

usage() {
    cat <<EOF
Usage: ./install.sh --test
       ./install.sh --demo [DEMO ARGS...]
       sudo ./install.sh [--district] [--kiosk-user USER] [--root DIR]
       sudo ./install.sh --uninstall [--purge] [--district] [--root DIR]

Development (in this directory, as any user; apt packages through passwordless sudo):
  --test       install what the tests need (apt packages, .venv, pip packages),
               then run every check: ruff (lint and format), mypy and pytest; never prompts (CI)
  --demo [ARGS...]
               install what the demo needs (.venv with the district, ui and demo
               extras; the window extra when a display is set; the printers extra
               when CUPS has a queue), then run \`cedoka demo ARGS...\` (try --help)

Production (Debian 12 with systemd, as root):
  (no mode)    install or upgrade the village kiosk agent: apt packages, the system
               user cedoka, a release in /opt/cedoka (extras printers, ui, window),
               /etc/cedoka/agent.env, /var/lib/cedoka (0700), cedoka-agent.service,
               cedoka-update.timer (the signed self-update every 4 h), the kiosk window's desktop autostart entry, the udev rule for USB receipt
               printers, and 'PreserveJobFiles No' in /etc/cups/cupsd.conf
  --kiosk-user USER
               also add the desktop user USER to group cedoka, so that the kiosk
               window in USER's graphical session can read the agent's address
  --district   install or upgrade the district server instead: the system user
               cedoka-district, a release in /opt/cedoka (extra district),
               /etc/cedoka/district.env, /var/lib/cedoka-district (0700),
               cedoka-district.service. Kiosk and district on one machine share one
               release holding the extras of both.
  --uninstall  stop and remove the service, its units and files and /opt/cedoka; keep
               the state (/var/lib/…, /etc/cedoka, the system user) unless --purge is
               given or "yes" is typed on the terminal (never asked under CI=…)
  --purge      with --uninstall: delete the state and the system user as well

  Re-running an install is an upgrade in place: the state and /etc/cedoka are kept, a new
  release is built beside the old one, which stays for rollback (/opt/cedoka/previous);
  a running service is restarted.

  --root DIR   do any production mode inside the directory DIR (an absolute path) instead
               of /, as any user: for tests and packaging. apt, useradd/usermod, chown,
               systemctl, udevadm and restarting CUPS are skipped (and said so). The venv
               is built for its path inside DIR.

  --help       show this help
EOF
}

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
# A command line that cannot be run as given: exit status 2.
usage_error() {
    printf 'install.sh: %s\n' "$*" >&2
    printf "Try './install.sh --help'.\n" >&2
    exit 2
}

# Install the given Debian packages, those not installed yet only.
ensure_apt_packages() {
    local missing=() pkg
    say "installing apt packages"
    if [[ -n $ROOT ]]; then
        echo "skipped under --root: apt-get install $*"
        return 0
    fi
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
        sudo -n true 2>/dev/null \
            || die "installing ${missing[*]} needs root and sudo asks for a password; run" \
                "'sudo apt-get install ${missing[*]}' first, then this command again"
        sudo=(sudo -n)  # never prompt
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

# The comma-separated extras in $1, sorted, without duplicates or blanks.
normalize_extras() {
    tr ',' '\n' <<<"$1" | sed '/^[[:space:]]*$/d' | LC_ALL=C sort -u | paste -sd, -
}

# Succeeds if every extra in the list $1 is also in the list $2.
extras_within() {
    local extra wanted=()
    IFS=, read -ra wanted <<<"$1"
    for extra in "${wanted[@]}"; do
        [[ ,$2, == *,"$extra",* ]] || return 1
    done
}

# pip-install the project in editable mode with the given extras ("" for none). Skipped
# when the packaging files are unchanged since the last successful install and that install
# covered these extras (or more: --demo after --test installs nothing). The stamp holds the
# packaging fingerprint and the extras installed under it.
ensure_pip_install() {
    local extras target=. stamp=$VENV/.cedoka-installed fingerprint
    local old_fingerprint="" old_extras=""
    extras=$(normalize_extras "$1")
    if [[ -n $extras ]]; then
        target=".[$extras]"
    fi
    say "installing Python packages ($target)"
    # The editable install maps the packages found at install time: a new package counts.
    fingerprint=$( (cat setup.cfg pyproject.toml; printf "%s\n" */__init__.py) | sha256sum)
    fingerprint=${fingerprint%% *}
    if [[ -f $stamp ]]; then
        { read -r old_fingerprint || true; read -r old_extras || true; } <"$stamp"
    fi
    if [[ $old_fingerprint == "$fingerprint" ]] && extras_within "$extras" "$old_extras"; then
        echo "up to date (packaging unchanged since the last install of ${old_extras:-no extras})"
        return 0
    fi
    rm -f "$stamp" "$VENV"/.cedoka-installed-*  # the latter: stamps of older install.sh
    "$VENV/bin/python" -m pip install "${PIP_FLAGS[@]}" --upgrade pip
    "$VENV/bin/python" -m pip install "${PIP_FLAGS[@]}" -e "$target"
    # Same packaging as before: what the earlier install brought is still there and current.
    if [[ $old_fingerprint == "$fingerprint" ]]; then
        extras=$(normalize_extras "$extras,$old_extras")
    fi
    printf '%s\n%s\n' "$fingerprint" "$extras" >"$stamp"
    echo "installed"
}

run_checks() {
    local failed=() rc
    say "ruff check ."
    "$VENV/bin/ruff" check . || failed+=(ruff)

    say "ruff format --check ."
    "$VENV/bin/ruff" format --check . || failed+=("ruff format")

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
    say "all checks passed: ruff, ruff format, mypy, pytest"
}

run_test_mode() {
    ensure_apt_packages "${TEST_APT_PACKAGES[@]}"
    ensure_venv
    ensure_pip_install "$TEST_EXTRAS"
    run_checks
}

# A graphical session to open the kiosk window in.
has_display() {
    [[ -n ${DISPLAY:-} || -n ${WAYLAND_DISPLAY:-} ]]
}

# CUPS answers and has at least one queue (the demo can print on it: --printer a4=cups:Q).
cups_has_queue() {
    command -v lpstat >/dev/null 2>&1 && [[ -n $(lpstat -e 2>/dev/null </dev/null || true) ]]
}

run_demo() {
    local apt=("${DEMO_APT_PACKAGES[@]}") extras=$DEMO_EXTRAS
    if has_display; then
        apt+=("${WINDOW_APT_PACKAGES[@]}")
        extras+=,window
    fi
    if cups_has_queue; then
        apt+=("${PYCUPS_BUILD_APT_PACKAGES[@]}")
        extras+=,printers
    fi
    ensure_apt_packages "${apt[@]}"
    ensure_venv
    ensure_pip_install "$extras"
    say "running the demo: cedoka demo${*:+ $*}"
    # Back in the caller's directory, for relative paths among ARGS; exec, so that Ctrl-C
    # reaches the demo itself.
    cd "$ORIG_PWD"
    exec "$SRC_DIR/$VENV/bin/cedoka" demo "$@"
}

# --- production: options and helpers ----------------------------------------------------

parse_production_args() {
    while (($# > 0)); do
        case "$1" in
            --district) ROLE=district ;;
            --uninstall) UNINSTALL=1 ;;
            --purge) PURGE=1 ;;
            --root | --kiosk-user)
                if (($# < 2)) || [[ $2 == -* || -z $2 ]]; then
                    [[ $1 == --root ]] && usage_error "--root needs a value: --root DIR"
                    usage_error "--kiosk-user needs a value: --kiosk-user USER"
                fi
                set_value_option "$1" "$2"
                shift
                ;;
            --root=* | --kiosk-user=*) set_value_option "${1%%=*}" "${1#*=}" ;;
            --help | -h)
                usage
                exit 0
                ;;
            --test | --demo) usage_error "$1 comes alone, as the first argument" ;;
            *) usage_error "unknown option: $1" ;;
        esac
        shift
    done
    if ((PURGE && !UNINSTALL)); then
        usage_error "--purge goes with --uninstall"
    fi
    if [[ -n $KIOSK_USER && ($ROLE == district || $UNINSTALL == 1) ]]; then
        usage_error "--kiosk-user goes with the kiosk install only"
    fi
}

set_value_option() {
    case "$1" in
        --root)
            [[ -n $2 ]] || usage_error "--root needs a value: --root DIR"
            [[ $2 == /* ]] || usage_error "--root needs an absolute path, not '$2'"
            ROOT=$(sed -E 's#/+$##' <<<"$2")
            [[ -n $ROOT ]] || usage_error "--root /: leave --root out to install on this system"
            ;;
        --kiosk-user)
            [[ $2 =~ ^[a-z_][a-z0-9_.-]*[$]?$ ]] \
                || usage_error "--kiosk-user: '$2' is not a user name"
            KIOSK_USER=$2
            ;;
    esac
}

# What each role installs.
set_role() {
    case "$ROLE" in
        kiosk)
            ROLE_NAME="village kiosk agent"
            SERVICE_USER=cedoka
            STATE_DIR=/var/lib/cedoka
            CACHE_DIR=/var/cache/cedoka
            ENV_NAME=agent.env
            UNIT=cedoka-agent.service
            ROLE_EXTRAS=printers,ui,window
            COMMAND=cedoka
            APT_PACKAGES=("${KIOSK_APT_PACKAGES[@]}")
            OTHER_UNIT=cedoka-district.service
            OTHER_EXTRAS=district
            ;;
        district)
            ROLE_NAME="district server"
            SERVICE_USER=cedoka-district
            STATE_DIR=/var/lib/cedoka-district
            CACHE_DIR=""
            ENV_NAME=district.env
            UNIT=cedoka-district.service
            ROLE_EXTRAS=district
            COMMAND=cedoka-district
            APT_PACKAGES=("${DISTRICT_APT_PACKAGES[@]}")
            OTHER_UNIT=cedoka-agent.service
            OTHER_EXTRAS=printers,ui,window
            ;;
    esac
}

# The path $1 of the installed system, inside --root DIR when given.
at() { printf '%s%s' "$ROOT" "$1"; }

# Run a command that changes the system outside the installed files (users, services,
# devices); under --root only say what was skipped.
system() {
    if [[ -n $ROOT ]]; then
        echo "skipped under --root: $*"
        return 0
    fi
    "$@"
}

# The other role (kiosk ↔ district) is installed here too: it shares /opt/cedoka.
other_role_installed() {
    [[ -f $(at "$UNIT_DIR/$OTHER_UNIT") ]]
}

check_privileges() {
    if [[ -n $ROOT ]]; then
        mkdir -p "$ROOT" || die "cannot create the root directory $ROOT"
        return 0
    fi
    if ((EUID != 0)); then
        die "the production install changes this system (apt packages, a system user," \
            "systemd units): run it as root (sudo ./install.sh $*), or give --root DIR to" \
            "install into a throw-away directory"
    fi
    command -v systemctl >/dev/null 2>&1 \
        || die "systemd (systemctl) not found: Debian 12 with systemd is needed"
}

# Install the shipped file $1 (under deploy/) as $2 with mode $3, replacing what is there.
install_file() {
    local src=$SRC_DIR/deploy/$1 dest
    dest=$(at "$2")
    [[ -f $src ]] || die "missing $src (an incomplete source tree?)"
    if [[ -f $dest ]] && cmp -s "$src" "$dest"; then
        echo "unchanged: $2"
    else
        install -D -m "$3" "$src" "$dest"
        echo "installed: $2"
    fi
}

# Install the shipped configuration file $1 (under deploy/) as $2 only when absent: the
# admin's edits survive upgrades. A shipped file that differs is put beside it as $2.new.
install_config() {
    local src=$SRC_DIR/deploy/$1 dest
    dest=$(at "$2")
    [[ -f $src ]] || die "missing $src (an incomplete source tree?)"
    if [[ ! -e $dest ]]; then
        install -D -m 0644 "$src" "$dest"
        echo "installed: $2"
    elif cmp -s "$src" "$dest"; then
        rm -f "$dest.new"  # an older .new is outdated now
        echo "unchanged: $2"
    else
        install -m 0644 "$src" "$dest.new"
        echo "kept your $2 (it differs from the shipped one); the shipped version is"
        echo "  $2.new: compare with 'diff -u $2 $2.new' and merge by hand"
    fi
}

# --- production: releases -------------------------------------------------------------------

# The top-level packages that setup.cfg builds ([options.packages.find] include).
package_dirs() {
    "$PROD_PYTHON" - <<'PY'
import configparser

config = configparser.RawConfigParser()
config.read("setup.cfg")
names = config["options.packages.find"]["include"].split()
print("\n".join(sorted({name.split(".")[0] for name in names})))
PY
}

setup_version() {
    "$PROD_PYTHON" - <<'PY'
import configparser

config = configparser.RawConfigParser()
config.read("setup.cfg")
print(config["metadata"]["version"])
PY
}

# Copy what the Python package is built from into $1 (never build inside the source tree:
# it may be read-only, and setuptools leaves build/ and *.egg-info behind).
stage_source() {
    local dest=$1 dirs files=(setup.cfg pyproject.toml README.md) extra
    mapfile -t dirs < <(package_dirs)
    ((${#dirs[@]} > 0)) || die "setup.cfg names no packages"
    for extra in LICENSE MANIFEST.in; do
        if [[ -e $extra ]]; then
            files+=("$extra")
        fi
    done
    mkdir -p "$dest"
    tar -C "$SRC_DIR" --exclude=__pycache__ --exclude='*.pyc' -cf - "${files[@]}" "${dirs[@]}" \
        | tar -C "$dest" -xf -
}

# 12 hex digits over the staged source, the extras and the Python version: a release built
# from the same three is the same release.
release_hash() {
    local stage=$1 extras=$2 python_version=$3 sum
    sum=$(
        cd "$stage" \
            && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum \
            && printf 'extras=%s\npython=%s\n' "$extras" "$python_version"
    )
    sum=$(sha256sum <<<"$sum")
    printf '%s' "${sum:0:12}"
}

# Build (or find already built) the release for this source tree with the extras $1, in
# its own venv at its final path (venvs are not relocatable). Sets RELEASE_NAME.
build_release() {
    local extras=$1 python_version version stage dir output
    say "building the release (extras: $extras)"
    [[ -x $PROD_PYTHON ]] || die "$PROD_PYTHON not found (apt-get install python3-venv)"
    python_is_new_enough "$PROD_PYTHON" \
        || die "$PROD_PYTHON is older than Python ${MIN_PYTHON[0]}.${MIN_PYTHON[1]}"
    "$PROD_PYTHON" -c 'import ensurepip, venv' 2>/dev/null \
        || die "$PROD_PYTHON cannot create venvs (apt-get install python3-venv)"
    python_version=$("$PROD_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    version=$(setup_version)
    [[ $version =~ ^[0-9A-Za-z.+_-]+$ ]] || die "setup.cfg: unusable version '$version'"

    stage=$(mktemp -d "${TMPDIR:-/tmp}/cedoka-install.XXXXXX")
    CLEANUP+=("$stage")
    stage_source "$stage/src"
    RELEASE_NAME="$version-$(release_hash "$stage/src" "$extras" "$python_version")"
    dir=$(at "$OPT_DIR/releases/$RELEASE_NAME")
    install -d -m 0755 "$(at "$OPT_DIR")" "$(at "$OPT_DIR/releases")"

    if [[ -f $dir/$RELEASE_MARKER ]] && "$dir/bin/cedoka" --version >/dev/null 2>&1; then
        echo "already built: $OPT_DIR/releases/$RELEASE_NAME"
        return 0
    fi
    rm -rf "$dir"  # a build that did not finish
    echo "creating $OPT_DIR/releases/$RELEASE_NAME with $PROD_PYTHON (Python $python_version)"
    "$PROD_PYTHON" -m venv "$dir" || { rm -rf "$dir"; die "could not create the venv $dir"; }
    echo "pip install cedoka[$extras] (a real, non-editable install)"
    if ! "$dir/bin/python" -m pip install "${PIP_FLAGS[@]}" --no-warn-script-location \
        "$stage/src[$extras]"; then
        rm -rf "$dir"
        die "pip install failed; the installed release is unchanged"
    fi
    # A release that cannot start or fails its known-answer tests never becomes current.
    if ! output=$("$dir/bin/cedoka" --version 2>&1 && "$dir/bin/cedoka-district" --version 2>&1 \
        && "$dir/bin/cedoka" selftest 2>&1); then
        printf '%s\n' "$output" >&2
        rm -rf "$dir"
        die "the new release failed 'cedoka --version', 'cedoka-district --version' or" \
            "'cedoka selftest'; nothing changed"
    fi
    echo "checked: $("$dir/bin/cedoka" --version), selftest passed"
    printf 'version=%s\nhash=%s\nextras=%s\npython=%s\nbuilt=%s\n' "$version" \
        "${RELEASE_NAME##*-}" "$extras" "$python_version" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        >"$dir/$RELEASE_MARKER"
}

# Point current at the release RELEASE_NAME (atomically: a new symlink renamed over the old
# one) and previous at the release current pointed at before.
switch_release() {
    local opt old new=releases/$RELEASE_NAME
    opt=$(at "$OPT_DIR")
    old=$(readlink "$opt/current" 2>/dev/null || true)
    if [[ $old == "$new" ]]; then
        echo "current is already $RELEASE_NAME"
        return 0
    fi
    ln -sfn "$new" "$opt/.current.tmp"
    mv -T "$opt/.current.tmp" "$opt/current"
    echo "current → $new"
    if [[ -n $old && -d $opt/$old ]]; then
        ln -sfn "$old" "$opt/.previous.tmp"
        mv -T "$opt/.previous.tmp" "$opt/previous"
        echo "previous → $old (for a rollback)"
    fi
}

# Delete every release but current and previous.
prune_releases() {
    local opt dir name keep_current keep_previous
    opt=$(at "$OPT_DIR")
    keep_current=$(basename "$(readlink "$opt/current" 2>/dev/null || echo none)")
    keep_previous=$(basename "$(readlink "$opt/previous" 2>/dev/null || echo none)")
    for dir in "$opt"/releases/*; do
        [[ -e $dir ]] || continue
        name=${dir##*/}
        [[ $name == "$keep_current" || $name == "$keep_previous" ]] && continue
        rm -rf "$dir"
        echo "pruned: $OPT_DIR/releases/$name"
    done
}

# --- production: install ------------------------------------------------------------------

ensure_system_user() {
    local user=$SERVICE_USER
    say "system user $user"
    if [[ -n $ROOT ]]; then
        echo "skipped under --root: useradd --system $user (home $STATE_DIR, no login shell)"
    elif getent passwd "$user" >/dev/null; then
        echo "already there: $user"
    else
        local group=(--user-group)
        if getent group "$user" >/dev/null; then
            group=(--gid "$user")
        fi
        useradd --system "${group[@]}" --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "Cedoka $ROLE_NAME" "$user"
        echo "created: $user"
    fi
}

install_state_dir() {
    local dir
    dir=$(at "$STATE_DIR")
    say "state directory $STATE_DIR"
    if [[ -d $dir ]]; then
        chmod 0700 "$dir"
        echo "kept: $STATE_DIR (mode 0700)"
    else
        install -d -m 0700 "$dir"
        echo "created: $STATE_DIR (mode 0700)"
    fi
    system chown "$SERVICE_USER:$SERVICE_USER" "$dir"
}

install_cli_link() {
    local link target=../../..$OPT_DIR/current/bin/$COMMAND
    link=$(at "$BIN_DIR/$COMMAND")
    if [[ -e $link || -L $link ]] && [[ $(readlink "$link" || true) != "$target" ]]; then
        echo "left alone: $BIN_DIR/$COMMAND is not ours (run $OPT_DIR/current/bin/$COMMAND)"
        return 0
    fi
    mkdir -p "$(dirname "$link")"
    ln -sfn "$target" "$link"
    echo "installed: $BIN_DIR/$COMMAND → $OPT_DIR/current/bin/$COMMAND"
}

add_kiosk_user() {
    [[ -n $KIOSK_USER ]] || return 0
    say "kiosk user $KIOSK_USER"
    system usermod -a -G "$SERVICE_USER" "$KIOSK_USER"
    echo "$KIOSK_USER is in group $SERVICE_USER from their next login: the kiosk window"
    echo "can read $KIOSK_URL_FILE (0640), never the state in $STATE_DIR (0700)"
}

# 'PreserveJobFiles No': CUPS keeps no copy of a printed document (personal data). Replace
# an existing PreserveJobFiles line, else append one; keep one backup of the original.
configure_cups() {
    local conf tmp
    conf=$(at "$CUPSD_CONF")
    say "CUPS: PreserveJobFiles No in $CUPSD_CONF"
    if [[ ! -f $conf ]]; then
        echo "no $CUPSD_CONF${ROOT:+ in $ROOT}: CUPS is not installed; once it is, set"
        echo "'PreserveJobFiles No' there (or run this installer again)"
        return 0
    fi
    tmp=$(mktemp "$conf.cedoka.XXXXXX")
    CLEANUP+=("$tmp")
    if grep -Eiq '^[[:space:]]*PreserveJobFiles([[:space:]]|$)' "$conf"; then
        sed -E 's/^[[:space:]]*PreserveJobFiles([[:space:]].*)?$/PreserveJobFiles No/I' \
            "$conf" >"$tmp"
    else
        cat "$conf" >"$tmp"
        if [[ -s $conf && -n $(tail -c 1 "$conf") ]]; then
            echo >>"$tmp"  # the file did not end with a newline
        fi
        printf '%s\n' "# Cedoka (install.sh): keep no document files after printing." \
            "PreserveJobFiles No" >>"$tmp"
    fi
    if cmp -s "$conf" "$tmp"; then
        rm -f "$tmp"
        echo "already set"
        return 0
    fi
    if [[ ! -e $conf.cedoka-orig ]]; then
        cp -p "$conf" "$conf.cedoka-orig"
        echo "backup of the original: $CUPSD_CONF.cedoka-orig"
    fi
    chmod --reference="$conf" "$tmp"
    if [[ -n $ROOT ]]; then
        echo "skipped under --root: chown (the new $CUPSD_CONF gets the owner of the old one)"
    else
        chown --reference="$conf" "$tmp"
    fi
    mv -f "$tmp" "$conf"
    echo "set"
    system systemctl try-restart cups.service
}

install_udev_rule() {
    say "udev rule for USB receipt printers"
    install_file udev/70-cedoka-receipt.rules "$UDEV_RULE" 0644
    install_file modules-load/cedoka-serial.conf "$MODULES_LOAD_FILE" 0644
    if [[ -n $ROOT ]] || command -v udevadm >/dev/null 2>&1; then
        system udevadm control --reload
        system udevadm trigger --subsystem-match=usb
    else
        echo "udevadm not found: the rule applies from the next boot"
    fi
    if [[ -n $ROOT ]] || command -v modprobe >/dev/null 2>&1; then
        system modprobe -a usbserial cdc_acm \
            || echo "could not load usbserial/cdc_acm now; they load at the next boot"
    fi
}

# daemon-reload, enable the unit; restart every installed Cedoka unit that runs (an upgrade:
# a running service keeps its old release until restarted, and the release before that may
# just have been pruned).
activate_units() {
    local unit
    say "systemd"
    system systemctl daemon-reload
    system systemctl enable "$UNIT"
    if [[ $ROLE == kiosk ]]; then
        system systemctl enable --now "$UPDATE_TIMER"
    fi
    if [[ -n $ROOT ]]; then
        echo "skipped under --root: restart $UNIT if it runs"
        return 0
    fi
    for unit in "$UNIT" "$OTHER_UNIT"; do
        [[ -f $UNIT_DIR/$unit ]] || continue
        if systemctl is-active --quiet "$unit"; then
            systemctl restart "$unit"
            echo "restarted: $unit"
        elif [[ $unit == "$UNIT" ]]; then
            echo "$unit is enabled, not running (start it once set up: see below)"
        fi
    done
}

kiosk_next_steps() {
    cat <<EOF

Next steps (as root):
  1. Enrol this PC with the district, with the one-time code from district IT:
       sudo -u cedoka cedoka enroll --server https://DISTRICT-SERVER:8443 --code CODE \\
           --printer a4=cups:QUEUE
     (the CUPS queues: lpstat -e; a receipt printer too: --printer receipt=escpos:usb:VVVV:PPPP)
  2. Start the agent:   systemctl start cedoka-agent
  3. Check the kiosk:   sudo -u cedoka cedoka doctor
  4. The kiosk window opens at the graphical login of a user in group cedoka
     (./install.sh --kiosk-user USER adds one).
EOF
}

# How to upgrade and roll back.
upgrade_hint() {
    cat <<EOF
Upgrade: run this installer again from a newer source tree. Back to the release before:
  cd $OPT_DIR && ln -sfn "\$(readlink previous)" current.new && mv -T current.new current
  systemctl restart $UNIT
EOF
}

district_next_steps() {
    local cli="sudo -u cedoka-district cedoka-district --home $STATE_DIR"
    cat <<EOF

Next steps (as root):
  1. Create the district's keys (prints the root key's fingerprint for the enrolment codes):
       $cli init --name "Disdukcapil …" --code 74.08
  2. Choose how the kiosks reach the server: CEDOKA_SERVE_ARGS in $ETC_DIR/district.env
     (TLS on 0.0.0.0:8443, or a reverse proxy in front of 127.0.0.1:8700; either way
     --public-url https://… with the URL the kiosks use), then
       systemctl start cedoka-district
  3. Add the village offices and give each an enrolment code:
       $cli office add 74.08.01.2002 --name "Desa …"
       $cli enroll-code 74.08.01.2002 --valid 72h
EOF
}

install_role() {
    local extras
    say "Cedoka $ROLE_NAME: install or upgrade${ROOT:+ into $ROOT}"
    if [[ -n $KIOSK_USER && -z $ROOT ]]; then
        getent passwd "$KIOSK_USER" >/dev/null || die "--kiosk-user: no user '$KIOSK_USER' here"
    fi
    ensure_apt_packages "${APT_PACKAGES[@]}"
    ensure_system_user

    # One release serves every role installed here (one venv: simplest, one upgrade).
    extras=$ROLE_EXTRAS
    if other_role_installed; then
        extras+=,$OTHER_EXTRAS
    fi
    install -d -m 0755 "$(at "$OPT_DIR")"
    exec 9>"$(at "$OPT_DIR")/.install.lock"
    flock -n 9 || die "another install.sh is running on $(at "$OPT_DIR")"
    build_release "$(normalize_extras "$extras")"
    switch_release
    prune_releases
    install_cli_link

    install_state_dir
    say "configuration $ETC_DIR/$ENV_NAME"
    install_config "env/$ENV_NAME" "$ETC_DIR/$ENV_NAME"
    say "systemd unit $UNIT"
    install_file "systemd/$UNIT" "$UNIT_DIR/$UNIT" 0644
    if [[ $ROLE == kiosk ]]; then
        say "self-update timer $UPDATE_TIMER (ADR 0031)"
        install_file "systemd/$UPDATE_SERVICE" "$UNIT_DIR/$UPDATE_SERVICE" 0644
        install_file "systemd/$UPDATE_TIMER" "$UNIT_DIR/$UPDATE_TIMER" 0644
        say "kiosk window autostart"
        install_file xdg/cedoka-kiosk.desktop "$AUTOSTART_FILE" 0644
        add_kiosk_user
        configure_cups
        install_udev_rule
    fi
    activate_units
    say "installed: Cedoka $ROLE_NAME, release $RELEASE_NAME${ROOT:+ (in $ROOT)}"
    if [[ $ROLE == kiosk ]]; then kiosk_next_steps; else district_next_steps; fi
    upgrade_hint
}

# --- production: uninstall ------------------------------------------------------------------

# Whether to delete the state too: --purge, or "yes" typed on the terminal. Never asks
# without a terminal on stdin or under CI.
want_purge() {
    local answer=""
    if ((PURGE)); then
        return 0
    fi
    if [[ -n ${CI:-} || ! -t 0 ]] || ! { : </dev/tty; } 2>/dev/null; then
        return 1
    fi
    printf '\nAlso delete %s?\nThis cannot be undone. Type yes to delete them: ' "$1" >/dev/tty
    read -r answer </dev/tty || true
    [[ $answer == yes ]]
}

# What of this role's state is left, comma-separated ("" for nothing): the state directory,
# the cache, the environment file, the system user.
state_left() {
    local path left=()
    for path in "$STATE_DIR" "$CACHE_DIR" "$ETC_DIR/$ENV_NAME"; do
        if [[ -n $path && -e $(at "$path") ]]; then
            left+=("$path")
        fi
    done
    if ((${#left[@]} > 0)); then
        left[0]+=" ($STATE_WHAT)"
    fi
    if [[ -z $ROOT ]] && getent passwd "$SERVICE_USER" >/dev/null; then
        left+=("the system user $SERVICE_USER")
    fi
    local item joined=""
    for item in "${left[@]}"; do
        joined+="${joined:+, }$item"
    done
    printf '%s' "$joined"
}

purge_state() {
    local path
    say "deleting the state"
    for path in "$STATE_DIR" "$CACHE_DIR" "${ROLE_RUNTIME_DIR:-}" "$ETC_DIR/$ENV_NAME" \
        "$ETC_DIR/$ENV_NAME.new"; do
        [[ -n $path && -e $(at "$path") ]] || continue
        rm -rf "$(at "$path")"
        echo "deleted: $path"
    done
    if rmdir "$(at "$ETC_DIR")" 2>/dev/null; then
        echo "deleted: $ETC_DIR (it was empty)"
    fi
    if [[ -n $ROOT ]]; then
        echo "skipped under --root: userdel $SERVICE_USER; groupdel $SERVICE_USER"
    elif getent passwd "$SERVICE_USER" >/dev/null; then
        userdel "$SERVICE_USER"
        echo "deleted: user $SERVICE_USER"
    fi
    if [[ -z $ROOT ]] && getent group "$SERVICE_USER" >/dev/null; then
        groupdel "$SERVICE_USER"  # still there when a kiosk user was a member
        echo "deleted: group $SERVICE_USER"
    fi
}

# Remove the installed file $1 if it is there.
remove_file() {
    if [[ -e $(at "$1") || -L $(at "$1") ]]; then
        rm -f "$(at "$1")"
        echo "removed: $1"
    fi
}

uninstall_role() {
    local path link again left
    say "Cedoka $ROLE_NAME: uninstall${ROOT:+ from $ROOT}"
    if [[ -n $ROOT ]]; then
        echo "skipped under --root: systemctl disable --now $UNIT"
    elif [[ -f $UNIT_DIR/$UNIT ]]; then
        systemctl disable --now "$UNIT" || true
    fi
    if [[ $ROLE == kiosk && -z $ROOT && -f $UNIT_DIR/$UPDATE_TIMER ]]; then
        systemctl disable --now "$UPDATE_TIMER" || true
    fi
    remove_file "$UNIT_DIR/$UNIT"
    if [[ $ROLE == kiosk ]]; then
        remove_file "$UNIT_DIR/$UPDATE_TIMER"
        remove_file "$UNIT_DIR/$UPDATE_SERVICE"
    fi
    system systemctl daemon-reload
    if [[ $ROLE == kiosk ]]; then
        for path in "$AUTOSTART_FILE" "$UDEV_RULE" "$MODULES_LOAD_FILE"; do
            remove_file "$path"
        done
        if [[ -n $ROOT ]] || command -v udevadm >/dev/null 2>&1; then
            system udevadm control --reload
        fi
    fi
    link=$(at "$BIN_DIR/$COMMAND")
    if [[ -L $link && $(readlink "$link") == "../../..$OPT_DIR/current/bin/$COMMAND" ]]; then
        rm -f "$link"
        echo "removed: $BIN_DIR/$COMMAND"
    fi
    if other_role_installed; then
        echo "kept: $OPT_DIR (the installed ${OTHER_UNIT%.service} runs from it)"
    elif [[ -e $(at "$OPT_DIR") ]]; then
        rm -rf "$(at "$OPT_DIR")"
        echo "removed: $OPT_DIR"
    fi
    if [[ $ROLE == kiosk && -e $(at "$CUPSD_CONF.cedoka-orig") ]]; then
        echo "left as it is: 'PreserveJobFiles No' in $CUPSD_CONF (safe for any CUPS; the"
        echo "original is $CUPSD_CONF.cedoka-orig)"
    fi

    left=$(state_left)
    if [[ -z $left ]]; then
        say "uninstalled: Cedoka $ROLE_NAME (no state was left)"
        return 0
    fi
    if want_purge "$left"; then
        purge_state
        say "uninstalled: Cedoka $ROLE_NAME, state deleted"
        return 0
    fi
    again="./install.sh --uninstall --purge${ROOT:+ --root $ROOT}"
    if [[ $ROLE == district ]]; then
        again+=" --district"
    fi
    say "uninstalled: Cedoka $ROLE_NAME; the state is kept"
    if [[ -n ${CI:-} ]]; then
        echo "(CI is set: not asking whether to delete it)"
    fi
    echo "kept: $left"
    echo "to delete them too: sudo $again"
}

run_production() {
    set_role
    if [[ $ROLE == kiosk ]]; then
        STATE_WHAT="the kiosk's keys, spool and sealed documents"
        ROLE_RUNTIME_DIR=/run/cedoka
    else
        STATE_WHAT="the district's keys and database"
        ROLE_RUNTIME_DIR=""
    fi
    check_privileges "$@"
    umask 022  # the releases and units must be readable by the service users
    if ((UNINSTALL)); then
        uninstall_role
    else
        install_role
    fi
}

CLEANUP=()
cleanup() {
    if ((${#CLEANUP[@]} > 0)); then
        rm -rf "${CLEANUP[@]}"
    fi
}
trap cleanup EXIT

main() {
    case "${1:-}" in
        --test)
            (($# == 1)) || usage_error "--test takes no other argument"
            run_test_mode
            ;;
        --demo)
            shift
            run_demo "$@"
            ;;
        --help | -h)
            usage
            ;;
        *)
            parse_production_args "$@"
            run_production "$@"
            ;;
    esac
}

main "$@"
