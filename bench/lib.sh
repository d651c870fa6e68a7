# lib.sh - what the benchmark scripts share (sourced by bench/run.sh and
# bench/nodes.sh, after they set NAME, KEEP, DATA and REPO): the work
# directory $W with its results file $RES and its removal at exit (with
# the processes listed in $PIDS), the file-descriptor limit, the data
# set, a throw-away certificate ($W/cert.pem, $W/key.pem), and
# wait_port, stop_pid, pop3d_conf.

W=$(mktemp -d /tmp/pop3$NAME.XXXXXX)
chmod 755 "$W"
RES=$W/results.txt
: > "$RES"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 1
	for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
	if [ -n "$KEEP" ]; then echo "$NAME: kept $W" >&2
	else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "$NAME: data set in $DATA (first time: a few minutes)" >&2
python3 "$REPO/bench/mkdata.py" "$DATA"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 30 -subj /CN=localhost -keyout "$W/key.pem" -out "$W/cert.pem" \
    2>/dev/null
chmod 600 "$W/key.pem"

wait_port() {	# port: until it answers with a first line (10 s at most)
	python3 - "$1" <<'EOF'
import socket, sys, time
for i in range(200):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5)
        s.recv(100)
        s.close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

stop_pid() {	# pid: SIGTERM, up to 10 s, then SIGKILL
	kill "$1" 2>/dev/null || true
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# pop3d_conf MAIL_ROOT PASSWD [SERVER_LINES [AUTH_LINES]]: a benchmark
# pop3d.conf on stdout, after the caller's comment and [server] listen
# lines: one worker, the nobody/daemon users, no per-address limit,
# plaintext logins allowed on loopback (for the plain cases), the
# certificate of $W; SERVER_LINES and AUTH_LINES are added (one setting
# a line).
pop3d_conf() {
	cat <<CONF
user = nobody
auth_user = daemon
workers = 1
mail_root = $1
max_connections = 20000
max_connections_per_ip = 0
shutdown_timeout = 2
${3:-}

[tls]
cert = $W/cert.pem
key = $W/key.pem

[auth]
passwd_file = $2
allow_plaintext_auth = loopback
${4:-}
CONF
}
