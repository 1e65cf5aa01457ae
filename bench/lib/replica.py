"""A streaming replica of the local PostgreSQL for the replica workload: `pg_basebackup -R`
into a temporary directory, started with `pg_ctl` on a free port as the `postgres` user,
stopped and removed at the end (as tests/api/replica.rs does). The primary must allow
replication from 127.0.0.1 (bench/run runs scripts/allow-replication)."""

import glob
import os
import shutil
import subprocess
import tempfile
import time

import psycopg

from . import procs, servers
from .book import PG_ADMIN

# A standby needs these at least as high as its primary's.
COPIED_SETTINGS = ["max_connections", "max_worker_processes", "max_wal_senders",
                   "max_prepared_transactions", "max_locks_per_transaction"]


def _as_postgres(args):
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, capture_output=True, text=True)


class Replica:
    def __init__(self):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"))
        if not found:
            raise SystemExit("pg_basebackup not found under /usr/lib/postgresql")
        self.bin = os.path.dirname(found[-1])
        self.port = servers.free_port()
        self.dir = tempfile.mkdtemp(prefix="fathom-bench-replica-")
        self.started = False

    def start(self):
        """Copies the primary and starts the copy; returns the seconds the copy took."""
        started = time.time()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        out = _as_postgres([f"{self.bin}/pg_basebackup", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres",
                            "-D", self.dir, "-R", "-X", "stream", "-c", "fast"])
        if out.returncode != 0:
            raise SystemExit(f"pg_basebackup failed (does pg_hba.conf allow replication from 127.0.0.1?): "
                             f"{out.stderr[-2000:]}")
        copy_seconds = time.time() - started
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            settings = "".join(f"{name} = {admin.execute(f'SHOW {name}').fetchone()[0]}\n"
                               for name in COPIED_SETTINGS)
            shared = admin.execute("SHOW shared_buffers").fetchone()[0]
        # Debian keeps the configuration outside the data directory: the copy gets its own,
        # with the primary's memory so that the two compare fairly.
        with open(os.path.join(self.dir, "postgresql.conf"), "w") as f:
            f.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\n"
                    f"hot_standby = on\nssl = off\nshared_buffers = {shared}\n{settings}")
        with open(os.path.join(self.dir, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "postgres:postgres", self.dir], check=True)
        os.chmod(self.dir, 0o700)
        log = os.path.join(self.dir, "server.log")
        out = _as_postgres([f"{self.bin}/pg_ctl", "-D", self.dir, "-l", log, "-w", "-t", "120", "start"])
        if out.returncode != 0:
            raise SystemExit(f"the replica did not start: {out.stderr[-1000:]}")
        self.started = True
        self.tree = procs.Tree(procs.postmaster_pid(self.dir), reaped=True)
        return copy_seconds

    def url_of(self, primary_url):
        return primary_url.replace(":5432/", f":{self.port}/", 1)

    def catch_up(self, timeout=600):
        """Waits until the replica has replayed everything the primary wrote so far."""
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            (target,) = admin.execute("SELECT pg_current_wal_lsn()").fetchone()
        deadline = time.time() + timeout
        with psycopg.connect(self.url_of(PG_ADMIN), autocommit=True) as replica:
            while time.time() < deadline:
                (behind,) = replica.execute(
                    "SELECT pg_wal_lsn_diff(%s, pg_last_wal_replay_lsn()) > 0", (target,)).fetchone()
                if not behind:
                    return
                time.sleep(0.2)
        raise SystemExit("the replica did not catch up")

    def stop(self):
        if self.started:
            _as_postgres([f"{self.bin}/pg_ctl", "-D", self.dir, "-m", "immediate", "-w", "stop"])
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)
