"""The book a run measures: seeded once per size and kept (SQLite file, PostgreSQL template
database), copied for each run, checked with `fathom verify`, and billed up to today.

A kept book is reused while it is at most MAX_AGE_DAYS old and was made by the same seeder
and migrations (a hash of their sources is in its name); otherwise it is seeded again.
"""

import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from datetime import datetime, timezone

import psycopg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("FATHOM_BENCH_CACHE", os.path.expanduser("~/.cache/fathom-bench"))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_RUN = "fathom_bench"
MAX_AGE_DAYS = 3


def seeder_hash():
    digest = hashlib.sha1()
    files = sorted(glob.glob(os.path.join(ROOT, "crates/core/src/tooling/book/**/*.rs"), recursive=True)
                   + glob.glob(os.path.join(ROOT, "migration/**/*.rs"), recursive=True)
                   + [os.path.join(ROOT, "crates/core/src/tooling/seed.rs")])
    for path in files:
        if os.path.exists(path):
            digest.update(os.path.relpath(path, ROOT).encode())
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:10]


def fathom(binary, url, *args, check=True, timeout=None):
    env = dict(os.environ, DATABASE_URL=url, FATHOM_LOG="warn")
    return subprocess.run([binary, *args], env=env, check=check, capture_output=True, text=True,
                          timeout=timeout)


class Book:
    """One database kind's book for a run: `url` of the run's copy, and how it was made."""

    def __init__(self, kind, accounts, months, binary, workdir):
        self.kind, self.accounts, self.months, self.binary = kind, accounts, months, binary
        self.name = f"book_{accounts}x{months}_{seeder_hash()}"
        self.seed_seconds = None  # None: reused
        self.seeded_at = None
        os.makedirs(CACHE, exist_ok=True)
        if kind == "sqlite":
            self.kept = os.path.join(CACHE, f"{self.name}.db")
            self.path = os.path.join(workdir, "bench.db")
            self.url = f"sqlite://{self.path}?mode=rwc"
        else:
            self.kept = self.name
            self.url = f"postgres://postgres@127.0.0.1:5432/{PG_RUN}"

    # --- keeping -------------------------------------------------------------------------

    def _marker(self):
        if self.kind == "sqlite":
            try:
                with open(self.kept + ".json") as f:
                    return json.load(f)
            except (OSError, ValueError):
                return None
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            row = admin.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                                (self.kept,)).fetchone()
        try:
            return json.loads(row[0]) if row and row[0] else None
        except ValueError:
            return None

    def _fresh(self, marker):
        if not marker:
            return False
        made = datetime.fromisoformat(marker["seeded_at"])
        return (datetime.now(timezone.utc) - made).days <= MAX_AGE_DAYS

    def _seed(self):
        marker = {"accounts": self.accounts, "months": self.months}
        if self.kind == "sqlite":
            for old in glob.glob(os.path.join(CACHE, f"book_{self.accounts}x{self.months}_*.db*")):
                os.unlink(old)
            url = f"sqlite://{self.kept}?mode=rwc"
        else:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                for (name,) in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                             (f"book\\_{self.accounts}x{self.months}\\_%",)).fetchall():
                    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                admin.execute(f'CREATE DATABASE "{self.kept}"')
            url = f"postgres://postgres@127.0.0.1:5432/{self.kept}"
        started = time.time()
        fathom(self.binary, url, "seed", "--accounts", str(self.accounts), "--months", str(self.months))
        self.seed_seconds = time.time() - started
        marker.update(seeded_at=datetime.now(timezone.utc).isoformat(), seed_seconds=self.seed_seconds)
        if self.kind == "sqlite":
            with sqlite3.connect(self.kept) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            with open(self.kept + ".json", "w") as f:
                json.dump(marker, f)
        else:
            # As autovacuum leaves a settled table: the visibility map current, so that counts
            # can be index-only scans (copies of the book inherit it).
            with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f"COMMENT ON DATABASE \"{self.kept}\" IS '{json.dumps(marker)}'")
        return marker

    def prepare(self):
        """Seeds the kept book if needed and copies it for this run."""
        marker = self._marker()
        if not self._fresh(marker):
            print(f"   seeding {self.accounts} accounts × {self.months} months ({self.kind})", flush=True)
            marker = self._seed()
        else:
            print(f"   reusing the book seeded {marker['seeded_at'][:16]} ({self.kind})", flush=True)
        self.seeded_at = marker["seeded_at"]
        self.kept_seed_seconds = marker.get("seed_seconds")
        started = time.time()
        if self.kind == "sqlite":
            for suffix in ["", "-wal", "-shm"]:
                if os.path.exists(self.path + suffix):
                    os.unlink(self.path + suffix)
            shutil.copyfile(self.kept, self.path)
        else:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {PG_RUN} WITH (FORCE)")
                admin.execute(f'CREATE DATABASE {PG_RUN} TEMPLATE "{self.kept}" STRATEGY FILE_COPY')
            with psycopg.connect(self.pg_url(), autocommit=True) as conn:
                conn.execute("ANALYZE")
        self.copy_seconds = time.time() - started

    def verify(self):
        started = time.time()
        out = fathom(self.binary, self.url, "verify", check=False)
        self.verify_seconds = time.time() - started
        if out.returncode != 0:
            raise SystemExit(f"fathom verify failed on the {self.kind} book:\n{out.stdout[-3000:]}{out.stderr[-2000:]}")

    def catch_up(self):
        """Bills through today, so that the server starts with nothing to bill."""
        started = time.time()
        out = fathom(self.binary, self.url, "bill").stdout.strip()
        self.catch_up_result = {"seconds": time.time() - started, "output": out}

    def discard(self):
        """Drops the run's copy (the kept book stays)."""
        if self.kind == "postgres":
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {PG_RUN} WITH (FORCE)")
        else:
            for suffix in ["", "-wal", "-shm"]:
                if os.path.exists(self.path + suffix):
                    os.unlink(self.path + suffix)

    # --- direct access -------------------------------------------------------------------

    def pg_url(self):
        return self.url.replace("postgres://", "postgresql://")

    def connect(self):
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            return conn
        return psycopg.connect(self.pg_url(), autocommit=True)

    def rows(self, sql, params=()):
        with self.connect() as conn:
            if self.kind == "postgres":
                sql = sql.replace("?", "%s")
            return conn.execute(sql, params).fetchall()

    def execute_many(self, sql, rows):
        conn = self.connect()
        try:
            if self.kind == "postgres":
                with conn.cursor() as cur:
                    cur.executemany(sql.replace("?", "%s"), rows)
            else:
                conn.execute("BEGIN")
                conn.executemany(sql, rows)
                conn.execute("COMMIT")
        finally:
            conn.close()
