#!/usr/bin/python3
"""report.py RESULTS META - the benchmark table from bench/run.sh's lines.

Each result line: "server=S round=R case=C key=value ...".  Prints, per
case, the median over the rounds for pop3d and Dovecot, the ratio
pop3d/Dovecot, the issue's target and whether it is met, then the
machine's limits (raw loopback, AES-GCM) as Markdown for bench/RESULTS.md.
"""
import re
import statistics
import sys

TOKEN = re.compile(r'(\w+)=("[^"]*"|\S*)')

# case: (metric, unit, better, target ratio or None, target text)
CASES = [
    ("sessions-plain", "rate", "sessions/s", "higher", 2.0, ">= 2.0x"),
    ("sessions-tls", "rate", "sessions/s", "higher", 1.5, ">= 1.5x"),
    ("retr-8k-plain", "mbps", "MB/s", "higher", 1.5, ">= 1.5x"),
    ("retr-8k-tls", "mbps", "MB/s", "higher", 1.5, ">= 1.5x"),
    ("retr-256k-plain", "mbps", "MB/s", "higher", 1.5, ">= 1.5x"),
    ("retr-256k-tls", "mbps", "MB/s", "higher", 1.5, ">= 1.5x"),
    ("retr-256k-nodot-plain", "mbps", "MB/s", "higher", 1.5, ">= 1.5x"),
    ("retr-256k-nodot-tls", "mbps", "MB/s", "higher", 1.5, ">= 1.5x"),
    ("idle-tls", "per_session_kib", "KiB PSS/session", "lower", 0.05,
     "<= 0.05x"),
    ("idle-tls-probe", "probe_p99_ms", "ms p99 login", "lower", None, ""),
    ("bigbox-first", "first_ms", "ms", "lower", 0.5, "<= 0.5x"),
    ("bigbox-later", "later_ms", "ms", "lower", 0.5, "<= 0.5x"),
    ("dele", "ms_per_1000", "ms/1000 msgs", "lower", 0.25, "<= 0.25x"),
    ("dele-purge", "purge_ms", "ms removal after QUIT", "lower", None, ""),
]
# RETR case -> the raw case with the same bytes and round trips.
RAW = [("retr-8k-plain", "raw-8k-plain"), ("retr-8k-tls", "raw-8k-tls"),
       ("retr-256k-plain", "raw-256k-plain"),
       ("retr-256k-nodot-plain", "raw-256k-plain"),
       ("retr-256k-tls", "raw-256k-tls"),
       ("retr-256k-nodot-tls", "raw-256k-tls")]


def parse(path):
    rows = []
    for line in open(path):
        d = {k: v.strip('"') for k, v in TOKEN.findall(line)}
        if "case" in d:
            rows.append(d)
    return rows


def values(rows, server, case, metric):
    out, errs = [], 0
    base = case
    if case in ("bigbox-first", "bigbox-later"):
        base = "bigbox"
    if case == "idle-tls-probe":
        base = "idle-tls"
    for d in rows:
        if d.get("server") != server or d.get("case") != base:
            continue
        errs += int(d.get("err", "0") or 0) if d.get("err", "0").isdigit() \
            else 1
        if metric == "ms_per_1000":
            v = float(d.get("ms", 0)) / 100.0     # 100,000 messages
        else:
            v = float(d.get(metric, "nan"))
        out.append(v)
    return out, errs


def med(v):
    return statistics.median(v) if v else float("nan")


def fmt(v):
    if v != v:
        return "-"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def main():
    rows = parse(sys.argv[1])
    meta = {}
    if len(sys.argv) > 2:
        for line in open(sys.argv[2]):
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    rounds = len({d["round"] for d in rows if d.get("server") == "pop3d"})
    print()
    for k in ("date", "cpu", "mem", "kernel", "pop3d", "dovecot", "openssl",
              "load"):
        if k in meta:
            print("- %s: %s" % (k, meta[k]))
    print("- rounds: %d (median of each)" % rounds)
    print()
    print("| case | unit | pop3d | Dovecot | pop3d/Dovecot | target | met |"
          " runs (pop3d; Dovecot) | errors |")
    print("| --- | --- | ---: | ---: | ---: | --- | --- | --- | --- |")
    for case, metric, unit, better, target, ttext in CASES:
        p, pe = values(rows, "pop3d", case, metric)
        d, de = values(rows, "dovecot", case, metric)
        if not p and not d:
            continue
        mp, md = med(p), med(d)
        ratio = mp / md if d and md else float("nan")
        met = ""
        if target is not None and ratio == ratio:
            ok = ratio >= target if better == "higher" else ratio <= target
            met = "yes" if ok else "**no**"
        print("| %s | %s | %s | %s | %s | %s | %s | %s; %s | %d; %d |" % (
            case, unit, fmt(mp), fmt(md),
            "%.2fx" % ratio if ratio == ratio else "-", ttext, met,
            " ".join(fmt(x) for x in p), " ".join(fmt(x) for x in d),
            pe, de))
    print()
    print("Limits measured in the same run (generator on CPU 1, sender on CPU 0):")
    print()
    print("| case | MB/s | pop3d's RETR as a share of it |")
    print("| --- | ---: | ---: |")
    for case in ("raw-8k-plain", "raw-8k-tls", "raw-256k-plain",
                 "raw-256k-tls", "aes-128-gcm", "aes-256-gcm"):
        v, _ = values(rows, "raw", case, "mbps")
        if not v:
            continue
        shares = []
        for rc, rw in RAW:
            if rw != case:
                continue
            p, _ = values(rows, "pop3d", rc, "mbps")
            if not p:
                continue
            t = "%.0f %%" % (100.0 * med(p) / med(v))
            if rc.startswith("retr-256k-") and rc.endswith("-plain"):
                t += " (target >= 50 %%: %s)" % (
                    "met" if med(p) >= 0.5 * med(v) else "**not met**")
            shares.append("%s: %s" % (rc, t))
        share = "; ".join(shares)
        print("| %s | %s | %s |" % (case, fmt(med(v)), share))
    for d in rows:
        if d.get("case") == "idle10k-tls":
            print()
            print("10,000 idle TLS sessions (%s): held %s, errors %s, %s KiB "
                  "PSS/session, %s processes; %s new logins meanwhile: p50 %s "
                  "ms, p99 %s ms" % (d["server"], d.get("ok"), d.get("err"),
                                     d.get("per_session_kib"), d.get("procs"),
                                     d.get("probes"), d.get("probe_p50_ms"),
                                     d.get("probe_p99_ms")))
    bad = [d for d in rows if d.get("err", "0") not in ("0", "")]
    if bad:
        print()
        print("Runs with errors:")
        for d in bad:
            print("- %s %s round %s: err=%s %s" % (
                d.get("server"), d.get("case"), d.get("round"), d.get("err"),
                d.get("first_err", "")))


if __name__ == "__main__":
    main()
