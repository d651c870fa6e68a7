#!/bin/sh
# run.sh [--rounds N] [--modes LIST] [--secs S] [--no-dovecot] [--keep]
#        [--idle-k N] [--big-k N] [--data DIR]
# The benchmark (make bench): starts pop3d and, when installed, Dovecot 2.3
# on loopback with copies of the same data (bench/mkdata.py), each server
# pinned to CPU 0 and the load generator (build/bench/pop3bench) to CPU 1,
# runs the modes interleaved (pop3d, Dovecot, pop3d, Dovecot, ...) for
# N rounds, and prints medians and the ratio pop3d/Dovecot per case, next
# to the machine's limits measured in the same run: raw loopback TCP (and
# TLS) for the same bytes, and one core's AES-GCM.
# Modes: sessions retr idle bigbox dele idle10k raw (default: all).
# Needs root (servers drop to nobody/daemon; Dovecot to its own users).
# Everything lives in a new /tmp/pop3bench.XXXXXX (removed unless --keep);
# the data set is cached in /var/tmp/pop3bench-data3 (about 2.2 GB).
set -eu

ROUNDS=3
MODES="sessions,retr,raw,idle,bigbox,dele,idle10k"
SECS=5
DOVECOT=/usr/sbin/dovecot
KEEP=""
IDLE_K=1000
BIG_K=10000
DATA=${BENCH_DATA:-/var/tmp/pop3bench-data3}
SESS_USERS=200
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift 2 ;;
	--modes) MODES=$2; shift 2 ;;
	--secs) SECS=$2; shift 2 ;;
	--no-dovecot) DOVECOT=""; shift ;;
	--keep) KEEP=1; shift ;;
	--idle-k) IDLE_K=$2; shift 2 ;;
	--big-k) BIG_K=$2; shift 2 ;;
	--data) DATA=$2; shift 2 ;;
	--sess-users) SESS_USERS=$2; shift 2 ;;
	*) sed -n '2,15p' "$0" >&2; exit 64 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root" >&2; exit 1; }
[ -n "$DOVECOT" ] && [ ! -x "$DOVECOT" ] && DOVECOT=""

REPO=$(cd "$(dirname "$0")/.." && pwd)
B=$REPO/build
GEN="taskset -c 1 $B/bench/pop3bench"
for f in "$B/pop3d" "$B/bench/pop3bench"; do
	[ -x "$f" ] || { echo "run.sh: $f missing: make all" >&2; exit 1; }
done
has() { case ",$MODES," in *,$1,*) return 0 ;; esac; return 1; }

# Ports: fixed, high, below the ephemeral range.
P_PLAIN=21110 P_TLS=21995 D_PLAIN=22110 D_TLS=22995 R_PLAIN=23110 R_TLS=23111

NAME=bench
. "$REPO/bench/lib.sh"

# Each server gets its own hard-linked copy of the same Maildirs (neither
# server rewrites a message file in place; renames and unlinks stay in
# its copy).
copy_mail() {	# server
	mkdir -p "$W/$1"
	cp -al "$DATA/mail" "$W/$1/mail"
}
reset_box() {	# server box: a fresh copy of big0 (as delivered)
	rm -rf "$W/$1/mail/$2"
	cp -al "$DATA/mail/big0" "$W/$1/mail/$2"
}

# ---- pop3d ----
copy_mail pop3d
cp "$DATA/passwd" "$W/pop3d/passwd"
chown root:daemon "$W/pop3d/passwd"
chmod 640 "$W/pop3d/passwd"
cat > "$W/pop3d/pop3d.conf" <<CONF
# pop3d benchmark configuration (bench/run.sh): one worker, as the
# server gets one core (CPU 0); plaintext logins allowed on loopback
# for the plain cases, as Dovecot's disable_plaintext_auth = no.
[server]
listen = 127.0.0.1:$P_PLAIN
listen_tls = 127.0.0.1:$P_TLS
CONF
pop3d_conf "$W/pop3d/mail" "$W/pop3d/passwd" >> "$W/pop3d/pop3d.conf"
POP3D_PID=""
# POP3D_CPUS: the cores pop3d may use (0 for the one-core comparisons;
# the 10,000-session case is "on this 2-core machine": both, 2 workers).
POP3D_CPUS=0
POP3D_CONF="$W/pop3d/pop3d.conf"
sed 's/^workers = 1$/workers = 2/' "$POP3D_CONF" > "$W/pop3d/pop3d-2w.conf"
start_pop3d() {
	taskset -c "$POP3D_CPUS" "$B/pop3d" -c "$POP3D_CONF" \
	    2>>"$W/pop3d/pop3d.log" &
	POP3D_PID=$!
	PIDS="$PIDS $POP3D_PID"
	wait_port $P_PLAIN || { echo "run.sh: pop3d did not start" >&2;
	    tail "$W/pop3d/pop3d.log" >&2; exit 1; }
}
stop_pop3d() {
	[ -n "$POP3D_PID" ] || return 0
	stop_pid "$POP3D_PID"
	POP3D_PID=""
}

