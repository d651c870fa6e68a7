#!/bin/sh
# fetch-bench.sh [BUILD_DIR] [N] - time to fetch N (default 5000) messages
# of about 4 KB from a local pop3d over implicit TLS with pop3fetch, mpop
# and fetchmail, on the same machine in the same run, each into a fresh
# Maildir (fetchmail through an MDA writing to a Maildir), keeping the
# messages on the server.  Not part of make check.  Needs root (pop3d
# drops privileges to nobody/daemon) and Debian's mpop and fetchmail.
# FETCH_BENCH_ONLY="pop3fetch mpop" runs only those (fetchmail is slow).
set -eu

B=${1:-build}
N=${2:-5000}
B=$(cd "$B" && pwd)
D=$(mktemp -d /tmp/fetch-bench.XXXXXX)
chmod 755 "$D"
PORT=${BENCH_PORT:-12995}
ONLY=" ${FETCH_BENCH_ONLY:-pop3fetch mpop fetchmail} "
want() { case "$ONLY" in *" $1 "*) return 0 ;; esac; return 1; }
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$D"' EXIT INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$D/key.pem" -out "$D/cert.pem" 2>/dev/null
chmod 600 "$D/key.pem"
PW=bench-$(openssl rand -hex 6)
printf 'bench:%s\n' "$(printf '%s\n' "$PW" | "$B/tools/mkhash")" > "$D/passwd"
chown root:daemon "$D/passwd"
chmod 640 "$D/passwd"

M="$D/mail/bench"
mkdir -p "$M/new" "$M/cur" "$M/tmp"
python3 - "$M" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
line = "x" * 75 + "\n"
for i in range(1, n + 1):
    body = ("From: s%d@example.org\nTo: bench@localhost\nSubject: bench %d\n"
            "Message-ID: <bench-%d@localhost>\n\n" % (i, i, i)) + line * 52
    with open(os.path.join(d, "new", "%d.M%dP1.bench" % (1700000000 + i, i)), "w") as f:
        f.write(body)
PY
chown -R nobody "$D/mail"

cat > "$D/pop3d.conf" <<CONF
[server]
listen_tls = 127.0.0.1:$PORT
user = nobody
auth_user = daemon
mail_root = $D/mail
[tls]
cert = $D/cert.pem
key = $D/key.pem
[auth]
passwd_file = $D/passwd
fail_delay_ms = 0
CONF
"$B/pop3d" -c "$D/pop3d.conf" 2>"$D/pop3d.log" &
PID=$!
i=0
until grep -q ready "$D/pop3d.log"; do
	i=$((i + 1)); [ $i -lt 100 ] || { cat "$D/pop3d.log"; exit 1; }
	sleep 0.1
done

now() { date +%s.%N; }
count() { find "$1/new" "$1/cur" -type f 2>/dev/null | wc -l; }
report() { printf '%-10s %8.2f s  %s messages\n' "$1" "$2" "$3"; }

# pop3fetch
printf '%s\n' "$PW" > "$D/pw"
mkdir -p "$D/h1"
cat > "$D/pop3fetch.conf" <<CONF
[bench]
host = localhost
port = $PORT
user = bench
password_command = cat $D/pw
tls_ca_file = $D/cert.pem
destination = maildir:$D/out-pop3fetch
CONF
if want pop3fetch; then
	t0=$(now)
	HOME=$D/h1 XDG_STATE_HOME=$D/h1/state "$B/pop3fetch" \
	    -C "$D/pop3fetch.conf"
	t1=$(now)
	report pop3fetch "$(echo "$t1 - $t0" | bc)" \
	    "$(count "$D/out-pop3fetch")"
fi

# mpop
if want mpop && command -v mpop >/dev/null; then
	mkdir -p "$D/out-mpop/new" "$D/out-mpop/cur" "$D/out-mpop/tmp"
	cat > "$D/mpoprc" <<CONF
account bench
host localhost
port $PORT
tls on
tls_starttls off
tls_trust_file $D/cert.pem
user bench
passwordeval cat $D/pw
auth plain
keep on
delivery maildir $D/out-mpop
uidls_file $D/mpop-uidls
CONF
	chmod 600 "$D/mpoprc"
	t0=$(now)
	mpop -q -C "$D/mpoprc" bench || echo "mpop: status $?"
	t1=$(now)
	report mpop "$(echo "$t1 - $t0" | bc)" "$(count "$D/out-mpop")"
fi

# fetchmail (no Maildir of its own: an MDA that writes one file per message)
if want fetchmail && command -v fetchmail >/dev/null; then
	mkdir -p "$D/out-fetchmail/new" "$D/h2"
	cat > "$D/fetchmailrc" <<CONF
set no bouncemail
poll localhost service $PORT protocol pop3 uidl
  user bench password "$PW" ssl sslcertck sslcertfile $D/cert.pem
  keep fetchall
  mda "/bin/sh -c 'cat > $D/out-fetchmail/new/\$\$.\$(date +%s%N)'"
CONF
	chmod 600 "$D/fetchmailrc"
	t0=$(now)
	HOME=$D/h2 fetchmail -s -f "$D/fetchmailrc" --idfile "$D/fm-ids" \
	    --pidfile "$D/fm.pid" || echo "fetchmail: status $?"
	t1=$(now)
	report fetchmail "$(echo "$t1 - $t0" | bc)" "$(count "$D/out-fetchmail")"
fi
