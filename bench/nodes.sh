#!/bin/sh
# nodes.sh [--rounds N] [--secs S] [--cold-secs S] [--data DIR] [--keep]
# The scale-out benchmark (docs/scaling.md): two pop3d nodes (two
# masters, one worker each, their own configs, ports and logs) on one
# mail root and one passwd-file, behind Debian's HAProxy (TCP mode,
# roundrobin, PROXY v2, one thread), against one node reached directly.
# The load generator is build/bench/pop3bench, mode sessions (login,
# STAT, UIDL, QUIT) from 200 users of the data set of run.sh.  Reports
# sessions/s, the split per node, counted from each node's log ("login
# user=" lines added during the run), and each node's CPU time per login
# (its processes' user and system time from /proc), the figure the paper
# counts with and the one the machine's other load disturbs least.
# Cases:
#   warm-plain, warm-tls  logins the auth cache answers (the users
#       logged in once before): the nodes both on CPU 0, HAProxy and
#       the generator on CPU 1; paths: direct (node A), haproxy-1 (HAProxy
#       to node A only), haproxy-2 (HAProxy to A and B): what the balancer
#       costs, and that two nodes split the sessions evenly.
#   cold  every login verifies a yescrypt hash (cache_ttl = 0): node A
#       on CPU 0, node B on CPU 1; paths: direct (node A) and haproxy-2:
#       hash-bound, so two nodes on two cores should give about twice
#       one node's rate.
# Needs root (pop3d drops to nobody/daemon), haproxy, make all.
# Works in a new /tmp/pop3nodes.XXXXXX (removed unless --keep).
set -eu

ROUNDS=3
SECS=5
COLD_SECS=10
DATA=${BENCH_DATA:-/var/tmp/pop3bench-data3}
KEEP=""
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift 2 ;;
	--secs) SECS=$2; shift 2 ;;
	--cold-secs) COLD_SECS=$2; shift 2 ;;
	--data) DATA=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	*) sed -n '2,20p' "$0" >&2; exit 64 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "nodes.sh: needs root" >&2; exit 1; }
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$HAPROXY" ] || { echo "nodes.sh: haproxy missing" >&2; exit 1; }

REPO=$(cd "$(dirname "$0")/.." && pwd)
B=$REPO/build
for f in "$B/pop3d" "$B/bench/pop3bench" "$B/tools/mkhash"; do
	[ -x "$f" ] || { echo "nodes.sh: $f missing: make all" >&2; exit 1; }
done
GEN="taskset -c 1 $B/bench/pop3bench"
U_FIRST=100 U_N=200

NAME=nodes
. "$REPO/bench/lib.sh"

# Ports: fixed, high, below the ephemeral range.  Node n (1, 2): direct
# plain 2n110, TLS 2n995; PROXY plain 2n111, TLS 2n996.  HAProxy: to
# node 1 only 27110/27995, to both 27111/27996.

# One mail root for both nodes: hard links to the sessions users'
# Maildirs (mode sessions deletes nothing).
mkdir "$W/mail"
i=$U_FIRST
while [ $i -lt $((U_FIRST + U_N)) ]; do
	u=$(printf 'u%05d' $i)
	cp -al "$DATA/mail/$u" "$W/mail/$u"
	i=$((i + 1))
done
# Two passwd-files: the data set's ($6$, cheap; the warm cases) and the
# same users with a yescrypt hash (the default of pop3ctl; the cold
# case).
grep -E "^u00(1|2)[0-9][0-9]:" "$DATA/passwd" > "$W/passwd-warm"
Y=$(echo benchpass | "$B/tools/mkhash")
sed "s|:.*|:$Y|" "$W/passwd-warm" > "$W/passwd-cold"
for f in "$W/passwd-warm" "$W/passwd-cold"; do
	chown root:daemon "$f"
	chmod 640 "$f"
done

NODE_PIDS=""
start_node() {	# n cpu passwd cache_ttl
	cat > "$W/node$1.conf" <<CONF
# pop3d node $1 of the scale-out benchmark (bench/nodes.sh)
[server]
listen = 127.0.0.1:2${1}110
listen_tls = 127.0.0.1:2${1}995
listen_proxy = 127.0.0.1:2${1}111
listen_tls_proxy = 127.0.0.1:2${1}996
proxy_trusted = 127.0.0.1/32
CONF
	pop3d_conf "$W/mail" "$3" "" "cache_ttl = $4" >> "$W/node$1.conf"
	: > "$W/node$1.log"
	taskset -c "$2" "$B/pop3d" -c "$W/node$1.conf" \
	    2>>"$W/node$1.log" &
	PIDS="$PIDS $!"
	NODE_PIDS="$NODE_PIDS $!"
	eval "NODE$1_PID=$!"
	wait_port 2${1}110 || { echo "nodes.sh: node $1 did not start" >&2;
	    tail "$W/node$1.log" >&2; exit 1; }
}
stop_nodes() {
	for p in $NODE_PIDS; do stop_pid "$p"; done
	NODE_PIDS=""
}

cat > "$W/haproxy.cfg" <<CONF
# HAProxy of the scale-out benchmark (bench/nodes.sh): TCP mode,
# PROXY v2 to the nodes' PROXY listeners, one thread.
global
    nbthread 1
    maxconn 4000
defaults
    mode tcp
    balance roundrobin
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend one
    bind 127.0.0.1:27110
    default_backend one
frontend one_tls
    bind 127.0.0.1:27995
    default_backend one_tls
