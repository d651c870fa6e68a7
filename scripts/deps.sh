#!/bin/sh
# deps.sh - installs the Debian packages pop3d needs to build, test and
# run its demo, if any are missing.  Idempotent and quick when all are
# there.  Needs root (or sudo) only when something is missing.
set -eu

PKGS="build-essential pkg-config libssl-dev libevent-dev libcrypt-dev
libcmocka-dev python3 python3-pytest curl openssl clang valgrind"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh once if an install fails.
if ! $SUDO apt-get install -y -q --no-install-recommends $missing; then
	$SUDO apt-get update -q
	$SUDO apt-get install -y -q --no-install-recommends $missing
fi
