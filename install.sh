#!/bin/sh
# dldoctor installer: a diagnosed machine, and if you ask, a verified PyTorch environment.
#
#   curl -fsSL https://raw.githubusercontent.com/dldoctor/dldoctor/main/install.sh | sh
#   curl -fsSL https://raw.githubusercontent.com/dldoctor/dldoctor/main/install.sh | sh -s -- --setup pytorch
#
# Options (after `sh -s --`):
#   --setup FRAMEWORK   after the check, run `dldoctor setup FRAMEWORK` (pytorch, tensorflow, jax);
#                       arguments after `--` go to it: --setup pytorch -- --backend venv --variant cpu
#   --yes               as root, install a missing Python with the system package manager
#   --bin-dir DIR       where the `dldoctor` command is linked (default ~/.local/bin; /usr/local/bin as root)
#   --uninstall         remove dldoctor's environment, the link and the PATH line
#   --dry-run           print every step without doing it
#   --quiet             print only errors and the check's result
#   --no-check          do not run `dldoctor check` at the end
#   -h, --help          this text
#
# Environment:
#   DLDOCTOR_HOME             where dldoctor's own environment goes
#                             (default ~/.local/share/dldoctor; /opt/dldoctor as root)
#   DLDOCTOR_VERSION          install this version from the package index
#   DLDOCTOR_SOURCE           install from a wheel file, an https URL of a wheel, or a git URL (git+https://...)
#   DLDOCTOR_SHA256           the sha256 of the wheel at DLDOCTOR_SOURCE (default: read from URL.sha256)
#   DLDOCTOR_NO_MODIFY_PATH=1 never touch shell profiles
#
# The whole body is functions; the last line calls main with a marker, so a
# download cut short anywhere runs nothing at all.

set -u

PATH_MARKER="# added by the dldoctor installer"
# Written into DLDOCTOR_HOME when the installer makes it: --uninstall removes only a folder that holds it.
HOME_MARKER=".dldoctor-installer"

say() {
    if [ "$QUIET" -eq 0 ]; then
        printf 'dldoctor-install: %s\n' "$*"
    fi
}

warn() {
    printf 'dldoctor-install: warning: %s\n' "$*" >&2
}

die() {
    printf 'dldoctor-install: error: %s\n' "$*" >&2
    exit "${2:-1}"
}

usage() {
    cat <<'EOF_USAGE'
usage: curl -fsSL <install.sh URL> | sh -s -- [options]

  --setup FRAMEWORK   after the check, run `dldoctor setup FRAMEWORK` (pytorch, tensorflow, jax);
                      arguments after `--` go to it (--setup pytorch -- --backend venv)
  --yes               as root, install a missing Python with the system package manager
  --bin-dir DIR       where the `dldoctor` command is linked
  --uninstall         remove dldoctor's environment, the link and the PATH line
  --dry-run           print every step without doing it
  --quiet             print only errors and the check's result
  --no-check          do not run `dldoctor check` at the end

environment: DLDOCTOR_HOME, DLDOCTOR_VERSION, DLDOCTOR_SOURCE, DLDOCTOR_SHA256, DLDOCTOR_NO_MODIFY_PATH=1
EOF_USAGE
}

# run CMD ARGS...: do it, or print it under --dry-run.
# A word quoted for eval: 'it'\''s'.
quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

run() {
    if [ "$DRY_RUN" -eq 1 ]; then
        printf 'would run: %s\n' "$*"
        return 0
    fi
    "$@"
}

is_root() {
    [ "$(id -u)" -eq 0 ]
}

# --- the system -------------------------------------------------------------------

package_manager() {
    for pm in apt-get dnf yum zypper apk pacman; do
        if command -v "$pm" >/dev/null 2>&1; then
            printf '%s\n' "$pm"
            return 0
        fi
    done
    printf 'unknown\n'
}

