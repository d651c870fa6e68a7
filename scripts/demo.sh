#!/bin/sh
# demo.sh BUILD_DIR - a throw-away pop3d on loopback: a state folder with
# config, a self-signed certificate, a user "demo" with a random password
# and a few messages, and a ready pop3fetch config (account "demo"; the
# password in a file only the invoking user can read); prints how to
# fetch them, then runs pop3d in the foreground (Ctrl-C stops it).
# Ports: POP3_PORT (default 11110, STLS) and POP3S_PORT (default 11995,
# implicit TLS).  The state folder is made in $TMPDIR (default /tmp).
set -eu

B=${1:-build}
B=$(cd "$B" && pwd)
PORT=${POP3_PORT:-11110}
SPORT=${POP3S_PORT:-11995}
D=$(mktemp -d "${TMPDIR:-/tmp}/pop3d-demo.XXXXXX")
chmod 755 "$D"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 30 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$D/key.pem" -out "$D/cert.pem" 2>/dev/null
chmod 600 "$D/key.pem"

PW=$(openssl rand -hex 9)
HASH=$(printf '%s\n' "$PW" | "$B/tools/mkhash")
printf 'demo:%s\n' "$HASH" > "$D/passwd"

M="$D/mail/demo"
mkdir -p "$M/new" "$M/cur" "$M/tmp"
now=$(date +%s)
i=1
for subj in "Welcome to pop3d" "Nothing lost, nothing twice" "A third message"; do
	cat > "$M/new/$((now + i)).M${i}P$$.demo" <<MSG
From: pop3d demo <demo@localhost>
To: demo@localhost
Subject: $subj
Date: $(date -R)
Message-ID: <demo-$i-$now@localhost>

This is demo message $i.
.A line that starts with a dot is dot-stuffed on the wire.
MSG
	i=$((i + 1))
done

USERS=""
if [ "$(id -u)" -eq 0 ]; then
	# Workers never run as root: the mail belongs to "nobody" here, and
	# the auth process reads the passwd-file as "daemon".
	chown -R nobody "$D/mail"
	# A private TMPDIR (mode 0700) would hide the mail from the workers.
	if ! setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    test -x "$D/mail/demo" 2>/dev/null; then
		echo "demo.sh: user nobody cannot reach $D; use a TMPDIR" \
		    "that others may search (chmod 755), or unset it" >&2
		rm -rf "$D"
		exit 1
	fi
	chown root:daemon "$D/passwd"
	chmod 640 "$D/passwd"
	USERS="user = nobody
auth_user = daemon"
fi

cat > "$D/pop3d.conf" <<CONF
# pop3d demo configuration (see pop3d.conf(5))
[server]
listen = 127.0.0.1:$PORT
listen_tls = 127.0.0.1:$SPORT
$USERS
workers = 2
mail_root = $D/mail
shutdown_timeout = 5

[tls]
cert = $D/cert.pem
key = $D/key.pem

[auth]
passwd_file = $D/passwd
CONF

# pop3fetch: the password file belongs to whoever runs the demo, mode 0600.
(umask 077 && printf '%s\n' "$PW" > "$D/demo-password")
cat > "$D/pop3fetch.conf" <<CONF
# pop3fetch demo account (see pop3fetch(1)); keep = yes is the default,
# so the messages stay on the demo server.
[demo]
host = localhost:$SPORT
user = demo
destination = maildir:$D/fetched
tls_ca_file = $D/cert.pem
password_command = cat $D/demo-password
CONF

cat <<INFO

pop3d demo: state in $D
  user: demo    password: $PW
  POP3 + STLS on 127.0.0.1:$PORT, POP3S on 127.0.0.1:$SPORT

Fetch message 1 with curl (implicit TLS, then STLS):
  curl --cacert $D/cert.pem -u demo:$PW pop3s://localhost:$SPORT/1
  curl --cacert $D/cert.pem --ssl-reqd -u demo:$PW pop3://localhost:$PORT/1

List and fetch everything with Python's poplib:
  python3 -c 'import poplib,ssl; c=ssl.create_default_context(cafile="$D/cert.pem"); p=poplib.POP3_SSL("localhost",$SPORT,context=c); p.user("demo"); p.pass_("$PW"); print(p.stat()); [print(b"\\n".join(p.retr(i)[1]).decode()) for i in range(1,p.stat()[0]+1)]; p.quit()'

Fetch everything into $D/fetched with pop3fetch
(config $D/pop3fetch.conf, state in $D/fetch-state):
  XDG_STATE_HOME=$D/fetch-state $B/pop3fetch -C $D/pop3fetch.conf

Stop with Ctrl-C.  Logs follow.
INFO
exec "$B/pop3d" -c "$D/pop3d.conf"