# ---- Dovecot ----
DOVECOT_PID=""
if [ -n "$DOVECOT" ]; then
	copy_mail dovecot
	mkdir -p "$W/dovecot/run" "$W/dovecot/state"
	cp "$DATA/dovecot.passwd" "$W/dovecot/passwd"
	chown root:dovecot "$W/dovecot/passwd"
	chmod 640 "$W/dovecot/passwd"
	cat > "$W/dovecot/dovecot.conf" <<CONF
# Dovecot 2.3 for the benchmark (bench/run.sh), tuned: high-performance
# login processes (service_count = 0), mail processes reused, auth cache,
# one session per maildrop (pop3_lock_session), no fsync per change
# beyond Dovecot's default.  Same data, same hashes, same cert as pop3d.
protocols = pop3
listen = 127.0.0.1
base_dir = $W/dovecot/run
state_dir = $W/dovecot/state
instance_name = pop3bench
log_path = $W/dovecot/dovecot.log
ssl = yes
ssl_cert = <$W/cert.pem
ssl_key = <$W/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain
auth_cache_size = 10M
auth_cache_ttl = 1 hour
auth_cache_negative_ttl = 1 hour
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT $W/dovecot/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$W/dovecot/mail/%u
}
mail_location = maildir:~
pop3_lock_session = yes
default_vsz_limit = 1G
default_process_limit = 15000
default_client_limit = 15000
service pop3-login {
  inet_listener pop3 {
    port = $D_PLAIN
  }
  inet_listener pop3s {
    port = $D_TLS
    ssl = yes
  }
  service_count = 0
  process_min_avail = 1
  client_limit = 15000
  vsz_limit = 4G
}
service pop3 {
  service_count = ${DOVECOT_POP3_SERVICE_COUNT:-100}
  process_min_avail = 2
  process_limit = 15000
}
CONF
fi
start_dovecot() {
	taskset -c 0 "$DOVECOT" -F -c "$W/dovecot/dovecot.conf" \
	    2>>"$W/dovecot/stderr.log" &
	DOVECOT_PID=$!
	PIDS="$PIDS $DOVECOT_PID"
	wait_port $D_PLAIN || { echo "run.sh: dovecot did not start" >&2;
	    tail "$W/dovecot/stderr.log" "$W/dovecot/dovecot.log" >&2; exit 1; }
}
stop_dovecot() {
	[ -n "$DOVECOT_PID" ] || return 0
	stop_pid "$DOVECOT_PID"
	DOVECOT_PID=""
}

SERVERS="pop3d"
[ -n "$DOVECOT" ] && SERVERS="pop3d dovecot"
start_pop3d
[ -n "$DOVECOT" ] && start_dovecot

ports() {	# server -> "PLAIN TLS PID"
	case $1 in
	pop3d) echo "$P_PLAIN $P_TLS $POP3D_PID" ;;
	dovecot) echo "$D_PLAIN $D_TLS $DOVECOT_PID" ;;
	esac
}
restart() {
	case $1 in
	pop3d) stop_pop3d; start_pop3d ;;
	dovecot) stop_dovecot; start_dovecot ;;
	esac
}

# run SERVER ROUND CASE ARGS...: one generator run, one result line.
run() {
	srv=$1 rnd=$2 cse=$3
	shift 3
	out=$($GEN "$@" 2>>"$W/gen.err") || true
	[ -n "$out" ] || out="mode=? err=1 first_err=\"no output\""
	echo "server=$srv round=$rnd case=$cse $out" | tee -a "$RES" >&2
}