frontend two
    bind 127.0.0.1:27111
    default_backend two
frontend two_tls
    bind 127.0.0.1:27996
    default_backend two_tls
backend one
    server n1 127.0.0.1:21111 send-proxy-v2
backend one_tls
    server n1 127.0.0.1:21996 send-proxy-v2
backend two
    server n1 127.0.0.1:21111 send-proxy-v2
    server n2 127.0.0.1:22111 send-proxy-v2
backend two_tls
    server n1 127.0.0.1:21996 send-proxy-v2
    server n2 127.0.0.1:22996 send-proxy-v2
CONF
taskset -c 1 "$HAPROXY" -db -f "$W/haproxy.cfg" >"$W/haproxy.log" 2>&1 &
PIDS="$PIDS $!"

logins() {	# n: "login user=" lines in node n's log so far
	grep -c ' login user=' "$W/node$1.log" || true
}

# cpu n: CPU time (clock ticks, user + system) node n's processes (the
# master and its children: the auth process, the workers) have used.
cpu() {
	eval "m=\$NODE$1_PID"
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v m="$m" '{ pid = $1
	    sub(/^.*\) /, ""); if (pid == m || $2 == m) t += $12 + $13 }
	    END { print t + 0 }'
}

# run ROUND CASE PATH PORT SECS [-t]: one generator run, one result line
# with the logins each node logged meanwhile and the CPU each node used
# per login (ms; the paper's unit: docs/scaling.md).
run() {
	rnd=$1 cse=$2 pth=$3 port=$4 secs=$5
	shift 5
	a0=$(logins 1) b0=$(logins 2) ca0=$(cpu 1) cb0=$(cpu 2)
	out=$($GEN -m sessions -p "$port" "$@" -f $U_FIRST -N $U_N -c 8 \
	    -d "$secs" 2>>"$W/gen.err") || true
	[ -n "$out" ] || out="mode=? err=1 first_err=\"no output\""
	sleep 0.3	# the last sessions' log lines
	a=$(( $(logins 1) - a0 )) b=$(( $(logins 2) - b0 ))
	ca=$(( $(cpu 1) - ca0 )) cb=$(( $(cpu 2) - cb0 ))
	echo "round=$rnd case=$cse path=$pth $out node1=$a node2=$b" \
	    "ms1=$(per_login "$ca" "$a") ms2=$(per_login "$cb" "$b")" |
	    tee -a "$RES" >&2
}
per_login() {	# ticks logins: ms of CPU per login, "-" without logins
	awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { if (n > 0)
	    printf "%.2f", t * 1000 / hz / n; else printf "-" }'
}
HZ=$(getconf CLK_TCK)

# Warm: both nodes on CPU 0; every user logs in once on each node.
start_node 1 0 "$W/passwd-warm" 300
start_node 2 0 "$W/passwd-warm" 300
wait_port 27111 || { echo "nodes.sh: haproxy did not start" >&2;
    cat "$W/haproxy.log" >&2; exit 1; }
for p in 21110 22110; do
	$GEN -m sessions -p $p -f $U_FIRST -N $U_N -c 4 -n $U_N \
	    >/dev/null 2>&1 || true
done
r=1
while [ $r -le "$ROUNDS" ]; do
	run $r warm-plain direct 21110 "$SECS"
	run $r warm-plain haproxy-1 27110 "$SECS"
	run $r warm-plain haproxy-2 27111 "$SECS"
	run $r warm-tls direct 21995 "$SECS" -t
	run $r warm-tls haproxy-1 27995 "$SECS" -t
	run $r warm-tls haproxy-2 27996 "$SECS" -t
	r=$((r + 1))
done
stop_nodes

# Cold: node 1 on CPU 0, node 2 on CPU 1, no auth cache, yescrypt.
start_node 1 0 "$W/passwd-cold" 0
start_node 2 1 "$W/passwd-cold" 0
r=1
while [ $r -le "$ROUNDS" ]; do
	run $r cold direct 21110 "$COLD_SECS"
	run $r cold haproxy-2 27111 "$COLD_SECS"
	r=$((r + 1))
done
stop_nodes

echo "load=$(cut -d' ' -f1-3 /proc/loadavg) cpu=$(sed -n \
    's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) x $(nproc)" \
    "pop3d=$(cd "$REPO" && git rev-parse --short HEAD)" >&2
python3 - "$RES" <<'EOF'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    key = (kv["case"], kv["path"])
    rows.setdefault(key, []).append(kv)
print("| case | path | sessions/s (median) | runs | logins node1 : node2 "
      "| CPU ms per login node1 : node2 (median) | errors |")
print("| --- | --- | ---: | --- | --- | --- | ---: |")
def med(runs, k):
    v = [float(r[k]) for r in runs if r.get(k, "-") != "-"]
    return "%.2f" % statistics.median(v) if v else "-"
for (case, path), runs in rows.items():
    rates = [float(r.get("rate", 0)) for r in runs]
    split = " ".join("%s:%s" % (r["node1"], r["node2"]) for r in runs)
    errs = sum(int(r.get("err", 1)) for r in runs)
    print("| %s | %s | %.1f | %s | %s | %s : %s | %d |" % (
        case, path, statistics.median(rates),
        " ".join("%.1f" % x for x in rates), split, med(runs, "ms1"),
        med(runs, "ms2"), errs))
EOF
if grep -q 'err=[1-9]' "$RES"; then
	echo "nodes.sh: SOME RUNS HAD ERRORS (see err= above)" >&2
	exit 1
fi
