"""CPU time and memory of the processes under test, read from /proc.

CPU time is utime + stime of a process (and, for PostgreSQL, of the postmaster's children,
living or reaped), in seconds; peak memory is VmHWM (the resident set's high-water mark).
"""

import os

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # The command name may hold spaces; the fields after it are fixed.
    return text[text.rindex(")") + 2:].split()


def cpu_seconds(pid, children=False):
    """utime + stime of `pid` (plus cutime + cstime, its reaped children's, when asked)."""
    try:
        fields = _stat(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def children_of(pid):
    """Every living descendant of `pid`."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(_stat(entry)[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                pass
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found.extend(kids)
        frontier.extend(kids)
    return found


class Tree:
    """A process and its descendants (PostGraphile's cluster, PostgreSQL's backends)."""

    def __init__(self, pid, reaped=False):
        self.pid = pid
        self.reaped = reaped

    def cpu(self):
        total = cpu_seconds(self.pid, children=self.reaped)
        for child in children_of(self.pid):
            total += cpu_seconds(child)
        return total

    def peak_rss_mib(self):
        """Σ VmHWM over the tree: an upper bound of the tree's peak resident memory."""
        total = 0
        for pid in [self.pid] + children_of(self.pid):
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            total += int(line.split()[1])
            except (FileNotFoundError, ProcessLookupError):
                pass
        return total / 1024


def postmaster_pid(data_directory):
    with open(os.path.join(data_directory, "postmaster.pid")) as f:
        return int(f.readline())


def rusage_children_cpu():
    """CPU seconds of this script's reaped children so far (wrk, pgbench, fathom commands)."""
    usage = os.times()
    return usage.children_user + usage.children_system


class Group:
    """Several trees measured as one (the servers of a scale-out run)."""

    def __init__(self, trees):
        self.trees = trees

    def cpu(self):
        return sum(t.cpu() for t in self.trees)

    def peak_rss_mib(self):
        return sum(t.peak_rss_mib() for t in self.trees)
