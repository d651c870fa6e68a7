#!/bin/sh
# courier-pop.sh [DIR] - fetches Debian's Courier POP3 server for the
# tests that take over a Maildir from it (tests/integration/
# test_uidl_courier.py): downloads courier-pop and the packages its
# courierpop3d loads (courier-base, courier-authlib, libcourier-unicode4,
# libidn12) with apt-get download and unpacks them with dpkg -x into DIR
# (default /var/cache/pop3d-test/courier), which the tests find there
# (or at $POP3D_COURIER).  Nothing is installed: no daemon starts and
# courier-pop's conflict with dovecot-pop3d does not arise; the tests
# run DIR/usr/lib/courier/courier/courierpop3d, the server Courier's
# login runs after authentication, with LD_LIBRARY_PATH into DIR.
# Idempotent and quick when DIR is complete.  Needs the network once.
set -eu

dir=${1:-/var/cache/pop3d-test/courier}
bin=$dir/usr/lib/courier/courier/courierpop3d
PKGS="courier-pop courier-base courier-authlib libcourier-unicode4 libidn12"

[ -x "$bin" ] && [ -f "$dir/.complete" ] && exit 0

mkdir -p "$dir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/courier-pop.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# apt-get download writes into the current directory; as root it warns
# that _apt cannot write there (harmless).  A fresh machine has no
# package lists yet: refresh once if the download fails.
# shellcheck disable=SC2086
if ! (cd "$tmp" && apt-get download -q $PKGS); then
	apt-get update -q
	(cd "$tmp" && apt-get download -q $PKGS)
fi
for d in "$tmp"/*.deb; do
	dpkg -x "$d" "$dir"
done
[ -x "$bin" ] || { echo "courier-pop.sh: no $bin" >&2; exit 1; }
: >"$dir/.complete"
