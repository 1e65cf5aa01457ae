#!/usr/bin/env python3
"""fathom's benchmark (run it with `bash bench/run`).

For each database (SQLite, PostgreSQL) it seeds a book with `fathom seed`, starts `fathom
serve`, and measures, each beside its floor — the same work done as plain SQL from the same
client, with the same concurrency:

* read: a page of 100 accounts with their status, type, addresses and child accounts, under
  load (requests/s, p50, p99); on PostgreSQL also PostGraphile serving the same page;
* report: the Activations & Disconnections report over its default period (p50);
* disconnect: disconnections per second (four at a time);
* scheduled: scheduled disconnections carried out per second by `fathom run-scheduled --once`.

Floors for the writes are a write transaction of three statements (update the account, insert
two rows): what any correct disconnection must at least do. It prints the ratios and writes
bench/RESULTS.md.
"""

import argparse
import http.client
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg

READ = ("{ accounts(paginator: {page: 1, records_per_page: 100}) { entities { id name "
        "account_status { id name } account_type { id name } addresses { entities { id line1 } } "
        "child_accounts { entities { id name } } } page_info { total_count } } }")
REPORT = ("{ activations_and_disconnections_report { "
          "activations { entities { account_event_id account_name activated_at } page_info { total_count } } "
          "disconnections { entities { disconnection_log_id account_name disconnected_at } page_info { total_count } } "
          "summary { activation_count disconnection_count months { month activations disconnections } } } }")
POSTGRAPHILE = ("{ allAccounts(first: 100, orderBy: ID_ASC, condition: {archivedAt: null}) { totalCount nodes { id name "
                "accountStatusByAccountStatusId { id name } accountTypeByAccountTypeId { id name } "
                "addressesByAddressableId { nodes { id line1 } } accountsByParentAccountId { nodes { id name } } } } }")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "fathom_bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path="/healthz", seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nothing answered on port {port}")


def post(conn, path, query, token=None, variables=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("POST", path, json.dumps({"query": query, "variables": variables or {}}), headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"null")


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def measure(work, setup, concurrency, seconds):
    """Runs `work(state)` in `concurrency` threads for `seconds`; requests/s and latencies (ms)."""
    latencies, errors, lock = [], [0], threading.Lock()
    deadline = time.time() + seconds

    def worker():
        state = setup()
        mine, bad = [], 0
        while time.time() < deadline:
            start = time.perf_counter()
            ok = work(state)
            mine.append((time.perf_counter() - start) * 1000)
            bad += 0 if ok else 1
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.time()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - started
    return {"rps": len(latencies) / elapsed, "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
            "n": len(latencies), "errors": errors[0]}


def graphql_work(port, path, query, token):
    def setup():
        return http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def work(conn):
        status, body = post(conn, path, query, token)
        return status == 200 and not (body or {}).get("errors")

    return setup, work


class Backend:
    """The SQL side of one database: its URL for fathom, and direct connections for floors."""

    def __init__(self, kind, workdir):
        self.kind = kind
        if kind == "sqlite":
            self.path = os.path.join(workdir, "bench.db")
            self.url = f"sqlite://{self.path}?mode=rwc"
        else:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
                admin.execute(f"CREATE DATABASE {PG_DB}")
            self.url = f"postgres://postgres@127.0.0.1:5432/{PG_DB}"

    def connect(self):
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            return conn
        return psycopg.connect(self.url.replace("postgres://", "postgresql://"))

    def rows(self, conn, sql, params=()):
        if self.kind == "sqlite":
            return conn.execute(sql, params).fetchall()
        return conn.execute(sql.replace("?", "%s"), params).fetchall()

    def in_list(self, column, values):
        values = list(values) or [0]
        return f"{column} IN ({', '.join('?' for _ in values)})", values

    def stamp(self, instant):
        # fathom's SQLite timestamps are RFC 3339 text; PostgreSQL takes the datetime itself.
        return instant.strftime("%Y-%m-%dT%H:%M:%S+00:00") if self.kind == "sqlite" else instant


def read_floor(backend):
    """The SQL behind the page: the page, its count, and one query per relation."""
    def work(conn):
        page = backend.rows(conn, "SELECT * FROM accounts WHERE archived_at IS NULL ORDER BY id LIMIT 100")
        backend.rows(conn, "SELECT COUNT(*) FROM accounts WHERE archived_at IS NULL")
        ids = [r[0] for r in page]
        for table, column, values in [
            ("account_statuses", "id", {r[2] for r in page}),
            ("account_types", "id", {r[3] for r in page}),
            ("addresses", "addressable_id", ids),
            ("accounts", "parent_account_id", ids),
        ]:
            cond, params = backend.in_list(column, values)
            backend.rows(conn, f"SELECT * FROM {table} WHERE {cond}", params)
        if backend.kind == "postgres":
            conn.commit()
        return True
    return backend.connect, work


def report_floor(backend):
    now = datetime.now(timezone.utc)
    start, end = backend.stamp(now - timedelta(days=365)), backend.stamp(now)

    def work(conn):
        for table, column in [("report_activations", "activated_at"), ("report_disconnections", "disconnected_at")]:
            where = f"{column} >= ? AND {column} < ?"
            backend.rows(conn, f"SELECT COUNT(*) FROM {table} WHERE {where}", (start, end))
            backend.rows(conn, f"SELECT * FROM {table} WHERE {where} ORDER BY id LIMIT 100", (start, end))
            backend.rows(conn, f"SELECT COUNT(*) FROM {table} WHERE {where}", (start, end))
        if backend.kind == "postgres":
            conn.commit()
        return True
    return backend.connect, work


def write_floor(backend, ids, concurrency):
    """Disconnection-sized write transactions (update one account, insert two rows), per second."""
    conn = backend.connect()
    conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id INTEGER, note TEXT)")
    conn.commit()
    conn.close()
    queue, lock = list(ids), threading.Lock()
    done = [0]

    def run():
        c = backend.connect()
        while True:
            with lock:
                if not queue:
                    break
                account = queue.pop()
            for attempt in range(50):
                try:
                    if backend.kind == "sqlite":
                        c.execute("BEGIN IMMEDIATE")
                    backend.rows(c, "UPDATE accounts SET version = version + 1 WHERE id = ? RETURNING id", (account,))
                    backend.rows(c, "INSERT INTO bench_floor (id, note) VALUES (?, 'log') RETURNING id", (account,))
                    backend.rows(c, "INSERT INTO bench_floor (id, note) VALUES (?, 'event') RETURNING id", (account,))
                    c.commit()
                    break
                except (sqlite3.OperationalError, psycopg.errors.SerializationFailure):
                    c.rollback()
                    time.sleep(0.005 * (attempt + 1))
            with lock:
                done[0] += 1
        c.close()

    started = time.time()
    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0] / (time.time() - started)