python_packages_for() {
    case "$1" in
        apt-get) printf 'python3 python3-venv\n' ;;
        dnf|yum) printf 'python3 python3-pip\n' ;;
        zypper) printf 'python311\n' ;;
        apk) printf 'python3 py3-pip\n' ;;
        pacman) printf 'python\n' ;;
        *) printf 'python3 (3.10 or newer, with its venv module)\n' ;;
    esac
}

install_command_for() {
    case "$1" in
        apt-get) printf 'apt-get update && apt-get install -y %s\n' "$2" ;;
        dnf) printf 'dnf install -y %s\n' "$2" ;;
        yum) printf 'yum install -y %s\n' "$2" ;;
        zypper) printf 'zypper --non-interactive install %s\n' "$2" ;;
        apk) printf 'apk add %s\n' "$2" ;;
        pacman) printf 'pacman -S --noconfirm %s\n' "$2" ;;
        *) printf 'install %s with your package manager\n' "$2" ;;
    esac
}

# A Python >= 3.10 whose venv module works; prints its path.
find_python() {
    for candidate in python3.13 python3.12 python3.11 python3.10 python3 python; do
        path=$(command -v "$candidate" 2>/dev/null) || continue
        if "$path" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
            >/dev/null 2>&1; then
            printf '%s\n' "$path"
            return 0
        fi
    done
    return 1
}

ensure_python() {
    if PYTHON=$(find_python); then
        say "using $PYTHON ($("$PYTHON" -c 'import platform; print(platform.python_version())'))"
        return 0
    fi
    pm=$(package_manager)
    packages=$(python_packages_for "$pm")
    command=$(install_command_for "$pm" "$packages")
    if [ "$YES" -eq 1 ] && is_root && [ "$pm" != unknown ]; then
        say "installing Python: $command"
        if [ "$DRY_RUN" -eq 1 ]; then
            printf 'would run: %s\n' "$command"
            PYTHON=python3
            return 0
        fi
        sh -c "$command" || die "could not install Python with: $command"
        PYTHON=$(find_python) || die "Python 3.10+ with venv is still missing after: $command"
        return 0
    fi
    die "dldoctor needs Python 3.10 or newer with its venv module; install it with: sudo $command (or run this installer as root with --yes)" 3
}

# --- where things go --------------------------------------------------------------------

default_home() {
    if is_root; then
        printf '/opt/dldoctor\n'
    else
        printf '%s/dldoctor\n' "${XDG_DATA_HOME:-$HOME/.local/share}"
    fi
}

default_bin_dir() {
    if is_root; then
        printf '/usr/local/bin\n'
    else
        printf '%s/.local/bin\n' "$HOME"
    fi
}

profile_files() {
    for f in "$HOME/.profile" "$HOME/.bashrc" "$HOME/.zshrc"; do
        if [ -f "$f" ] || [ "$f" = "$HOME/.profile" ]; then
            printf '%s\n' "$f"
        fi
    done
}

on_path() {
    case ":$PATH:" in
        *":$1:"*) return 0 ;;
        *) return 1 ;;
    esac
}

add_path_line() {
    if [ "${DLDOCTOR_NO_MODIFY_PATH:-0}" = 1 ]; then
        say "not touching shell profiles (DLDOCTOR_NO_MODIFY_PATH=1); add $BIN_DIR to PATH yourself"
        return 0
    fi
    if on_path "$BIN_DIR"; then
        return 0
    fi
    line="export PATH=\"$BIN_DIR:\$PATH\" $PATH_MARKER"
    for profile in $(profile_files); do
        if [ -f "$profile" ] && grep -F "$PATH_MARKER" "$profile" >/dev/null 2>&1; then
            continue
        fi
        say "adding $BIN_DIR to PATH in $profile"
        if [ "$DRY_RUN" -eq 1 ]; then
            printf 'would append to %s: %s\n' "$profile" "$line"
        else
            printf '\n%s\n' "$line" >>"$profile" || warn "could not write $profile"
        fi
    done
}

