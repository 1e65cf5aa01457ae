"""One measurement: a load run with the CPU time each process spent on it."""

import statistics
import time

from . import procs


SETTLE_SECONDS = 0.5


class Meter:
    """CPU seconds of the server's process tree, of PostgreSQL and of this script's children
    (the load generator, or a fathom command), between `start` and `stop`."""

    def __init__(self, server=None, postgres=None):
        self.server, self.postgres = server, postgres

    def start(self):
        self.s0 = self.server.cpu() if self.server else 0.0
        self.p0 = self.postgres.cpu() if self.postgres else 0.0
        self.c0 = procs.rusage_children_cpu()

    def stop(self, ops):
        """CPU milliseconds per operation for `ops` operations."""
        if self.postgres:
            # A backend whose client just left is counted once the postmaster has reaped it.
            time.sleep(SETTLE_SECONDS)
        per = 1000.0 / ops if ops else float("nan")
        return {
            "server_ms": ((self.server.cpu() - self.s0) * per) if self.server else None,
            "postgres_ms": ((self.postgres.cpu() - self.p0) * per) if self.postgres else None,
            "client_ms": (procs.rusage_children_cpu() - self.c0) * per,
        }


def run(load, server=None, postgres=None):
    """Runs `load()` (which returns ops/s, n, failed, p50, p99, seconds) under a meter."""
    meter = Meter(server, postgres)
    meter.start()
    result = load()
    result.update(meter.stop(result["n"]))
    if server is None:
        # A floor's own process: pgbench (a client of PostgreSQL), or sql_floor (SQLite itself).
        result["server_ms"] = result["client_ms"]
    return result


def median(results):
    """The median of each figure over rounds (failures summed)."""
    out = {}
    for key in results[0]:
        values = [r[key] for r in results if r.get(key) is not None]
        if key in ("failed", "n"):
            out[key] = sum(values)
        else:
            out[key] = statistics.median(values) if values else None
    out["rounds"] = [r["ops"] for r in results]
    return out