def run_backend(kind, args, workdir):
    backend = Backend(kind, workdir)
    env = dict(os.environ, DATABASE_URL=backend.url, FATHOM_LOG="warn", FATHOM_RATE_LIMIT_PER_MINUTE="0",
               FATHOM_MAX_COMPLEXITY="10000000")
    started = time.time()
    subprocess.run([args.fathom, "seed", "--accounts", str(args.accounts), "--months", str(args.months)],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seed_seconds = time.time() - started
    token = subprocess.run([args.fathom, "token", "create", "--name", "bench"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()
    port = free_port()
    server = subprocess.Popen([args.fathom, "serve"], env=dict(env, FATHOM_BIND=f"127.0.0.1:{port}"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {"seed_seconds": seed_seconds}
    try:
        wait_http(port)
        setup, work = graphql_work(port, "/api/graphql", READ, token)
        results["read"] = measure(work, setup, args.concurrency, args.seconds)
        setup, work = read_floor(backend)
        results["read_floor"] = measure(work, setup, args.concurrency, args.seconds)
        setup, work = graphql_work(port, "/api/graphql", REPORT, token)
        results["report"] = measure(work, setup, 1, args.seconds / 2)
        setup, work = report_floor(backend)
        results["report_floor"] = measure(work, setup, 1, args.seconds / 2)

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        _, body = post(conn, "/api/graphql", "{ accounts(account_status_id: 1, paginator: {page: 1, records_per_page: 1000}) { entities { id } } }", token)
        active = [int(a["id"]) for a in body["data"]["accounts"]["entities"]]
        batch = max(10, min(200, len(active) // 3))
        to_disconnect, to_schedule, floor_ids = active[:batch], active[batch:2 * batch], active[2 * batch:3 * batch]

        queue, lock, failures = list(to_disconnect), threading.Lock(), [0]

        def disconnector():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while True:
                with lock:
                    if not queue:
                        return
                    account = queue.pop()
                status, body = post(c, "/api/graphql", "mutation($id: Int64Bit!) { disconnectAccount(id: $id) { id } }",
                                    token, {"id": account})
                if status != 200 or body.get("errors"):
                    with lock:
                        failures[0] += 1

        started = time.time()
        threads = [threading.Thread(target=disconnector) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        results["disconnect"] = {"ops": len(to_disconnect) / (time.time() - started), "errors": failures[0]}
        results["write_floor"] = {"ops": write_floor(backend, floor_ids, 4)}

        future = (datetime.now(timezone.utc) + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for account in to_schedule:
            post(conn, "/api/graphql", "mutation($a: Int64Bit!, $d: Datetime!) { createScheduledEvent(input: {account_id: $a, event: DISCONNECT_ACCOUNT, datetime: $d}) { id } }",
                 token, {"a": account, "d": future})
    finally:
        server.terminate()
        server.wait()
    # Make them due, then let one run of the scheduler carry them out (minus its start-up).
    c = backend.connect()
    past = backend.stamp(datetime.now(timezone.utc) - timedelta(minutes=1))
    backend.rows(c, "UPDATE scheduled_events SET datetime = ? WHERE status = 'PENDING' RETURNING id", (past,))
    c.commit()
    c.close()
    idle = time.time()
    # The start-up of the command alone (migrations checked, nothing due), on an empty database.
    subprocess.run([args.fathom, "run-scheduled", "--once"], env=dict(env, DATABASE_URL=f"sqlite://{workdir}/empty-{kind}.db?mode=rwc"),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    startup = time.time() - idle
    started = time.time()
    out = subprocess.run([args.fathom, "run-scheduled", "--once"], env=env, check=True, capture_output=True, text=True).stdout
    elapsed = max(time.time() - started - startup, 1e-3)
    completed = int(out.split("scheduled events: ")[1].split(" completed")[0])
    results["scheduled"] = {"ops": completed / elapsed, "completed": completed}

    if kind == "postgres":
        port = free_port()
        graphile = subprocess.Popen([args.postgraphile, "-c", backend.url.replace("postgres://", "postgresql://"),
                                     "--port", str(port), "--host", "127.0.0.1", "--disable-default-mutations",
                                     "--disable-query-log", "--simple-collections", "omit"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_http(port, "/graphql", seconds=120)
            setup, work = graphql_work(port, "/graphql", POSTGRAPHILE, None)
            results["postgraphile"] = measure(work, setup, args.concurrency, args.seconds)
        finally:
            graphile.terminate()
            graphile.wait()
    return results


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return f"{os.cpu_count()} × {cpu}, {mem}, {platform.system()} {platform.release()}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fathom", required=True)
    parser.add_argument("--postgraphile", required=True)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    all_results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for kind in ["sqlite", "postgres"]:
            print(f"== {kind}: seeding {args.accounts} accounts × {args.months} months", flush=True)
            all_results[kind] = run_backend(kind, args, workdir)

    lines = [
        "# fathom benchmark results",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {machine()}, with `bash bench/run`: "
        f"{args.accounts} accounts, {args.months} months of history, {args.concurrency} concurrent clients for "
        f"reads, {args.seconds:g} s per measurement. A ratio is fathom ÷ floor (the same work as plain SQL from "
        "the same client); for throughput, higher is better, for latency, lower is better.",
        "",
        "| database | measure | fathom | floor | ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind, r in all_results.items():
        read, floor = r["read"], r["read_floor"]
        lines.append(f"| {kind} | page of 100 accounts with relations, req/s | {read['rps']:.0f} | {floor['rps']:.0f} | {read['rps'] / floor['rps']:.2f} |")
        lines.append(f"| {kind} | same, p50 / p99 ms | {read['p50']:.1f} / {read['p99']:.1f} | {floor['p50']:.1f} / {floor['p99']:.1f} | {read['p50'] / floor['p50']:.1f} (p50) |")
        rep, rfloor = r["report"], r["report_floor"]
        lines.append(f"| {kind} | report, default period, p50 ms | {rep['p50']:.1f} | {rfloor['p50']:.1f} | {rep['p50'] / rfloor['p50']:.1f} |")
        lines.append(f"| {kind} | disconnections/s (4 at a time) | {r['disconnect']['ops']:.0f} | {r['write_floor']['ops']:.0f} | {r['disconnect']['ops'] / r['write_floor']['ops']:.2f} |")
        lines.append(f"| {kind} | scheduled disconnections/s | {r['scheduled']['ops']:.0f} | {r['write_floor']['ops']:.0f} | {r['scheduled']['ops'] / r['write_floor']['ops']:.2f} |")
        if "postgraphile" in r:
            g = r["postgraphile"]
            lines.append(f"| {kind} | PostGraphile, same page, req/s (p50 / p99 ms) | {read['rps']:.0f} | {g['rps']:.0f} ({g['p50']:.1f} / {g['p99']:.1f}) | {read['rps'] / g['rps']:.2f} (vs PostGraphile) |")
        errors = read["errors"] + rep["errors"] + r["disconnect"]["errors"] + r.get("postgraphile", {}).get("errors", 0)
        lines.append(f"| {kind} | failed requests; seeding time | {errors} | | {r['seed_seconds']:.0f} s |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