remove_path_lines() {
    for profile in "$HOME/.profile" "$HOME/.bashrc" "$HOME/.zshrc"; do
        if [ -f "$profile" ] && grep -F "$PATH_MARKER" "$profile" >/dev/null 2>&1; then
            say "removing the PATH line from $profile"
            if [ "$DRY_RUN" -eq 1 ]; then
                printf 'would edit %s\n' "$profile"
            else
                # Written back through the file (a symlinked .bashrc stays a link); the copy is in WORK_DIR.
                kept="$WORK_DIR/profile"
                if { grep -v -F "$PATH_MARKER" "$profile" >"$kept" || [ $? -eq 1 ]; } && cat "$kept" >"$profile"; then
                    :
                else
                    warn "could not edit $profile"
                fi
                rm -f "$kept"
            fi
        fi
    done
}

# --- fetching and checking -----------------------------------------------------------------

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d' ' -f1
    elif command -v openssl >/dev/null 2>&1; then
        openssl dgst -sha256 "$1" | sed 's/^.*= //'
    else
        return 1
    fi
}

download() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 2 --connect-timeout 20 --max-time 600 -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q --timeout=60 -O "$2" "$1"
    else
        die "neither curl nor wget is installed: cannot download $1"
    fi
}

# Prints what pip should install: a requirement, a local wheel or a git URL.
resolve_source() {
    source=${DLDOCTOR_SOURCE:-}
    case "$source" in
        "")
            if [ -n "${DLDOCTOR_VERSION:-}" ]; then
                printf 'dldoctor==%s\n' "$DLDOCTOR_VERSION"
            else
                printf 'dldoctor\n'
            fi
            ;;
        git+*)
            printf '%s\n' "$source"
            ;;
        http://*)
            # Anyone on the path can change both a plain-http wheel and the .sha256 beside it.
            [ -n "${DLDOCTOR_SHA256:-}" ] || die "DLDOCTOR_SOURCE=$source is plain http: use https, or give the wheel's sha256 in DLDOCTOR_SHA256" 2
            fetch_checked "$source"
            ;;
        https://*)
            fetch_checked "$source"
            ;;
        *)
            [ -f "$source" ] || die "DLDOCTOR_SOURCE=$source: no such file" 3
            printf '%s\n' "$source"
            ;;
    esac
}

# Download a wheel and refuse it unless its sha256 matches the published one.
fetch_checked() {
    url=$1
    name=$(basename "$url")
    target="$WORK_DIR/$name"
    if [ "$DRY_RUN" -eq 1 ]; then
        printf 'would download %s and check its sha256\n' "$url" >&2
        printf '%s\n' "$target"
        return 0
    fi
    download "$url" "$target" || die "could not download $url"
    expected=${DLDOCTOR_SHA256:-}
    if [ -z "$expected" ]; then
        download "$url.sha256" "$target.sha256" || die "no published checksum at $url.sha256 (set DLDOCTOR_SHA256 to the wheel's sha256)"
        expected=$(cut -d' ' -f1 <"$target.sha256")
    fi
    actual=$(sha256_of "$target") || die "no sha256 tool (sha256sum, shasum or openssl) to check the download; refusing to install it"
    if [ "$actual" != "$expected" ]; then
        die "checksum mismatch for $name: expected $expected, got $actual; refusing to install it" 4
    fi
    say "checksum ok: $name" >&2
    printf '%s\n' "$target"
}

# --- install, uninstall ---------------------------------------------------------------------

write_home_marker() {
    if [ "$DRY_RUN" -eq 0 ]; then
        printf 'made by the dldoctor installer: --uninstall removes venv/ and this file only\n' \
            >"$DLDOCTOR_HOME/$HOME_MARKER" || die "could not write $DLDOCTOR_HOME/$HOME_MARKER"
    fi
}

