"""The accounts the write workloads use, and the days (g) bills for, chosen from the book.

After the catch-up billing every active account's `next_bill_date` lies in the month after
today, on its own billing day. The write workloads share those accounts out by
`next_bill_date`, earliest first, so that none of them takes another's:

  (g)        `fathom bill --date BILL` bills the accounts due by BILL (about the earliest
             BILL_SHARE of the active accounts);
  (g) floor  bills, 500 accounts at a time set-based, for FLOOR_UNTIL, accounts due after BILL and by FLOOR_UNTIL
             (about the next FLOOR_SHARE);
  pools      (e), (f), (h) and (r) disconnect active accounts due after FLOOR_UNTIL that have
             no pending disconnection: disconnecting them takes nothing from what (g) and its
             floor bill.

BILL and FLOOR_UNTIL are dates of the book's own `next_bill_date`s, never the calendar's: a
rule such as "the 1st of next month, and the week after it" leaves nothing after FLOOR_UNTIL in
the first week of a month (the last `next_bill_date` is a month from today). A book whose
dates cannot be shared out, or whose pools would be empty, is refused with a message (no
load generator is started with nothing to do).

Only the standard library here: the unit tests (bench/test_pools.py) run it on small SQLite
books without bench/.venv.
"""

import random
from datetime import date

BILL_SHARE = 1 / 8
FLOOR_SHARE = 1 / 8
FLOOR_LIMIT = 5000

BILLABLE = ("archived_at IS NULL AND account_status_id IN "
            "(SELECT id FROM account_statuses WHERE activates_account = TRUE)")
DATES_SQL = (f"SELECT next_bill_date, COUNT(*) FROM accounts WHERE {BILLABLE} AND next_bill_date IS NOT NULL "
             "GROUP BY next_bill_date")
POOL_SQL = (f"SELECT id FROM accounts WHERE {BILLABLE} AND next_bill_date > ? AND id NOT IN "
            "(SELECT account_id FROM scheduled_events WHERE status = 'PENDING' AND event = 'DISCONNECT_ACCOUNT') "
            "ORDER BY id")
DUE_SQL = f"SELECT COUNT(*) FROM accounts WHERE {BILLABLE} AND next_bill_date <= ?"
FLOOR_SQL = (f"SELECT id FROM accounts WHERE {BILLABLE} AND next_bill_date > ? AND next_bill_date <= ? "
             f"ORDER BY id LIMIT {FLOOR_LIMIT}")


class EmptyPool(SystemExit):
    """The book leaves a workload nothing to measure."""


def as_date(value):
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def boundaries(counts, bill_share=BILL_SHARE, floor_share=FLOOR_SHARE):
    """(BILL, FLOOR_UNTIL) from `counts`, pairs (next_bill_date, accounts) of the billable
    accounts: BILL is the first date by which at least `bill_share` of them are due,
    FLOOR_UNTIL the first later date by which at least `bill_share + floor_share` are; each is
    kept early enough to leave at least one later date, so that (g), its floor and the pools
    each have a date of their own. None when the book has fewer than three dates."""
    merged = {}
    for day, n in counts:
        merged[as_date(day)] = merged.get(as_date(day), 0) + n
    days = sorted(merged)
    if len(days) < 3:
        return None
    total = sum(merged.values())
    cumulative, running = [], 0
    for day in days:
        running += merged[day]
        cumulative.append(running)

    def first_reaching(share, after):
        for i in range(after + 1, len(days)):
            if cumulative[i] >= share * total:
                return i
        return len(days) - 1

    bill = min(first_reaching(bill_share, -1), len(days) - 3)
    until = min(first_reaching(bill_share + floor_share, bill), len(days) - 2)
    return days[bill], days[until]


def describe(counts):
    days = sorted({as_date(d) for d, _ in counts})
    accounts = sum(n for _, n in counts)
    if not days:
        return "no active, unarchived account has a next_bill_date"
    return (f"{accounts} active, unarchived account(s) with a next_bill_date, on {len(days)} date(s) "
            f"from {days[0]} to {days[-1]}")


class Pools:
    """The dates and accounts of one run's writes, from `book` (anything with `rows(sql,
    params)`, `?` placeholders). `disconnections` caps (e) and its floor, as --disconnections."""

    def __init__(self, book, disconnections, seed=8):
        counts = [(as_date(d), n) for d, n in book.rows(DATES_SQL)]
        cut = boundaries(counts)
        if cut is None:
            raise EmptyPool(
                f"bench: refusing to measure the writes: the book's active accounts fall due on fewer than three "
                f"dates ({describe(counts)}), so (g), its floor and the disconnections cannot each have accounts "
                "of their own. Seed a larger book (--accounts).")
        self.bill_date, self.floor_bill_until = cut
        ids = [r[0] for r in book.rows(POOL_SQL, (self.floor_bill_until.isoformat(),))]
        random.Random(seed).shuffle(ids)
        quarter = len(ids) // 4
        e = min(quarter, disconnections)
        f = min(quarter, 10_000)
        self.pool = {"e": ids[:e], "e_floor": ids[e:2 * e], "f": ids[2 * e:2 * e + f],
                     "f_floor": ids[2 * e + f:2 * e + f + min(f, 3000)]}
        self.due = book.rows(DUE_SQL, (self.bill_date.isoformat(),))[0][0]
        self.floor_accounts = [r[0] for r in book.rows(
            FLOOR_SQL, (self.bill_date.isoformat(), self.floor_bill_until.isoformat()))]
        empty = [k for k, v in self.pool.items() if not v]
        if empty:
            raise EmptyPool(
                f"bench: refusing to measure the writes: {len(ids)} active account(s) are due after "
                f"{self.floor_bill_until} with no pending disconnection, too few to give (e), (f) and their floors "
                f"one each (empty: {', '.join(empty)}; {describe(counts)}). Seed a larger book (--accounts).")

    def summary(self):
        return (f"(g) bills {self.due} account(s) due by {self.bill_date}, its floor {len(self.floor_accounts)} "
                f"due by {self.floor_bill_until}; disconnections use accounts due after it: "
                + ", ".join(f"{k} {len(v)}" for k, v in self.pool.items()))
