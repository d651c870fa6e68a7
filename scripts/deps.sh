#!/bin/sh
# deps.sh [build|test|bench|ci] - installs the Debian packages that are
# missing for building and running (make, make demo), testing (make
# check: also the real peers the tests talk to), benchmarking (make
# bench) or CI (.ci/run: also mmdebstrap, for the fresh-machine check);
# for test, bench and ci also Debian's Courier POP3 server, unpacked for
# the tests (scripts/courier-pop.sh).
# Installs are --no-install-recommends, so what the programs need at run
# time is named here, not left to a Recommends.  Idempotent and quick
# when all are there.  Needs root (or sudo) only when something is
# missing.  Services in the packages (Postfix, Dovecot, fail2ban, HAProxy,
# PostgreSQL, Prometheus) are not started by the install: the tests start
# their own on loopback ports (a private PostgreSQL cluster made by initdb,
# promtool and a Prometheus with its own config; fail2ban-regex only
# reads a log).
set -eu

# At run time: the openssl command (make demo's certificate), the CA
# store (pop3fetch verifies servers against it), cracklib's dictionary
# (pop3ctl's password policy; without it no password can be set).
RUNTIME="openssl ca-certificates cracklib-runtime"
BUILD="build-essential pkg-config libssl-dev libevent-dev libcrypt-dev
libpwquality-dev libsqlite3-dev libseccomp-dev libpq-dev curl python3 $RUNTIME"
TEST="$BUILD libcmocka-dev python3-pytest clang valgrind
dovecot-pop3d mpop fetchmail postfix swaks mandoc
fail2ban haproxy postgresql prometheus"
BENCH="$TEST linux-perf"

mode=${1:-test}
case "$mode" in
build)	PKGS=$BUILD ;;
test)	PKGS=$TEST ;;
bench)	PKGS=$BENCH ;;
ci)	PKGS="$TEST mmdebstrap" ;;
*)	echo "usage: deps.sh [build|test|bench|ci]" >&2; exit 64 ;;
esac

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# The tests that take over from Courier run Debian's courierpop3d,
# downloaded and unpacked, never installed (courier-pop conflicts with
# dovecot-pop3d and would start daemons): scripts/courier-pop.sh.
courier() {
	case "$mode" in
	test|bench|ci) $SUDO sh "$(dirname "$0")/courier-pop.sh" ;;
	esac
}
if [ -z "$missing" ]; then
	courier
	exit 0
fi

echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive

# Keep packaged daemons from starting (and taking ports 25, 110, 995):
# invoke-rc.d asks policy-rc.d, and 101 means "not now".
policy=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	ours=1
fi
cleanup() { [ -n "$ours" ] && $SUDO rm -f "$policy"; return 0; }
trap cleanup EXIT

# Postfix asks how it is used; a local-only install needs no questions.
echo "postfix postfix/main_mailer_type select Local only" |
    $SUDO debconf-set-selections 2>/dev/null || true
echo "postfix postfix/mailname string localhost" |
    $SUDO debconf-set-selections 2>/dev/null || true

# A fresh machine has no package lists yet; refresh once if an install fails.
if ! $SUDO apt-get install -y -q --no-install-recommends $missing; then
	$SUDO apt-get update -q
	$SUDO apt-get install -y -q --no-install-recommends $missing
fi
courier