install_dldoctor() {
    ensure_python
    venv="$DLDOCTOR_HOME/venv"
    spec=$(resolve_source) || exit $?
    if [ -x "$venv/bin/python" ]; then
        say "upgrading dldoctor in $venv"
    else
        say "creating dldoctor's environment in $venv"
        if [ ! -d "$DLDOCTOR_HOME" ] || [ -f "$DLDOCTOR_HOME/$HOME_MARKER" ]; then
            run mkdir -p "$DLDOCTOR_HOME"
        elif [ -n "$(ls -A "$DLDOCTOR_HOME" 2>/dev/null)" ]; then
            die "DLDOCTOR_HOME=$DLDOCTOR_HOME exists and is not empty: choose a new folder for dldoctor's environment" 2
        fi
        write_home_marker
        run "$PYTHON" -m venv "$venv" || die "could not create a virtual environment in $venv"
    fi
    [ -f "$DLDOCTOR_HOME/$HOME_MARKER" ] || write_home_marker  # an install from before the marker
    pip_quiet=""
    if [ "$QUIET" -eq 1 ]; then
        pip_quiet="--quiet"
    fi
    # shellcheck disable=SC2086  # pip_quiet is empty or one word
    run "$venv/bin/python" -m pip install $pip_quiet --disable-pip-version-check --upgrade "$spec" \
        || die "pip could not install $spec"
    run mkdir -p "$BIN_DIR"
    run ln -sf "$venv/bin/dldoctor" "$BIN_DIR/dldoctor" || die "could not link dldoctor into $BIN_DIR"
    add_path_line
    say "installed: $BIN_DIR/dldoctor"
}

