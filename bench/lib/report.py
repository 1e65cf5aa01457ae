"""bench/RESULTS.md: the latest run's table above the kept history of earlier measurements."""

import os
import platform
import re
import subprocess
from datetime import datetime, timezone

from . import servers

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(HERE, "RESULTS.md")
MARK = "<!-- bench/run writes everything above this line; what follows is kept -->"
INTRO = """`bash bench/run --accounts N` writes the section for a book of N accounts (the other sizes'
sections stay as they were). Below them: earlier measurements, kept by hand. Every ratio and
every before/after pair compares figures measured in one run (or one session) on one machine,
named where it was measured; figures of two sections were measured on different machines and
at different times, and are not compared with each other.
"""


def _version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} × {cpu}, {mem:.0f} GiB, {platform.system()} {platform.release()}"


def _n(value, digits=0):
    if value is None:
        return "–"
    if digits == 0 and abs(value) < 10:
        digits = 1
    return f"{value:,.{digits}f}"


def _show(r):
    return f"did not answer ({r['refused']})" if r.get("refused") else _n(r["ops"])


def _lat(r):
    return f"{_n(r.get('p50'), 1)} / {_n(r.get('p99'), 1)}" if r.get("p50") is not None else "–"


def _cpu(r):
    parts = []
    if r.get("refused"):
        return "–"
    if r.get("server_ms") is not None:
        parts.append(f"{r['server_ms']:.2f}")
    else:
        parts.append("–")
    parts.append(f"{r['postgres_ms']:.2f}" if r.get("postgres_ms") is not None else "–")
    return " / ".join(parts)


