"""Load generators: wrk for the HTTP servers, pgbench and a SQLite driver for the SQL floors.

Each returns a dict: ops (per second), n, failed, p50/p99 (ms, when known), seconds.
"""

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRK_THREADS = 2


def wrk(url, body=None, token=None, seconds=10, connections=16, template=None, ids=None, stop=None,
        bodies=None, threads=WRK_THREADS):
    """POSTs `body` (or each of `bodies` in turn, or `template` with each of `ids`) to `url` for
    at most `seconds`, or until the threading.Event `stop` is set."""
    if template is not None and not ids:
        raise SystemExit("bench: refusing to start wrk with an empty list of ids (nothing to measure)")
    env = dict(os.environ, BENCH_THREADS=str(threads), BENCH_TOKEN=token or "")
    ids_file = None
    if template is not None:
        ids_file = tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False)
        ids_file.write("".join(f"{i}\n" for i in ids))
        ids_file.close()
        env.update(BENCH_TEMPLATE=template, BENCH_IDS=ids_file.name)
        connections = min(connections, max(threads, len(ids)))
    elif bodies is not None:
        ids_file = tempfile.NamedTemporaryFile("w", suffix=".bodies", delete=False)
        ids_file.write("".join(b.replace("\n", " ") + "\n" for b in bodies))
        ids_file.close()
        env["BENCH_BODIES"] = ids_file.name
    else:
        env["BENCH_BODY"] = body
    done_file = None
    if template is not None:
        done_file = ids_file.name + ".done"
        env["BENCH_DONE"] = done_file
    args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, int(round(seconds)))}s",
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
                if len(times) >= threads:
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


def fixed_rate(url, body, token, rate, stop):
    """POSTs `body` at `rate` requests per second (one client, requests on time or as soon as
    the previous answered) until the threading.Event `stop` is set: a background load that is
    the same whatever the server under it does."""
    import http.client
    from urllib.parse import urlparse
    target = urlparse(url)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    latencies, failed = [], 0
    started = time.time()
    due = started
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    while not stop.is_set():
        now = time.time()
        if now < due:
            stop.wait(due - now)
            continue
        due += 1.0 / rate
        at = time.perf_counter()
        try:
            conn.request("POST", target.path, body, headers)
            answer = conn.getresponse().read()
            if b'"errors"' in answer:
                failed += 1
        except OSError:
            failed += 1
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        latencies.append((time.perf_counter() - at) * 1000)
    elapsed = time.time() - started
    p50, p99 = percentiles(latencies)
    return {"ops": len(latencies) / elapsed, "n": len(latencies), "failed": failed, "p50": p50, "p99": p99,
            "seconds": elapsed}


def percentiles(latencies_ms):
    """p50 and p99 of a list of latencies (ms)."""
    lat = sorted(latencies_ms) or [float("nan")]
    return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]


def pgbench(url, script, clients=16, seconds=None, transactions=None):
    """Runs a pgbench script (prepared statements); `transactions` is per client. p50/p99 come
    from pgbench's per-transaction log (-l), not its mean."""
    if transactions is not None and transactions < 1:
        raise SystemExit(f"bench: refusing to start pgbench with {transactions} transaction(s) per client "
                         f"({clients} clients): nothing to measure")
    workdir = tempfile.mkdtemp(prefix="pgbench-")
    path = os.path.join(workdir, "script.sql")
    with open(path, "w") as f:
        f.write(script)
    args = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)), "-f", path,
            "-l", "--log-prefix", os.path.join(workdir, "log")]
    args += ["-T", str(max(1, int(round(seconds))))] if transactions is None else ["-t", str(transactions)]
    try:
        proc = subprocess.run(args + [url], capture_output=True, text=True)
        out = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise SystemExit(f"pgbench failed:\n{out[-2000:]}")
        latencies, failed = [], 0
        for name in os.listdir(workdir):
            if not name.startswith("log"):
                continue
            with open(os.path.join(workdir, name)) as log:
                for line in log:
                    fields = line.split()
                    # client_id transaction_no time script_no time_epoch time_us; time is the
                    # latency in microseconds, or "failed"/"skipped".
                    if len(fields) >= 3 and fields[2].isdigit():
                        latencies.append(int(fields[2]) / 1000)
                    elif len(fields) >= 3:
                        failed += 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out).group(1))
    n = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    failed += int(m.group(1)) if (m := re.search(r"number of failed transactions: (\d+)", out)) else 0
    p50, p99 = percentiles(latencies)
    return {"ops": tps, "n": n, "failed": failed, "p50": p50, "p99": p99, "seconds": n / tps if tps else 0}


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