uninstall_dldoctor() {
    link="$BIN_DIR/dldoctor"
    if [ -L "$link" ]; then
        case "$(readlink "$link")" in
            "$DLDOCTOR_HOME"/*)
                say "removing $link"
                run rm -f "$link"
                ;;
            *) warn "$link does not point into $DLDOCTOR_HOME; leaving it" ;;
        esac
    fi
    if [ -d "$DLDOCTOR_HOME" ]; then
        if [ ! -f "$DLDOCTOR_HOME/$HOME_MARKER" ] || [ -L "$DLDOCTOR_HOME/$HOME_MARKER" ]; then
            die "refusing to remove $DLDOCTOR_HOME: the installer did not make it (no $HOME_MARKER in it); remove dldoctor's environment ($DLDOCTOR_HOME/venv) yourself" 2
        fi
        say "removing $DLDOCTOR_HOME/venv"
        run rm -rf "$DLDOCTOR_HOME/venv"
        run rm -f "$DLDOCTOR_HOME/$HOME_MARKER"
        run rmdir "$DLDOCTOR_HOME" 2>/dev/null || say "kept $DLDOCTOR_HOME: it holds files the installer did not make"
    fi
    remove_path_lines
    say "dldoctor is uninstalled"
}

# shellcheck disable=SC2120  # "$@" inside is set from SETUP_ARGS, not passed in
after_install() {
    dld="$DLDOCTOR_HOME/venv/bin/dldoctor"
    if [ "$DRY_RUN" -eq 1 ]; then
        [ "$CHECK" -eq 1 ] && printf 'would run: %s check\n' "$dld"
        [ -n "$SETUP" ] && printf 'would run: %s setup %s%s\n' "$dld" "$SETUP" "$SETUP_ARGS"
        return 0
    fi
    status=0
    if [ "$CHECK" -eq 1 ]; then
        "$dld" check || status=$?
        # Ctrl-C (or a kill) during the check stops here: it never carries on into setup.
        if [ "$status" -ge 128 ]; then
            die "interrupted during dldoctor check; setup was not run" "$status"
        fi
    fi
    if [ -n "$SETUP" ]; then
        say "setting up $SETUP"
        eval "set -- $SETUP_ARGS"
        "$dld" setup "$SETUP" "$@" || die "dldoctor setup $SETUP failed (see above)" 5
        return 0
    fi
    if [ "$QUIET" -eq 0 ]; then
        printf '\nNext:\n'
        # shellcheck disable=SC2016  # $PATH is meant literally: the user types it
        on_path "$BIN_DIR" || printf '  open a new shell (or: export PATH="%s:$PATH")\n' "$BIN_DIR"
        if [ "$status" -ne 0 ]; then
            printf '  fix the errors above, then: dldoctor check\n'
        fi
        printf '  dldoctor setup pytorch     a verified PyTorch environment for this machine\n'
        printf '  dldoctor explain ID        what a finding means\n'
    fi
}

# A fresh folder only this user can read: mktemp, else mkdir (which never follows a planted name or link) of
# an unpredictable name; never a fixed /tmp path.
make_work_dir() {
    if command -v mktemp >/dev/null 2>&1; then
        mktemp -d "${TMPDIR:-/tmp}/dldoctor-install.XXXXXXXX" && return 0
    fi
    random=$(od -An -N12 -tx1 /dev/urandom 2>/dev/null | tr -d ' \n')
    [ -n "$random" ] || return 1
    dir="${TMPDIR:-/tmp}/dldoctor-install.$random"
    (umask 077 && mkdir "$dir") || return 1
    printf '%s\n' "$dir"
}

main() {
    # The marker is the last argument only when the whole script arrived (see the last line).
    complete=0
    for arg in "$@"; do
        if [ "$arg" = "--dldoctor-installer-complete" ]; then
            complete=1
        fi
    done
    eval "last=\${$#}"
    # shellcheck disable=SC2154  # last is set by the eval above
    if [ "$complete" -ne 1 ] || [ "$last" != "--dldoctor-installer-complete" ]; then
        die "the installer was cut short while downloading; nothing was done. Download it again." 6
    fi
    DRY_RUN=0
    QUIET=0
    YES=0
    CHECK=1
    UNINSTALL=0
    SETUP=""
    SETUP_ARGS=""
    BIN_DIR=""
    while [ $# -gt 1 ]; do
        case "$1" in
            --setup) [ $# -gt 2 ] || die "--setup needs a framework (pytorch, tensorflow, jax)" 2; SETUP=$2; shift ;;
            --setup=*) SETUP=${1#--setup=} ;;
            --bin-dir) [ $# -gt 2 ] || die "--bin-dir needs a folder" 2; BIN_DIR=$2; shift ;;
            --bin-dir=*) BIN_DIR=${1#--bin-dir=} ;;
            --yes|-y) YES=1 ;;
            --dry-run) DRY_RUN=1 ;;
            --quiet|-q) QUIET=1 ;;
            --no-check) CHECK=0 ;;
            --uninstall) UNINSTALL=1 ;;
            -h|--help) usage; exit 0 ;;
            --)
                shift
                while [ $# -gt 1 ]; do
                    SETUP_ARGS="$SETUP_ARGS $(quote "$1")"
                    shift
                done
                break
                ;;
            *) die "unknown option: $1 (see --help)" 2 ;;
        esac
        shift
    done
    if [ -n "$SETUP_ARGS" ] && [ -z "$SETUP" ]; then
        die "arguments after -- go to dldoctor setup: give --setup FRAMEWORK too" 2
    fi
    case "$SETUP" in
        ""|pytorch|pytorch==*|tensorflow|tensorflow==*|jax|jax==*) ;;
        *) die "--setup $SETUP: choose pytorch, tensorflow or jax" 2 ;;
    esac
    [ -n "${HOME:-}" ] || die "HOME is not set" 2
    DLDOCTOR_HOME=${DLDOCTOR_HOME:-$(default_home)}
    BIN_DIR=${BIN_DIR:-$(default_bin_dir)}
    WORK_DIR=$(make_work_dir) || die "cannot make a private temporary folder (no mktemp, and ${TMPDIR:-/tmp} refused one)"
    trap 'rm -rf "$WORK_DIR"' EXIT
    trap 'rm -rf "$WORK_DIR"; exit 130' INT
    trap 'rm -rf "$WORK_DIR"; exit 143' TERM
    if [ "$UNINSTALL" -eq 1 ]; then
        uninstall_dldoctor
        return 0
    fi
    install_dldoctor
    after_install
}

main "$@" --dldoctor-installer-complete