def markdown(results, args, seconds):
    commit = _version(["git", "-C", HERE, "rev-parse", "--short", "HEAD"])
    graphile = "unknown"
    try:
        import json
        with open(os.path.join(args.postgraphile, "node_modules/postgraphile/package.json")) as f:
            graphile = json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        pass
    node = _version([servers.node(args.postgraphile), "--version"])
    lines = [
        f"## {args.accounts:,} accounts",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `{args.command}` "
        f"({seconds / 60:.0f} min in all) on {machine()}; fathom {commit} (release build), "
        f"{_version(['psql', '--version'])} server on 127.0.0.1, SQLite (bundled with sqlx), "
        f"PostGraphile {graphile} (amber preset, two processes on one port through `node:cluster`, Node {node}, "
        f"`NODE_ENV=production`), {_version(['wrk', '--version'])}, "
        f"{_version(['pgbench', '--version'])}.",
        "",
        f"Book: {args.accounts:,} accounts × {args.months} months. Reads: wrk, 2 threads, 16 connections, "
        f"{args.seconds:g} s per run after a {3} s warm-up, {args.rounds} rounds alternating the contenders; "
        "the figure is the median; pages and accounts drawn at random, the same for every contender, whose "
        "answers to one sample were compared before measuring. A floor is the same work as plain SQL with "
        "fathom's batching and the fewest round trips (pgbench on PostgreSQL: reads in autocommit with no "
        "timeout, a write transaction one PL/pgSQL call; `examples/sql_floor.rs` through sqlx "
        "on SQLite); a peer is PostGraphile 5 over the same database. p50/p99 are percentiles of each request "
        "or transaction. "
        "Ratio = fathom ÷ peer or floor (higher is better). CPU is milliseconds per operation of the "
        "server process (fathom, PostGraphile's two processes; for commands, the fathom command) / of PostgreSQL, "
        "read from /proc.",
        "",
        "| database | workload | fathom | peer or floor | ratio | fathom p50 / p99 ms | peer or floor p50 / p99 ms | CPU ms/op fathom (server / PostgreSQL) | CPU ms/op peer or floor | failed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, r in results.items():
        for key, wl in r["workloads"].items():
            c = wl["contenders"]
            f = c["fathom"]
            for other in [n for n in c if n != "fathom"]:
                o = c[other]
                if f.get("refused"):
                    lines.append(
                        f"| {kind} | ({key}) {wl['title']}, {wl['unit']} | did not answer ({f['refused']}) | "
                        f"{other}: {_show(o)} | **0** | – | {_lat(o)} | – | {_cpu(o)} | all |")
                    continue
                if o.get("refused"):
                    lines.append(
                        f"| {kind} | ({key}) {wl['title']}, {wl['unit']} | {_n(f['ops'])} | {other}: did not answer "
                        f"({o['refused']}) | – | {_lat(f)} | – | {_cpu(f)} | – | {f['failed']} |")
                    continue
                ratio = f["ops"] / o["ops"] if o["ops"] else float("nan")
                lines.append(
                    f"| {kind} | ({key}) {wl['title']}, {wl['unit']} | {_show(f)} | {other}: {_show(o)} | "
                    f"**{ratio:.2f}** | {_lat(f)} | {_lat(o)} | {_cpu(f)} | {_cpu(o)} | {f['failed']} |")
    lines += ["", "Rounds (ops/s of each run, fathom first) and notes:", ""]
    for kind, r in results.items():
        for key, wl in r["workloads"].items():
            rounds = "; ".join(f"{name} {', '.join(_n(v) for v in c.get('rounds', [c['ops']]))}"
                               for name, c in wl["contenders"].items())
            note = f" — {wl['note']}" if wl.get("note") else ""
            client = wl["contenders"]["fathom"].get("client_ms")
            if wl["contenders"]["fathom"].get("p50") is not None and client is not None:
                note += f" — wrk's own CPU: {client:.2f} ms/request"
            lines.append(f"- {kind} ({key}): {rounds}{note}")
    lines += ["", "| database | book | seeding | copy for the run | `fathom verify` | catch-up billing | `total_count` statement: default page / by status | peak RSS |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for kind, r in results.items():
        b, m = r["book"], r["memory"]
        seeding = (f"{b['seed_seconds']:.0f} s (this run)" if b["seed_seconds"] is not None
                   else f"kept from {b['seeded_at'][:16]} ({_n(b.get('kept_seed_seconds'))} s then)")
        rss = ", ".join(f"{name} {v:.0f} MiB" for name, v in m.items())
        lines.append(
            f"| {kind} | {b['accounts']:,} accounts, {b['invoices']:,} invoices, {b['debits']:,} debits | {seeding} | "
            f"{b['copy_seconds']:.0f} s | {b['verify_seconds']:.0f} s, passed | {b['catch_up']['seconds']:.1f} s "
            f"({b['catch_up']['output']}) | {' / '.join(_n(v, 2) for v in (b.get('count_ms') or [None]))} ms | {rss} |")
    consoles = [(kind, r.get("console")) for kind, r in results.items() if r.get("console")]
    if consoles:
        lines += ["", "(k) The console's accounts screen in Chromium, from asking for `/accounts` to the first page's rows "
                  "with their Edit menus on screen (lib/console.py):", ""]
        for kind, k in consoles:
            if "error" in k:
                lines.append(f"- {kind}: failed: {k['error']}")
            else:
                lines.append(f"- {kind}: **{k['cold_ms']:.0f} ms** with an empty cache ({k['kib']:.0f} KiB carried), "
                             f"{k['warm_p50_ms']:.0f} ms p50 / {k['warm_max_ms']:.0f} ms max over {k['loads'] - 1} loads "
                             "with the browser's cache")
    return "\n".join(lines) + "\n"


def write(text, accounts):
    """Replaces this book size's section (sections are kept per size, smallest first) and keeps
    the history below MARK."""
    sections, kept = {}, ""
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            old = f.read()
        if MARK in old:
            old, kept = old.split(MARK, 1)
        for m in re.finditer(r"<!-- accounts: (\d+) -->\n(.*?)<!-- /accounts -->\n", old, re.S):
            sections[int(m.group(1))] = m.group(2)
    sections[accounts] = text
    body = "# fathom benchmark results\n\n" + INTRO + "\n"
    for size in sorted(sections):
        body += f"<!-- accounts: {size} -->\n{sections[size]}<!-- /accounts -->\n"
    with open(RESULTS, "w") as f:
        f.write(body + "\n" + MARK + kept)
