"""The database's share of the reads: `EXPLAIN (ANALYZE, BUFFERS)` of the statement fathom sends
for (a), (b) and (c) beside its SQL floor's statements, on a kept PostgreSQL book.

    bench/.venv/bin/python bench/explain.py --accounts N [--fathom PATH]

after `bash bench/run --accounts N` has made the book (book_<N>x12_<hash>). It copies the book
into a scratch database, starts fathom on it with every statement logged, asks each read once
(the sample the benchmark compares answers on: page 3, the account with the most invoices),
takes fathom's statement and its parameters from PostgreSQL's log, and prints Markdown: for
each read, fathom's plan and the floor's, each run once to warm the caches and then explained.
PostgreSQL's log is read where Debian's clusters write it (/var/log/postgresql).
"""

import argparse
import glob
import json
import os
import re
import sys
import time

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import book as books  # noqa: E402
from lib import servers  # noqa: E402
from lib import workloads as w  # noqa: E402

SCRATCH = "fathom_explain"


def logged_statement(log, since):
    """The last compiled read (`execute … json_build_array`) in `log` after byte `since`, with
    its parameters put in."""
    with open(log, "rb") as f:
        f.seek(since)
        text = f.read().decode(errors="replace")
    found = None
    for m in re.finditer(r"execute [^:]*: (SELECT CAST\(json_build_array.*?)\n(?:.*DETAIL:  parameters: (.*)\n)?",
                         text):
        found = m
    if not found:
        raise SystemExit("explain: fathom's statement is not in PostgreSQL's log")
    sql, params = found.group(1), found.group(2) or ""
    values = dict(re.findall(r"\$(\d+) = ('(?:[^']|'')*'|NULL)", params))
    for n in sorted(values, key=int, reverse=True):
        sql = sql.replace(f"${n}", values[n])
    return sql


def explain(conn, sql):
    conn.execute(sql).fetchall()
    rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql).fetchall()
    return "\n".join(r[0] for r in rows)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--fathom", default=os.path.expanduser("~/.cache/fathom-target/release/fathom"))
    a = parser.parse_args()
    kept = f"book_{a.accounts}x{a.months}_{books.seeder_hash()}"
    logs = sorted(glob.glob("/var/log/postgresql/postgresql-*-main.log"))
    if not logs:
        raise SystemExit("explain: no PostgreSQL log under /var/log/postgresql")
    with psycopg.connect(books.PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH}")
        admin.execute(f'CREATE DATABASE {SCRATCH} TEMPLATE "{kept}" STRATEGY FILE_COPY')
        admin.execute(f"ALTER DATABASE {SCRATCH} SET log_min_duration_statement = 0")
    url = f"postgres://postgres@127.0.0.1:5432/{SCRATCH}"
    token = books.fathom(a.fathom, url, "token", "create", "--name", "explain").stdout.strip()
    fathom = servers.fathom(a.fathom, url, token)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            aid = conn.execute("SELECT account_id FROM invoices GROUP BY account_id "
                               "ORDER BY COUNT(*) DESC, account_id LIMIT 1").fetchone()[0]
            reads = [
                ("a", w.at_page(w.PAGE_AT, 3), w.PAGE_FLOOR, {"off": 200}),
                ("b", w.at_page(w.RICH, 3), w.RICH_FLOOR, {"off": 200}),
                ("c", w.ACCOUNT.replace("ID", str(aid)), w.ACCOUNT_FLOOR, {"aid": aid}),
            ]
            print(f"### {a.accounts:,} accounts\n")
            for key, query, floor, params in reads:
                fathom.query(query)  # the token's first use; the plan kept
                since = os.path.getsize(logs[-1])
                fathom.query(query)
                time.sleep(0.5)
                mine = logged_statement(logs[-1], since)
                print(f"#### ({key}) fathom: one statement\n\n```\n{explain(conn, mine)}\n```\n")
                for i, statement in enumerate(floor.split("\n;\n"), 1):
                    text = statement
                    for name, value in params.items():
                        text = text.replace(f":{name}", json.dumps(value))
                    print(f"#### ({key}) SQL floor, statement {i}\n\n```\n{explain(conn, ' '.join(text.split()))}\n```\n")
    finally:
        fathom.stop()
        with psycopg.connect(books.PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")


if __name__ == "__main__":
    main()
