#!/bin/sh
# Install what Kite needs to build, test and run its demo on Debian 12.
# Idempotent: when every package is present it prints nothing and exits 0.
# Called by `make check`, `make demo` and .ci/run; safe to run by hand.
set -eu

PACKAGES="build-essential pkg-config libglib2.0-dev libglib2.0-bin libyaml-dev \
libssh2-1-dev libcap-ng-dev libsqlite3-dev sqlite3 libcmocka-dev \
openssh-server openssh-client iproute2 procps psmisc util-linux python3 bc clang-format \
dbus-daemon libxxhash-dev clang libclang-rt-14-dev"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "setup-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "setup-deps: missing packages:$missing; run this script as root" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq </dev/null >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing </dev/null >&2
