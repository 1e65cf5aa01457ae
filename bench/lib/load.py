"""Load generators: wrk for the HTTP servers, pgbench and a SQLite driver for the SQL floors.

Each returns a dict: ops (per second), n, failed, p50/p99 (ms, when known), seconds.
"""

import json
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRK_THREADS = 2


def wrk(url, body=None, token=None, seconds=10, connections=16, template=None, ids=None, stop=None):
    """POSTs `body` (or `template` with each of `ids`) to `url` for at most `seconds`, or until
    the threading.Event `stop` is set."""
    if template is not None and not ids:
        raise SystemExit("bench: refusing to start wrk with an empty list of ids (nothing to measure)")
    env = dict(os.environ, BENCH_THREADS=str(WRK_THREADS), BENCH_TOKEN=token or "")
    ids_file = None
    if template is not None:
        ids_file = tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False)
        ids_file.write("".join(f"{i}\n" for i in ids))
        ids_file.close()
        env.update(BENCH_TEMPLATE=template, BENCH_IDS=ids_file.name)
        connections = min(connections, max(WRK_THREADS, len(ids)))
    else:
        env["BENCH_BODY"] = body
    done_file = None
    if template is not None:
        done_file = ids_file.name + ".done"
        env["BENCH_DONE"] = done_file
    args = ["wrk", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{max(1, int(round(seconds)))}s",
            "--timeout", "30s", "-s", os.path.join(HERE, "wrk.lua"), url]
    started = time.time_ns()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finished = None
    try:
        # A list of ids: wrk ends when every thread has used its share.
        while (done_file or stop) and proc.poll() is None:
            if done_file and os.path.exists(done_file):
                with open(done_file) as f:
                    times = [int(t) for t in f.read().split()]
                if len(times) >= WRK_THREADS:
                    finished = max(times)
                    proc.send_signal(signal.SIGINT)
                    break
            if stop is not None and stop.is_set():
                finished = time.time_ns()
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.05)
        stdout, stderr = proc.communicate()
    finally:
        for path in [ids_file.name if ids_file else None, done_file]:
            if path and os.path.exists(path):
                os.unlink(path)
    if "BENCH " not in stdout:
        raise SystemExit(f"wrk failed: {stdout[-1500:]}{stderr[-1500:]}")
    line = next(l for l in stdout.splitlines() if l.startswith("BENCH "))
    r = json.loads(line[len("BENCH "):])
    elapsed = (finished - started) / 1e9 if finished else r["duration_us"] / 1e6
    # Answers received, minus failed ones. With a fixed body, requests still in flight when
    # the time is up are not counted (they would flatter a slow server: 16 of them is a lot
    # beside 80 answers); with a list of ids each thread stops once its share is answered.
    done = (r["sent"] if template is not None else r["requests"]) - r["failed"]
    return {"ops": done / elapsed, "n": r["sent"], "failed": r["failed"] + r["socket_errors"],
            "p50": r["p50_us"] / 1000, "p99": r["p99_us"] / 1000, "seconds": elapsed}


def pgbench(url, script, clients=16, seconds=None, transactions=None):
    """Runs a pgbench script (prepared statements); `transactions` is per client."""
    if transactions is not None and transactions < 1:
        raise SystemExit(f"bench: refusing to start pgbench with {transactions} transaction(s) per client "
                         f"({clients} clients): nothing to measure")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    args = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)), "-f", f.name]
    args += ["-T", str(max(1, int(round(seconds))))] if transactions is None else ["-t", str(transactions)]
    try:
        proc = subprocess.run(args + [url], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"pgbench failed:\n{out[-2000:]}")
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out).group(1))
    n = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    latency = float(re.search(r"latency average = ([0-9.]+) ms", out).group(1))
    return {"ops": tps, "n": n, "failed": 0, "p50": latency, "p99": None, "seconds": n / tps if tps else 0}


def sqlite_connect(path):
    conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def sqlite_floor(path, statements, items, clients=16, seconds=None, write=False):
    """Runs `statements` (SQL with :named parameters) once per item of `items` (a list of
    parameter dicts; cycled when `seconds` bounds the run) from `clients` threads, each run in
    one transaction (`BEGIN IMMEDIATE` for writes, like fathom)."""
    lock, state = threading.Lock(), {"next": 0, "done": 0, "lat": []}
    deadline = time.time() + seconds if seconds else None

    def take():
        with lock:
            i = state["next"]
            if deadline is None and i >= len(items):
                return None
            if deadline is not None and time.time() >= deadline:
                return None
            state["next"] = i + 1
            return items[i % len(items)]

    def run():
        conn, mine = sqlite_connect(path), []
        while (params := take()) is not None:
            started = time.perf_counter()
            for attempt in range(100):
                try:
                    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                    for sql in statements:
                        conn.execute(sql, params).fetchall()
                    conn.execute("COMMIT")
                    break
                except sqlite3.OperationalError:
                    conn.execute("ROLLBACK") if conn.in_transaction else None
                    time.sleep(0.001 * (attempt + 1))
            mine.append((time.perf_counter() - started) * 1000)
        conn.close()
        with lock:
            state["done"] += len(mine)
            state["lat"].extend(mine)

    started = time.time()
    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - started
    lat = sorted(state["lat"]) or [float("nan")]
    return {"ops": state["done"] / elapsed, "n": state["done"], "failed": 0,
            "p50": lat[len(lat) // 2], "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "seconds": elapsed}