SU_LAST=$((100 + SESS_USERS))
echo "run.sh: servers: $SERVERS; rounds $ROUNDS; modes $MODES" >&2

# Warm-up: every sessions user logs in once (fills the auth caches, the
# page cache and Dovecot's indexes for these maildrops), untimed.
if has sessions || has retr || has idle || has idle10k; then
	for srv in $SERVERS; do
		set -- $(ports "$srv")
		$GEN -m sessions -p "$1" -f 100 -N "$SESS_USERS" -c 4 \
		    -n "$SESS_USERS" >/dev/null 2>&1 || true
		$GEN -m retr -p "$1" -f 0 -N 100 -c 4 -n 100 >/dev/null 2>&1 ||
		    true
		$GEN -m retr -p "$1" -u large -W 0 -f 0 -N 2 -c 1 -n 2 \
		    >/dev/null 2>&1 || true
	done
fi

# dele_purge ROUND LOGLINES: the result line of pop3d's purge after the
# dele case (the log's lines after LOGLINES).
dele_purge() {
	re='s/.* purge \(removed=[0-9]*\) .* ms=\([0-9.]*\).*/\1 purge_ms=\2/p'
	i=0
	while [ $i -lt 1200 ]; do
		pl=$(tail -n +$(($2 + 1)) "$W/pop3d/pop3d.log" | sed -n "$re" |
		    tail -1)
		[ -n "$pl" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$pl" ] || pl='err=1 first_err="no purge line in the pop3d log"'
	echo "server=pop3d round=$1 case=dele-purge mode=purge $pl" |
	    tee -a "$RES" >&2
}

r=1
while [ $r -le "$ROUNDS" ]; do
	for srv in $SERVERS; do
		set -- $(ports "$srv")
		pl=$1 tl=$2 pid=$3
		if has sessions; then
			run "$srv" $r sessions-plain -m sessions -p "$pl" \
			    -f 100 -N "$SESS_USERS" -c 8 -d "$SECS"
			run "$srv" $r sessions-tls -m sessions -t -p "$tl" \
			    -f 100 -N "$SESS_USERS" -c 8 -d "$SECS"
		fi
		if has retr; then
			run "$srv" $r retr-8k-plain -m retr -p "$pl" -f 0 -N 100 \
			    -c 4 -d "$SECS"
			run "$srv" $r retr-8k-tls -m retr -t -p "$tl" -f 0 \
			    -N 100 -c 4 -d "$SECS"
			run "$srv" $r retr-256k-plain -m retr -p "$pl" -u large \
			    -W 0 -f 0 -N 1 -c 1 -d "$SECS"
			run "$srv" $r retr-256k-tls -m retr -t -p "$tl" -u large \
			    -W 0 -f 0 -N 1 -c 1 -d "$SECS"
			# large1: no line starts with '.' (most mail), so
			# pop3d sends the stored file as it is.
			run "$srv" $r retr-256k-nodot-plain -m retr -p "$pl" \
			    -u large -W 0 -f 1 -N 1 -c 1 -d "$SECS"
			run "$srv" $r retr-256k-nodot-tls -m retr -t -p "$tl" \
			    -u large -W 0 -f 1 -N 1 -c 1 -d "$SECS"
		fi
		if has idle; then
			# a fresh server: its baseline holds no freed heap
			restart "$srv"
			set -- $(ports "$srv")
			run "$srv" $r idle-tls -m idle -t -p "$2" -f 100 \
			    -N "$IDLE_K" -K "$IDLE_K" -P "$3" -r 50 \
			    -R 10100:100
			sleep 2
		fi
		if has bigbox; then
			reset_box "$srv" big0
			restart "$srv"
			set -- $(ports "$srv")
			run "$srv" $r bigbox -m bigbox -p "$1" -u big -W 0 -f 0 \
			    -n 4
		fi
		if has dele; then
			set -- $(ports "$srv")
			reset_box "$srv" dele0
			n0=0
			if [ "$srv" = pop3d ]; then
				n0=$(wc -l <"$W/pop3d/pop3d.log")
			fi
			run "$srv" $r dele -m dele -p "$1" -u dele -W 0 -f 0
			# pop3d answers QUIT before the deleted files are gone:
			# they wait in tmp/.pop3d-trash.*, removed on a worker
			# thread, which logs how long that took from the
			# answer.  Reported, and waited for (at most 120 s),
			# so that it does not overlap the next case.
			if [ "$srv" = pop3d ]; then
				dele_purge "$r" "$n0"
			fi
		fi
	done
	if has raw; then
		# The machine's limit for the same bytes and round trips: a
		# forking sender on CPU 0, the same generator on CPU 1.
		taskset -c 0 "$B/bench/pop3bench" -m rawserve -p $R_PLAIN &
		RP=$!
		taskset -c 0 "$B/bench/pop3bench" -m rawserve -t -p $R_TLS \
		    -C "$W/cert.pem" -k "$W/key.pem" &
		RT=$!
		PIDS="$PIDS $RP $RT"
		sleep 0.3
		s8=$(ls "$DATA/mail/u00000/new" | head -1 |
		    sed -n 's/.*,W=\([0-9]*\).*/\1/p')
		s256=$(ls "$DATA/mail/large0/new" | head -1 |
		    sed -n 's/.*,W=\([0-9]*\).*/\1/p')
		run raw $r raw-8k-plain -m raw -p $R_PLAIN -S "$s8" -c 4 \
		    -d "$SECS"
		run raw $r raw-8k-tls -m raw -t -p $R_TLS -S "$s8" -c 4 \
		    -d "$SECS"
		run raw $r raw-256k-plain -m raw -p $R_PLAIN -S "$s256" -c 1 \
		    -d "$SECS"
		run raw $r raw-256k-tls -m raw -t -p $R_TLS -S "$s256" -c 1 \
		    -d "$SECS"
		kill $RP $RT 2>/dev/null || true
		wait $RP $RT 2>/dev/null || true
	fi
	r=$((r + 1))
done

# 10,000 idle TLS sessions on pop3d (Dovecot needs a process each: about
# 7 GB here, so it is left out unless BENCH_DOVECOT_10K=1), with new
# logins timed meanwhile.
if has idle10k; then
	for srv in $SERVERS; do
		[ "$srv" = dovecot ] && [ "${BENCH_DOVECOT_10K:-0}" != 1 ] &&
		    continue
		if [ "$srv" = pop3d ]; then
			POP3D_CPUS=0,1
			POP3D_CONF="$W/pop3d/pop3d-2w.conf"
		fi
		restart "$srv"
		set -- $(ports "$srv")
		run "$srv" 1 idle10k-tls -m idle -t -p "$2" -f 100 -N "$BIG_K" \
		    -K "$BIG_K" -P "$3" -r 200 -R 10100:100 -H 5
	done
fi

if has raw; then
	for alg in aes-128-gcm aes-256-gcm; do
		v=$(taskset -c 0 openssl speed -elapsed -seconds 2 -bytes 16384 \
		    -evp $alg 2>/dev/null | awk '/^AES|^aes/ { v=$NF } END {
		    sub(/k$/, "", v); printf "%.1f", v * 1000 / 1e6 }')
		echo "server=raw round=1 case=$alg mode=speed mbps=$v" |
		    tee -a "$RES" >&2
	done
fi

{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo |
	    head -1) x $(nproc)"
	echo "mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' \
	    /proc/meminfo)"
	echo "kernel=$(uname -r)"
	echo "pop3d=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null)$(cd \
	    "$REPO" && git diff --quiet HEAD -- src 2>/dev/null || echo +dirty)"
	[ -n "$DOVECOT" ] && echo "dovecot=$($DOVECOT --version)"
	echo "openssl=$(openssl version)"
	echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$W/meta.txt"
python3 "$REPO/bench/report.py" "$RES" "$W/meta.txt"
cp "$RES" "$REPO/build/bench/last-results.txt" 2>/dev/null || true
cp "$W/meta.txt" "$REPO/build/bench/last-meta.txt" 2>/dev/null || true
if grep -q 'err=[1-9]' "$RES"; then
	echo "run.sh: SOME RUNS HAD ERRORS (see err= above)" >&2
	exit 1
fi
