#!/usr/bin/env bash
# The Debian/Ubuntu packages `make test` needs, installed only when missing:
#   make, Python 3.11's venv  to build .venv (.ci/run checks these before make exists)
#   postgresql, redis-server   the throwaway servers of the stack run (tests/harness)
#   nginx, openssl, curl, systemd  the VM deploy tests (tests/deploy): a throwaway nginx with a
#                              self-signed certificate; systemd-analyze on the shipped units
# Nothing missing: apt-get is not touched. Missing and root: apt-get update + install.
# Missing and not root: an error in CI (CI=true: a missing server fails, never
# skips); elsewhere a warning, and the server tests skip saying so.
# Used by .ci/run and by `make test` (the system-packages target).
set -euo pipefail

python_311() {
    if command -v python3.11 >/dev/null 2>&1; then
        echo python3.11
    elif command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        echo python3
    fi
}

in_ci() {
    case "${CI:-}" in 1 | true | TRUE | True | yes) return 0 ;; *) return 1 ;; esac
}

missing=()
needed_to_build=0
command -v make >/dev/null 2>&1 || { missing+=(make); needed_to_build=1; }
python="$(python_311)"
if [ -z "$python" ]; then
    missing+=(python3.11 python3.11-venv)
    needed_to_build=1
elif ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    # Debian splits venv/ensurepip out of the interpreter package.
    missing+=("$(basename "$python")-venv")
    needed_to_build=1
fi
# Debian keeps initdb and pg_ctl off PATH, under /usr/lib/postgresql/<version>/bin.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# Debian keeps nginx in /usr/sbin, off a non-root PATH.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# curl speaks HTTP/2 to the throwaway nginx (tests/harness/nginx.py).
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$EUID" -ne 0 ]; then
    echo "Missing system packages: ${missing[*]} (not root, so not installing them: apt-get install ${missing[*]})." >&2
    if [ "$needed_to_build" -eq 1 ] || in_ci; then
        exit 1
    fi
    echo "Continuing: the tests that need these servers will skip." >&2
    exit 0
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
