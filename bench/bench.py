#!/usr/bin/env python3
"""fathom's benchmark; run it with `bash bench/run [--accounts N]` (see bench/run).

For SQLite and PostgreSQL: prepares a book of N accounts (seeded once, kept, copied per run),
checks it with `fathom verify`, and measures, beside a peer or a floor:

  (a) a page of 100 accounts with `account_status { name }`, a page at random among the first
      100 (the same draws for every contender)
  (b) the page with status, type, addresses, child accounts and `page_info { total_count }`
  (c) one account at random with its invoices and their debits
  (d) the Activations & Disconnections report over its default period, 16 clients, and (d1)
      one client alone (p50, p99)
  (e) disconnections, 16 clients at once
  (f) up to 10,000 due scheduled disconnections carried out by the worker
  (g) `fathom bill` over the whole book for a day the earliest-due accounts are due by, chosen
      from the book's next_bill_dates (lib/pools.py) (accounts/s)
  (h) PostgreSQL: (a) and (e) through two fathom servers at once, against one server
  (r) PostgreSQL: the report (at a fixed rate) read from a streaming replica (pg_basebackup of
      the cluster) while disconnections run on the primary, against the report read from the
      primary
  (p) createPayment of 100 cents applied to the account's oldest open invoice, 16 clients
  (q) PostgreSQL: `fathom delinquency` over the whole book, with rules that switch the accounts
      that never pay (lib/delinquency.py) (accounts/s: the book's accounts over the pass's time)
  (s) PostgreSQL: a disconnection run over 10,000 accounts by `fathom run-disconnections`, against
      its floor with the same batching (lib/runs.py) (disconnections/s)
  (k) the console's accounts screen in Debian's Chromium, from asking for /accounts to the first
      page's rows with their Edit menus on screen: the first load with an empty cache, then nine
      with the browser's cache (lib/console.py) (ms; no peer or floor)

Reads go through wrk (2 threads, 16 connections, loopback) against fathom and, on PostgreSQL,
PostGraphile 5 (amber preset, no default mutations; two processes on one port through
node:cluster, Node 22, NODE_ENV=production: lib/postgraphile5.mjs) over the same database; both
warm up (each distinct query asked twice first, then a timed warm-up), then rounds alternate
between them and the median is reported. Before a read is
measured, one sample of it is asked of every contender and the run stops if their answers differ
(lib/answers.py). A floor is the same work as plain SQL with the same batching and the fewest
round trips (lib/workloads.py): pgbench on PostgreSQL (reads in autocommit with no timeout,
fathom's requests keeping theirs; a write transaction one call of a PL/pgSQL function), examples/sql_floor.rs on
SQLite. Writes alternate with their floor in rounds too. p50/p99 are percentiles of each
request or transaction (pgbench's per-transaction log), never a mean. CPU time per operation of
each server, of PostgreSQL and of the load generator comes from /proc; peak RSS from VmHWM.
Every figure of a run is measured in that run, on this machine.
Results go to bench/RESULTS.md (above its history).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lib import book as books  # noqa: E402
from lib import answers, load, measure, procs, report, servers, workloads as w  # noqa: E402
from lib import replica as replicas  # noqa: E402
from lib import delinquency as delinquencies  # noqa: E402
from lib import runs as bulk  # noqa: E402
from lib import console as consoles  # noqa: E402
from lib.pools import DUE_SQL, EmptyPool, Pools  # noqa: E402

WARM_UP_SECONDS = 3
# fathom's batches: scheduled events to a worker transaction, accounts to a billing transaction.
SCHEDULED_BATCH = 50
BILLING_BATCH = 500
# (r) and (r+): the report's rate beside the disconnections, the same in both arms.
REPORT_RATE = 5


class Run:
    def __init__(self, kind, args, workdir):
        self.kind, self.args, self.workdir = kind, args, workdir
        self.dialect = w.Dialect(kind)
        self.results = {"workloads": {}, "book": {}, "memory": {}}
        self.checked_answers = {}
        self.postgres = None

    # --- contenders ------------------------------------------------------------------------

    def http(self, server, query=None, queries=None):
        """A load of `query`, or of `queries` in turn (varied pages and accounts)."""
        if queries is not None:
            bodies = [json.dumps({"query": q}) for q in queries]
            return lambda seconds: load.wrk(server.url, token=server.token, seconds=seconds, bodies=bodies)
        body = json.dumps({"query": query})
        return lambda seconds: load.wrk(server.url, body=body, token=server.token, seconds=seconds)

    def floor(self, sql, sets=None, items=None, clients=None):
        """A read floor, bounded in time: each statement in autocommit (a read needs no
        transaction), with no statement timeout (pgbench gives up a client on a cancelled
        statement; fathom's requests keep their 10 s timeout, and a request that reaches it is
        counted as failed). `sets` draws the varied page or account in pgbench; `items` lists
        them for SQLite's floor."""
        if self.kind == "postgres":
            script = w.pgbench_script(sql, transaction=False, sets=sets)
            return lambda seconds: load.pgbench(self.book.pg_url(), script, clients=clients or 16, seconds=seconds)
        return lambda seconds: self.sql_floor(sql, items or ["none=0"], clients or 4, seconds=seconds)

    def sql_floor(self, sql, items, clients, seconds=None, write=False, batch=1, per_item=1, total=None):
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as s, \
                tempfile.NamedTemporaryFile("w", suffix=".items", delete=False) as i:
            s.write(sql)
            i.write("\n".join(items) + "\n")
        cmd = [self.args.sql_floor, "--url", self.book.url, "--script", s.name, "--items", i.name,
               "--clients", str(clients), "--batch", str(batch)] + (["--seconds", str(seconds)] if seconds else []) + \
            (["--write"] if write else [])
        try:
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        finally:
            os.unlink(s.name)
            os.unlink(i.name)
        r = json.loads(next(l for l in out.splitlines() if l.startswith("FLOOR "))[6:])
        r["failed"] = 0
        if per_item > 1:
            # Set-based: an item is a batch of `per_item` accounts.
            r["n"] = total if total is not None else r["n"] * per_item
            r["ops"] = r["n"] / r["seconds"] if r["seconds"] else 0.0
        return r

    # --- the run ---------------------------------------------------------------------------

    def prepare(self):
        a = self.args
        self.book = books.Book(self.kind, a.accounts, a.months, a.fathom, self.workdir)
        self.book.prepare()
        print("   fathom verify", flush=True)
        self.book.verify()
        self.book.catch_up()
        self.results["book"] = {
            "seed_seconds": self.book.seed_seconds, "kept_seed_seconds": self.book.kept_seed_seconds,
            "seeded_at": self.book.seeded_at, "copy_seconds": self.book.copy_seconds,
            "verify_seconds": self.book.verify_seconds, "catch_up": self.book.catch_up_result,
            "accounts": self.book.rows("SELECT COUNT(*) FROM accounts")[0][0],
            "debits": self.book.rows("SELECT COUNT(*) FROM debits")[0][0],
            "invoices": self.book.rows("SELECT COUNT(*) FROM invoices")[0][0],
        }
        self.results["book"]["count_ms"] = self.count_cost()
        if self.kind == "postgres":
            data = self.book.rows("SHOW data_directory")[0][0]
            self.postgres = procs.Tree(procs.postmaster_pid(data), reaped=True)
        self.token = books.fathom(a.fathom, self.book.url, "token", "create", "--name", "bench").stdout.strip()

    def count_cost(self):
        """Median milliseconds of the statements behind `total_count` of the default `accounts`
        page (unarchived accounts) and of the page filtered by status (a sum over the kept
        counts, as fathom sends them), each run 21 times on one connection after a warm-up."""
        out = []
        for sql in ["SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM account_counts c WHERE c.archived = FALSE",
                    "SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM account_counts c WHERE c.archived = FALSE "
                    "AND c.account_status_id = 1"]:
            with self.book.connect() as conn:
                conn.execute(sql).fetchall()
                times = []
                for _ in range(21):
                    started = time.perf_counter()
                    conn.execute(sql).fetchall()
                    times.append((time.perf_counter() - started) * 1000)
            out.append(sorted(times)[len(times) // 2])
        return out

    def account_with_invoices(self):
        """The account with the most invoices: (c)'s sample for comparing answers."""
        return self.book.rows(
            "SELECT account_id FROM invoices GROUP BY account_id ORDER BY COUNT(*) DESC, account_id LIMIT 1")[0][0]

    def same_answers(self, key, fathom, peer, floor_sql, sample):
        """Asks each contender `key`'s sample once and stops the run when two answer differently."""
        if key in ("a", "b"):
            page = sample["off"] // 100 + 1
            mine = w.at_page(w.PAGE_AT if key == "a" else w.RICH, page)
            theirs = w.at_page(w.PAGE_PEER if key == "a" else w.RICH_PEER, page)
        elif key == "c":
            mine = w.ACCOUNT.replace("ID", str(sample["aid"]))
            theirs = w.ACCOUNT_PEER.replace("ID", str(sample["aid"]))
        else:
            mine, theirs = w.REPORT, None
        got = {"fathom": answers.fathom(key, fathom.query(mine))}
        if peer is not None and theirs is not None:
            got["PostGraphile"] = answers.peer(key, peer.query(theirs))
        got["SQL floor"] = answers.floor(key, answers.run_floor(self.book, self.kind, floor_sql, sample))
        n = answers.same(key, got)
        self.checked_answers[key] = f"the same answer from {', '.join(got)} ({n} contenders, {sample or 'fixed'})"
        print(f"      answers: {self.checked_answers[key]}", flush=True)

    @staticmethod
    def prime(server, queries):
        """Asks each distinct query twice, one at a time, before the load: a server that
        prepares each query text once (fathom keeps a plan per text; PostGraphile 5 plans each
        text once per process, 10-20 ms) is measured in its steady state, not while it meets the
        varied pages and accounts for the first time. Twice, so that both of PostGraphile's
        processes (node:cluster deals connections in turn) see each."""
        for query in dict.fromkeys(queries):
            for _ in range(2):
                server.ask(query)

    def one_client_report(self, fathom, floor_sql):
        """(d1) the report's latency for one client alone: sequential requests, p50 and p99,
        against its floor's statements run the same way."""
        print("   (d1) the report, one client", flush=True)
        body = json.dumps({"query": w.REPORT})
        mine = measure.run(lambda: load.wrk(fathom.url, body=body, token=fathom.token, seconds=self.args.seconds,
                                            connections=1, threads=1), fathom.tree, self.postgres)
        floor = measure.run(lambda: self.floor(floor_sql, clients=1)(self.args.seconds), None, self.postgres)
        self.results["workloads"]["d1"] = {
            "title": "Activations & Disconnections report, default period, one client", "unit": "req/s",
            "contenders": {"fathom": mine, "SQL floor": floor},
            "note": f"p50 {mine['p50']:.1f} ms (target 100 ms); floor p50 {floor['p50']:.1f} ms"}

    def compare(self, key, title, contenders, unit="req/s", refused=None):
        """Warm-up, then `rounds` rounds alternating the contenders; medians kept."""
        print(f"   ({key}) {title}", flush=True)
        for _, run, _ in contenders:
            run(WARM_UP_SECONDS)
        rounds = {name: [] for name, _, _ in contenders}
        for _ in range(self.args.rounds):
            for name, run, server in contenders:
                rounds[name].append(measure.run(lambda: run(self.args.seconds), server, self.postgres))
        self.results["workloads"][key] = {
            "title": title, "unit": unit,
            "contenders": {name: measure.median(r) for name, r in rounds.items()},
        }
        for name, problem in (refused or {}).items():
            self.results["workloads"][key]["contenders"][name] = {
                "ops": 0.0, "n": 0, "failed": 1, "p50": None, "p99": None, "refused": problem,
                "server_ms": None, "postgres_ms": None, "client_ms": None}

    def reads(self):
        a, d = self.args, self.dialect
        fathom = servers.fathom(a.fathom, self.book.url, self.token)
        peer = servers.postgraphile(a.postgraphile, self.book.pg_url()) if self.kind == "postgres" and not (a.writes_only or a.console_only) else None
        try:
            first, last = self.book.rows("SELECT MIN(id), MAX(id) FROM accounts")[0]
            pages = w.varied("page", 500, first, last)
            ids = w.varied("account", 500, first, last)
            page_sets = [f"\\set off random(0, {w.READ_PAGES - 1}) * 100"]
            page_items = [f"off={(p - 1) * 100}" for p in pages]
            id_sets = [f"\\set aid random({first}, {last})"]
            id_items = [f"aid={i}" for i in ids]
            cases = [
                ("a", f"page of 100 accounts + account_status {{ name }} (random page of the first {w.READ_PAGES})",
                 [w.at_page(w.PAGE_AT, p) for p in pages], [w.at_page(w.PAGE_PEER, p) for p in pages],
                 w.PAGE_FLOOR, page_sets, page_items, {"off": 200}),
                ("b", "page of 100 accounts + status, type, addresses, child accounts, total_count (random page)",
                 [w.at_page(w.RICH, p) for p in pages], [w.at_page(w.RICH_PEER, p) for p in pages],
                 w.RICH_FLOOR, page_sets, page_items, {"off": 200}),
                ("c", "one account (at random) + its invoices + their debits",
                 [w.ACCOUNT.replace("ID", str(i)) for i in ids], [w.ACCOUNT_PEER.replace("ID", str(i)) for i in ids],
                 w.ACCOUNT_FLOOR, id_sets, id_items, {"aid": self.account_with_invoices()}),
                ("d", "Activations & Disconnections report, default period", [w.REPORT], None, w.report_floor(d),
                 [], ["none=0"], {}),
            ]
            for key, title, queries, peer_queries, floor_sql, sets, items, sample in ([] if a.writes_only or a.console_only else cases):
                self.same_answers(key, fathom, peer if peer_queries else None, floor_sql, sample)
                contenders, refused = [], {}
                for name, server, qs in [("fathom", fathom, queries), ("PostGraphile", peer, peer_queries)]:
                    if server is None or qs is None:
                        continue
                    # A server that cannot answer the request once is recorded as such, not loaded.
                    problem = server.ask(qs[0])
                    if problem:
                        print(f"      {name} did not answer: {problem}", flush=True)
                        refused[name] = problem
                    else:
                        self.prime(server, qs)
                        contenders.append((name, self.http(server, queries=qs), server.tree))
                contenders.append(("SQL floor", self.floor(floor_sql, sets, items), None))
                self.compare(key, title, contenders, refused=refused)
                self.results["workloads"][key]["note"] = "answers: " + self.checked_answers[key]
                if key == "d":
                    self.one_client_report(fathom, floor_sql)
            if not a.writes_only:
                self.console(fathom)
            if not a.reads_only and not a.console_only:
                self.disconnections(fathom)
            self.results["memory"]["fathom"] = fathom.tree.peak_rss_mib()
            if peer:
                self.results["memory"]["PostGraphile"] = peer.tree.peak_rss_mib()
        finally:
            fathom.stop()
            if peer:
                peer.stop()

    def console(self, fathom):
        print("   (k) the console's accounts screen in Chromium", flush=True)
        k = consoles.accounts_screen(f"http://127.0.0.1:{fathom.port}", self.token)
        if k is None:
            print("      skipped: no chromium (apt-get install -y chromium)", flush=True)
        elif "error" in k:
            print(f"      failed: {k['error']}", flush=True)
        else:
            print(f"      usable after {k['cold_ms']:.0f} ms cold, {k['warm_p50_ms']:.0f} ms warm (p50; max "
                  f"{k['warm_max_ms']:.0f} ms), {k['kib']:.0f} KiB carried cold", flush=True)
        self.results["console"] = k

    # --- writes ----------------------------------------------------------------------------

    def pools(self):
        """The days (g) bills for and the accounts each write workload uses, chosen from the
        book's next_bill_dates (lib/pools.py); a book that leaves one of them empty is refused
        here, before anything is measured."""
        chosen = Pools(self.book, self.args.disconnections)
        self.bill_date, self.floor_bill_until = chosen.bill_date, chosen.floor_bill_until
        self.pool, self.floor_accounts = chosen.pool, chosen.floor_accounts
        print(f"   writes: {chosen.summary()}", flush=True)

    def disconnect_status(self):
        return self.book.rows("SELECT disconnect_account_status_id FROM billing_settings")[0][0]

    def queue(self, rows):
        """The floor's work list: a table the floor takes items from in order (`n` from 1), and
        on PostgreSQL the sequence that deals them out."""
        with self.book.connect() as conn:
            conn.execute("DROP TABLE IF EXISTS bench_queue")
            conn.execute("CREATE TABLE bench_queue (n bigint PRIMARY KEY, aid bigint, eid bigint)")
            if self.kind == "postgres":
                conn.execute("DROP SEQUENCE IF EXISTS bench_seq")
                conn.execute("CREATE SEQUENCE bench_seq")
                with conn.cursor() as cur:
                    cur.executemany("INSERT INTO bench_queue VALUES (%s, %s, %s)",
                                    [(n + 1, aid, eid) for n, (aid, eid) in enumerate(rows)])
            else:
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO bench_queue VALUES (?, ?, ?)",
                                 [(n + 1, aid, eid) for n, (aid, eid) in enumerate(rows)])
                conn.execute("COMMIT")

    def write_floor(self, sql, rows, clients, batch=1, set_based=False):
        """Runs a write floor over the (account, event) `rows`, `clients` at a time: `batch`
        items to a transaction (one after another, or set-based over `:lo < n <= :hi`). On
        PostgreSQL each transaction is one call of a PL/pgSQL function (one round trip); on
        SQLite, examples/sql_floor.rs runs the statements in one transaction per batch. The
        rate is items per second."""
        if not rows:
            raise EmptyPool("bench: refusing to run a write floor with no accounts")
        batches = -(-len(rows) // batch)
        clients = max(1, min(clients, batches))
        self.queue(rows)
        if self.kind == "postgres":
            with self.book.connect() as conn:
                conn.execute(w.plpgsql_floor("bench_floor", sql, batch, set_based))
            per_client = -(-batches // clients)

            def run():
                r = load.pgbench(self.book.pg_url(), "SELECT bench_floor();\n", clients=clients,
                                 transactions=per_client)
                r["n"] = len(rows)
                r["ops"] = len(rows) / r["seconds"] if r["seconds"] else 0.0
                return r
            return run
        if set_based:
            items = [f"lo={b * batch} hi={(b + 1) * batch}" for b in range(batches)]
            return lambda: self.sql_floor(sql, items, clients, write=True, per_item=batch, total=len(rows))
        items = [f"aid={aid} eid={eid}" for aid, eid in rows]
        return lambda: self.sql_floor(sql, items, clients, write=True, batch=batch)

    def alternate(self, fathom, template, mine, theirs, floor_sql):
        """A write through fathom (16 clients, `template` with each of `mine`) against its floor
        (the same clients, `theirs`), in alternating rounds over parts of the two pools; the
        medians."""
        rounds = max(1, min(self.args.rounds, len(mine), len(theirs)))
        clients = 16 if self.kind == "postgres" else 4
        body = json.dumps({"query": template})
        runs, floors = [], []
        for r in range(rounds):
            ids, rows = mine[r::rounds], [(a, 0) for a in theirs[r::rounds]]
            runs.append(measure.run(lambda: load.wrk(fathom.url, token=fathom.token, seconds=600, template=body,
                                                     ids=ids), fathom.tree, self.postgres))
            floors.append(measure.run(self.write_floor(floor_sql, rows, min(clients, len(rows))), None,
                                      self.postgres))
        return measure.median(runs), measure.median(floors), rounds, clients

    def disconnections(self, fathom):
        print(f"   (e) disconnections, 16 clients ({len(self.pool['e'])} accounts)", flush=True)
        run, floor, rounds, clients = self.alternate(
            fathom, "mutation { disconnectAccount(id: ID) { id } }", self.pool["e"], self.pool["e_floor"],
            w.disconnection_floor(self.dialect, self.disconnect_status()))
        self.results["workloads"]["e"] = {
            "title": "disconnectAccount, 16 clients", "unit": "disconnections/s",
            "contenders": {"fathom": run, "SQL floor": floor},
            "note": (f"{len(self.pool['e'])} accounts each in {rounds} alternating round(s); floor with {clients} "
                     "clients, one round trip per disconnection")}

    def command_startup(self, *args):
        started = time.time()
        books.fathom(self.args.fathom, self.book.url, *args)
        return time.time() - started

    def scheduled(self):
        accounts = self.pool["f"]
        print(f"   (f) {len(accounts)} due scheduled disconnections", flush=True)
        startup = self.command_startup("run-scheduled", "--once")
        self.insert_due_events(accounts)
        done_before = self.count_completed()
        meter = measure.Meter(None, self.postgres)
        meter.start()
        started = time.time()
        books.fathom(self.args.fathom, self.book.url, "run-scheduled", "--once", timeout=1800)
        elapsed = max(time.time() - started - startup, 1e-3)
        completed = self.count_completed() - done_before
        run = {"ops": completed / elapsed, "n": completed, "failed": len(accounts) - completed,
               "seconds": elapsed, "p50": None, "p99": None}
        run.update(meter.stop(completed))
        run["server_ms"], run["client_ms"] = run["client_ms"], None
        events = self.insert_due_events(self.pool["f_floor"])
        sql = w.disconnection_floor(self.dialect, self.disconnect_status(), with_event=True)
        floor = measure.run(self.write_floor(sql, events, 1, batch=SCHEDULED_BATCH), None, self.postgres)
        self.results["workloads"]["f"] = {
            "title": "scheduled disconnections run by the worker", "unit": "events/s",
            "contenders": {"fathom": run, "SQL floor": floor},
            "note": (f"{completed} events; start-up {startup:.2f} s subtracted; {SCHEDULED_BATCH} events to a "
                     "transaction on both sides")}

    def insert_due_events(self, accounts):
        now = datetime.now(timezone.utc).replace(microsecond=0)
        due = now - timedelta(minutes=1)
        stamp = (lambda t: t.strftime("%Y-%m-%dT%H:%M:%S+00:00")) if self.kind == "sqlite" else (lambda t: t)
        self.book.execute_many(
            "INSERT INTO scheduled_events (account_id, event, datetime, status, complete, attempts, "
            "created_by_user_id, created_at, updated_at, version) VALUES (?, 'DISCONNECT_ACCOUNT', ?, 'PENDING', "
            "FALSE, 0, 1, ?, ?, 1)", [(a, stamp(due), stamp(now), stamp(now)) for a in accounts])
        found = dict(self.book.rows(
            "SELECT account_id, MAX(id) FROM scheduled_events WHERE status = 'PENDING' AND datetime <= ? "
            "GROUP BY account_id", (stamp(now),)))
        return [(a, found[a]) for a in accounts if a in found]

    def count_completed(self):
        return self.book.rows("SELECT COUNT(*) FROM scheduled_events WHERE status = 'COMPLETED'")[0][0]

    def billing(self):
        day = self.bill_date.isoformat()
        due_sql = DUE_SQL
        due = self.book.rows(due_sql, (day,))[0][0]
        print(f"   (g) fathom bill --date {day} ({due} accounts due; the floor bills "
              f"{len(self.floor_accounts)} due by {self.floor_bill_until})", flush=True)
        sql = w.billing_floor_batch(self.dialect, self.floor_bill_until)
        floor = measure.run(self.write_floor(sql, [(a, 0) for a in self.floor_accounts], 1, batch=BILLING_BATCH,
                                             set_based=True), None, self.postgres)

        startup = self.command_startup("bill", "--date", (self.dialect.now_instant.date()).isoformat())
        meter = measure.Meter(None, self.postgres)
        meter.start()
        started = time.time()
        try:
            books.fathom(self.args.fathom, self.book.url, "bill", "--date", day, timeout=self.args.bill_seconds)
            finished = True
        except subprocess.TimeoutExpired:
            finished = False
        elapsed = max(time.time() - started - startup, 1e-3)
        billed = due - self.book.rows(due_sql, (day,))[0][0]
        run = {"ops": billed / elapsed, "n": billed, "failed": 0, "seconds": elapsed, "p50": None, "p99": None}
        run.update(meter.stop(billed))
        run["server_ms"], run["client_ms"] = run["client_ms"], None
        self.results["workloads"]["g"] = {
            "title": f"fathom bill --date {day}, whole book", "unit": "accounts/s",
            "contenders": {"fathom": run, "SQL floor": floor},
            "note": (f"{billed} of {due} due accounts billed" + ("" if finished else
                     f" before the {self.args.bill_seconds} s bound") + f"; {BILLING_BATCH} accounts to a set-based "
                     "transaction on both sides")}

    PAYMENTS = 8000
    OPEN_SQL = ("SELECT DISTINCT account_id FROM invoices WHERE void = FALSE AND remaining_due >= 200 "
                "ORDER BY account_id")

    def payments(self, fathom):
        """(p): each account of the pool pays 100 cents once, through fathom or the floor (two
        pools of accounts with an invoice owing at least 200, so both pay part of it)."""
        ids = [r[0] for r in self.book.rows(self.OPEN_SQL)]
        import random
        random.Random(9).shuffle(ids)
        n = min(self.PAYMENTS, len(ids) // 2)
        mine, floor_ids = ids[:n], ids[n:2 * n]
        print(f"   (p) createPayment, 16 clients ({n} accounts)", flush=True)
        run, floor, rounds, clients = self.alternate(
            fathom, "mutation { createPayment(input: {account_id: ID, amount: 100, payment_type: CASH, "
                    "apply_to_open_invoices: true}) { id } }", mine, floor_ids, w.payment_floor(self.dialect))
        self.results["workloads"]["p"] = {
            "title": "createPayment (100 cents to the oldest open invoice), 16 clients", "unit": "payments/s",
            "contenders": {"fathom": run, "SQL floor": floor},
            "note": (f"{n} accounts each in {rounds} alternating round(s); floor with {clients} clients, one round "
                     "trip per payment")}

    def money(self):
        """(p) through a server of its own, then (q)."""
        fathom = servers.fathom(self.args.fathom, self.book.url, self.token)
        try:
            self.payments(fathom)
        finally:
            fathom.stop()
        self.delinquency()

    def delinquency(self):
        """(q): the delinquency pass over the whole book, then its floor on the same book put back."""
        if self.kind != "postgres":
            return
        today = self.dialect.now_instant.date()
        status = delinquencies.give_rules(self.book)
        accounts = self.book.rows("SELECT COUNT(*) FROM accounts")[0][0]
        due = self.book.rows(
            "SELECT COUNT(*) FROM accounts a WHERE a.account_status_id = 1 AND a.archived_at IS NULL AND "
            "(SELECT MIN(delinquency_date) FROM invoices i WHERE i.account_id = a.id AND i.delinquent = TRUE) "
            "<= %s", (today - timedelta(days=delinquencies.SWITCH_DAYS),))[0][0]
        print(f"   (q) fathom delinquency over {accounts} accounts ({due} to switch)", flush=True)
        meter = measure.Meter(None, self.postgres)
        meter.start()
        started = time.time()
        out = books.fathom(self.args.fathom, self.book.url, "delinquency", "--date", today.isoformat(),
                           timeout=3600).stdout.strip()
        elapsed = max(time.time() - started, 1e-3)
        run = {"ops": accounts / elapsed, "n": accounts, "failed": 0, "seconds": elapsed, "p50": None, "p99": None}
        run.update(meter.stop(accounts))
        run["server_ms"], run["client_ms"] = run["client_ms"], None
        switched = self.book.rows("SELECT COUNT(*) FROM accounts WHERE account_status_id = %s", (status,))[0][0]
        delinquencies.undo(self.book, status)
        meter = measure.Meter(None, self.postgres)
        meter.start()
        floor_switched, floor_seconds = delinquencies.floor(self.book, today, status)
        floor = {"ops": accounts / floor_seconds, "n": accounts, "failed": 0, "seconds": floor_seconds,
                 "p50": None, "p99": None}
        floor.update(meter.stop(accounts))
        floor["server_ms"], floor["client_ms"] = floor["client_ms"], None
        self.results["workloads"]["q"] = {
            "title": "fathom delinquency, whole book", "unit": "accounts/s",
            "contenders": {"fathom": run, "SQL floor": floor},
            "note": (f"{switched} accounts switched by fathom, {floor_switched} by the floor; process start-up "
                     f"included; fathom said: {out[-200:]}")}

    def runs(self):
        """(s) a disconnection run over RUN_ACCOUNTS accounts by `fathom run-disconnections`, and its
        floor with the same batching (bench/lib/runs.py)."""
        if self.kind != "postgres":
            return
        mine, floor_ids = bulk.pick(self.book, bulk.RUN_ACCOUNTS)
        print(f"   (s) a disconnection run over {len(mine)} accounts", flush=True)
        startup = self.command_startup("run-disconnections")
        run_id = bulk.write_run(self.book, mine, "PENDING")
        meter = measure.Meter(None, self.postgres)
        meter.start()
        started = time.time()
        out = books.fathom(self.args.fathom, self.book.url, "run-disconnections", timeout=3600).stdout.strip()
        elapsed = max(time.time() - started - startup, 1e-3)
        disconnected = bulk.done(self.book, run_id)
        run = {"ops": disconnected / elapsed, "n": disconnected, "failed": len(mine) - disconnected,
               "seconds": elapsed, "p50": None, "p99": None}
        run.update(meter.stop(disconnected))
        run["server_ms"], run["client_ms"] = run["client_ms"], None
        floor_run = bulk.write_run(self.book, floor_ids, "FLOOR")
        sql = w.disconnection_floor(self.dialect, self.disconnect_status())
        meter = measure.Meter(None, self.postgres)
        meter.start()
        floor_done, floor_seconds = bulk.floor(self.book, sql, floor_run)
        floor = {"ops": floor_done / floor_seconds, "n": floor_done, "failed": len(floor_ids) - floor_done,
                 "seconds": floor_seconds, "p50": None, "p99": None}
        floor.update(meter.stop(floor_done))
        floor["server_ms"], floor["client_ms"] = floor["client_ms"], None
        self.results["workloads"]["s"] = {
            "title": f"a disconnection run over {len(mine)} accounts (fathom run-disconnections)",
            "unit": "disconnections/s", "contenders": {"fathom": run, "SQL floor": floor},
            "note": (f"{bulk.WORKERS} workers, {bulk.BATCH} accounts a transaction on both sides; start-up "
                     f"{startup:.2f} s subtracted; fathom said: {out[-120:]}")}

    # --- beyond one server ---------------------------------------------------------------

    def scale_out(self):
        """(h) two fathom servers over one database against one server; (r) the report read
        from a streaming replica while disconnections run on the primary, against the report
        read from the primary. PostgreSQL only, on a fresh copy of the book."""
        a = self.args
        print("   fresh copy of the book for (h) and (r)", flush=True)
        self.book.prepare()
        self.book.catch_up()
        self.token = books.fathom(a.fathom, self.book.url, "token", "create", "--name", "bench").stdout.strip()
        self.pools()
        cap = a.disconnections
        pools = [self.pool[k][:cap] for k in ("e", "e_floor", "f", "f_floor")]
        one = servers.fathom(a.fathom, self.book.url, self.token)
        two = servers.fathom(a.fathom, self.book.url, self.token, FATHOM_JOBS="none")
        both = procs.Group([one.tree, two.tree])
        try:
            title = "page of 100 accounts + account_status { name }, two fathom servers (8 connections each)"

            def split(seconds):
                return self.together([lambda s=s: load.wrk(s.url, body=json.dumps({"query": w.PAGE}), token=s.token,
                                                           seconds=seconds, connections=8) for s in (one, two)])

            self.compare("h", title, [("fathom", split, both),
                                      ("one server, 16 connections", self.http(one, w.PAGE), one.tree)])
            print("   (h) disconnections, two servers (8 clients each) against one (16)", flush=True)
            body = json.dumps({"query": "mutation { disconnectAccount(id: ID) { id } }"})
            # Rounds alternate the two, each on its own share of the accounts (at least one
            # account for the single server and one for each of the pair).
            rounds = max(1, min(self.args.rounds, len(pools[1]), len(pools[0]) // 2))
            if len(pools[0]) < 2:
                raise EmptyPool(f"bench: refusing (h): {len(pools[0])} account(s) for two servers")
            pair_runs, single_runs = [], []
            for r in range(rounds):
                single_ids = pools[1][r::rounds]
                pair_ids = pools[0][r::rounds]
                half = len(pair_ids) // 2
                single_runs.append(measure.run(lambda ids=single_ids: load.wrk(
                    one.url, token=one.token, seconds=600, template=body, ids=ids), one.tree, self.postgres))
                pair_runs.append(measure.run(lambda ids=pair_ids, half=half: self.together([
                    lambda s=s, part=part: load.wrk(s.url, token=s.token, seconds=600, template=body, ids=part,
                                                    connections=8)
                    for s, part in ((one, ids[:half]), (two, ids[half:]))]), both, self.postgres))
            self.results["workloads"]["h+"] = {
                "title": "disconnectAccount, two fathom servers (8 clients each)", "unit": "disconnections/s",
                "contenders": {"fathom": measure.median(pair_runs),
                               "one server, 16 clients": measure.median(single_runs)},
                "note": f"{len(pools[0])} and {len(pools[1])} accounts in {rounds} alternating round(s)"}
        finally:
            one.stop()
            two.stop()
        self.replica_reads(pools[2], pools[3])

    def replica_reads(self, primary_pool, replica_pool):
        a = self.args
        print("   (r) starting a streaming replica (pg_basebackup of the cluster)", flush=True)
        replica = replicas.Replica()
        try:
            copy_seconds = replica.start()
            replica.catch_up()
            arms = {}
            for arm, pool in (("replica", replica_pool), ("primary", primary_pool)):
                extra = {"FATHOM_READ_REPLICA_URL": replica.url_of(self.book.url)} if arm == "replica" else {}
                server = servers.fathom(a.fathom, self.book.url, self.token, **extra)
                try:
                    report = self.http(server, w.REPORT)
                    report(WARM_UP_SECONDS)
                    before = server.metrics()
                    print(f"   (r) the report from the {arm} while {len(pool)} disconnections run", flush=True)
                    arms[arm] = self.report_beside_disconnections(server, pool, replica)
                    after = server.metrics()
                    arms[arm]["replica_reads"] = after.get("fathom_replica_reads_total", 0) - \
                        before.get("fathom_replica_reads_total", 0)
                    arms[arm]["fallbacks"] = after.get("fathom_replica_fallbacks_total", 0) - \
                        before.get("fathom_replica_fallbacks_total", 0)
                finally:
                    server.stop()
        finally:
            replica.stop()
        r, p = arms["replica"], arms["primary"]
        self.results["workloads"]["r"] = {
            "title": "Activations & Disconnections report while disconnectAccount runs (8 clients), read from "
                     "a streaming replica", "unit": "req/s",
            "contenders": {"fathom": r["report"], "read from the primary": p["report"]},
            "note": (f"replica copied in {copy_seconds:.0f} s; {r['replica_reads']:.0f} report(s) read the replica, "
                     f"{r['fallbacks']:.0f} fell back; replica CPU {r['replica_ms']:.2f} ms/report; "
                     f"report load stopped when the disconnections ended")}
        self.results["workloads"]["r+"] = {
            "title": f"disconnectAccount (8 clients) while the report runs ({REPORT_RATE} a second), report on a replica",
            "unit": "disconnections/s",
            "contenders": {"fathom": r["disconnections"], "report on the primary": p["disconnections"]},
            "note": f"{r['disconnections']['n']} and {p['disconnections']['n']} accounts"}

    def report_beside_disconnections(self, server, pool, replica):
        """The report (REPORT_RATE a second, the same for both arms) and disconnections (8
        clients) on one server at once; the report runs until the disconnections are done."""
        done = threading.Event()
        out = {}
        body = json.dumps({"query": "mutation { disconnectAccount(id: ID) { id } }"})

        def disconnect():
            try:
                out["disconnections"] = measure.run(
                    lambda: load.wrk(server.url, token=server.token, seconds=600, template=body, ids=pool,
                                     connections=8), None, None)
            finally:
                done.set()

        writer = threading.Thread(target=disconnect)
        replica_cpu = replica.tree.cpu()
        writer.start()
        out["report"] = measure.run(
            lambda: load.fixed_rate(server.url, json.dumps({"query": w.REPORT}), server.token, REPORT_RATE, done),
            server.tree, self.postgres)
        writer.join()
        out["disconnections"].update(server_ms=None, client_ms=None)
        out["replica_ms"] = (replica.tree.cpu() - replica_cpu) * 1000 / max(out["report"]["n"], 1)
        return out

    def together(self, loads):
        """Runs wrk loads at once and adds them up (latencies: the slowest's)."""
        results = [None] * len(loads)
        threads = [threading.Thread(target=lambda i=i, f=f: results.__setitem__(i, f())) for i, f in enumerate(loads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = max(r["seconds"] for r in results)
        return {"ops": sum(r["ops"] for r in results), "n": sum(r["n"] for r in results),
                "failed": sum(r["failed"] for r in results), "seconds": seconds,
                "p50": max(r["p50"] for r in results), "p99": max(r["p99"] for r in results)}

    def go(self):
        self.prepare()
        if self.args.scale_out_only:
            self.scale_out()
            self.book.discard()
            return self.results
        if self.args.money_only:
            self.money()
            self.book.discard()
            return self.results
        if self.args.runs_only:
            self.runs()
            self.book.discard()
            return self.results
        if self.args.reads_only or self.args.console_only:
            self.reads()
            self.book.discard()
            return self.results
        self.pools()
        self.reads()
        self.scheduled()
        self.billing()
        self.money()
        self.runs()
        if self.kind == "postgres" and self.args.scale_out and not self.args.writes_only:
            self.scale_out()
        self.book.discard()
        return self.results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fathom", required=True)
    parser.add_argument("--sql-floor", required=True)
    parser.add_argument("--postgraphile", required=True,
                        help="the npm prefix holding PostGraphile 5 and Node 22 (bench/.node, installed by bench/run)")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--disconnections", type=int, default=3000)
    parser.add_argument("--bill-seconds", type=int, default=300)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--no-scale-out", dest="scale_out", action="store_false",
                        help="skip (h) two servers and (r) the report from a streaming replica (PostgreSQL)")
    parser.add_argument("--scale-out-only", action="store_true",
                        help="only (h) and (r) on PostgreSQL, printed and not written to RESULTS.md")
    parser.add_argument("--command", default="bash bench/run")
    parser.add_argument("--money-only", action="store_true",
                        help="only (p) and (q), printed and not written to RESULTS.md (for iterating)")
    parser.add_argument("--runs-only", action="store_true",
                        help="only (s), printed and not written to RESULTS.md (for iterating)")
    parser.add_argument("--reads-only", action="store_true",
                        help="only (a) to (d1), printed, RESULTS.md left alone")
    parser.add_argument("--console-only", action="store_true",
                        help="only (k), printed, RESULTS.md left alone")
    parser.add_argument("--writes-only", action="store_true",
                        help="only (e), (f) and (g), printed and not written to RESULTS.md (for iterating)")
    args = parser.parse_args()
    if args.scale_out_only:
        args.only, args.writes_only = "postgres", True

    started = time.time()
    results = {}
    os.makedirs(books.CACHE, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=books.CACHE) as workdir:
        for kind in ["sqlite", "postgres"]:
            if args.only and kind != args.only:
                continue
            print(f"== {kind}: {args.accounts} accounts × {args.months} months", flush=True)
            results[kind] = Run(kind, args, workdir).go()
    text = report.markdown(results, args, time.time() - started)
    print(text)
    if not (args.writes_only or args.money_only or args.runs_only or args.reads_only or args.console_only):
        report.write(text, args.accounts)


if __name__ == "__main__":
    sys.exit(main())
