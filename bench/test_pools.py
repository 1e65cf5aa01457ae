"""The write workloads' accounts and dates (bench/lib/pools.py) on books seeded on the 1st, the
6th and the 28th of a month, and the refusals of empty pools.

Run: python3 -m unittest discover -s bench -p 'test_*.py' (standard library only; .ci/run).

The books are small SQLite databases with the columns the selection reads, shaped as
`fathom seed` and the benchmark's catch-up billing leave them on that day
(crates/core/src/tooling/book/plan.rs, money.rs): activations spread over the months before
today, each account billed on its activation's day of the month (clamped to the month's last
day), disconnected at 2% a month (no next_bill_date), 2% of the others with a disconnection
pending, and every active account billed through today, so its next_bill_date is the first of
its billing days after today.
"""

import calendar
import math
import random
import sqlite3
import unittest
from datetime import date, timedelta
from unittest import mock

from lib import load
from lib.pools import EmptyPool, Pools, boundaries

LEAVE_PER_DAY = 0.02 / 30
PENDING_SHARE = 0.02
ACTIVE, INACTIVE = 1, 2


def anchored(year, month, day):
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def next_billing_day(day, today):
    """The first date after `today` falling on billing day `day`."""
    candidate = anchored(today.year, today.month, day)
    if candidate > today:
        return candidate
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return anchored(year, month, day)


class SqliteBook:
    """What Pools reads of a book: `rows(sql, params)` with `?` placeholders."""

    def __init__(self):
        self.conn = sqlite3.connect(":memory:")
        self.conn.executescript("""
            CREATE TABLE account_statuses (id INTEGER PRIMARY KEY, name TEXT, activates_account BOOLEAN);
            INSERT INTO account_statuses VALUES (1, 'Active', TRUE), (2, 'Inactive', FALSE);
            CREATE TABLE accounts (id INTEGER PRIMARY KEY, account_status_id INTEGER, archived_at TEXT,
                                   next_bill_date TEXT);
            CREATE TABLE scheduled_events (id INTEGER PRIMARY KEY, account_id INTEGER, event TEXT, status TEXT);
        """)

    def add(self, rows, pending=()):
        self.conn.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?)", rows)
        self.conn.executemany("INSERT INTO scheduled_events (account_id, event, status) "
                              "VALUES (?, 'DISCONNECT_ACCOUNT', 'PENDING')", [(a,) for a in pending])
        return self

    def rows(self, sql, params=()):
        return self.conn.execute(sql, params).fetchall()


def seeded_book(today, accounts=3000, months=12, seed=1):
    """A book as `fathom seed --accounts N --months M` run on `today` leaves it, billed through
    `today`."""
    rng = random.Random(seed)
    year, month = today.year, today.month - months
    while month < 1:
        year, month = year - 1, month + 12
    start = anchored(year, month, today.day)
    rows, pending = [], []
    for id in range(1, accounts + 1):
        activated = start + timedelta(days=rng.randrange((today - start).days))
        stays = 1 + math.floor(math.log(1 - rng.random()) / math.log(1 - LEAVE_PER_DAY))
        if activated + timedelta(days=stays) < today:
            rows.append((id, INACTIVE, None, None))
            continue
        rows.append((id, ACTIVE, None, next_billing_day(activated.day, today).isoformat()))
        if rng.random() < PENDING_SHARE:
            pending.append(id)
    # A few archived accounts, which no workload may take.
    for id in range(accounts + 1, accounts + 11):
        rows.append((id, ACTIVE, "2026-01-01T00:00:00+00:00", (today + timedelta(days=20)).isoformat()))
    return SqliteBook().add(rows, pending)


def calendar_rule_pool(book, today):
    """The accounts the old rule gave the disconnections: due after the 8th of next month."""
    bill = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return book.rows("SELECT COUNT(*) FROM accounts WHERE archived_at IS NULL AND account_status_id = 1 "
                     "AND next_bill_date > ?", ((bill + timedelta(days=7)).isoformat(),))[0][0]


SEEDED_ON = [date(2026, 12, 1), date(2026, 12, 6), date(2026, 12, 28),
             date(2027, 2, 1), date(2027, 2, 6), date(2027, 2, 28)]


class PoolsOnSeededBooks(unittest.TestCase):
    def test_the_fixture_reproduces_the_calendar_rule_failing_in_the_first_week(self):
        # Without this the tests below could pass on books the old rule also handled.
        for today in SEEDED_ON:
            with self.subTest(seeded_on=today):
                book = seeded_book(today)
                if today.day <= 6:
                    self.assertEqual(calendar_rule_pool(book, today), 0)
                else:
                    self.assertGreater(calendar_rule_pool(book, today), 0)

    def test_every_workload_gets_accounts_of_its_own_on_any_day(self):
        for today in SEEDED_ON:
            with self.subTest(seeded_on=today):
                book = seeded_book(today)
                chosen = Pools(book, disconnections=3000)
                due = dict(book.rows("SELECT id, next_bill_date FROM accounts WHERE account_status_id = 1 "
                                     "AND archived_at IS NULL"))
                pending = {r[0] for r in book.rows("SELECT account_id FROM scheduled_events")}
                dates = {date.fromisoformat(d) for d in due.values()}
                bill, until = chosen.bill_date, chosen.floor_bill_until

                # The days are the book's own, after today, in order.
                self.assertIn(bill, dates)
                self.assertIn(until, dates)
                self.assertLess(today, bill)
                self.assertLess(bill, until)

                # (g) bills what is due by `bill`: about the earliest eighth.
                self.assertEqual(chosen.due, sum(1 for d in due.values() if d <= bill.isoformat()))
                self.assertGreater(chosen.due, len(due) // 10)
                self.assertLess(chosen.due, len(due) // 4)

                # Its floor: accounts due after `bill` and by `until`.
                self.assertTrue(chosen.floor_accounts)
                for a in chosen.floor_accounts:
                    self.assertTrue(bill.isoformat() < due[a] <= until.isoformat(), (a, due[a]))

                # The disconnections: active, unarchived, nothing pending, due after `until`,
                # no account twice, every pool filled, together at least half the active accounts.
                taken = [a for ids in chosen.pool.values() for a in ids]
                self.assertEqual(len(taken), len(set(taken)))
                for name, ids in chosen.pool.items():
                    self.assertTrue(ids, name)
                for a in taken:
                    self.assertIn(a, due)
                    self.assertNotIn(a, pending)
                    self.assertGreater(due[a], until.isoformat(), a)
                self.assertGreaterEqual(len(taken), len(due) // 2)
                self.assertEqual(len(chosen.pool["e"]), len(chosen.pool["e_floor"]))

    def test_a_large_book_fills_the_pools_to_their_caps(self):
        book = seeded_book(date(2026, 12, 6), accounts=80_000)
        chosen = Pools(book, disconnections=3000)
        self.assertEqual([len(chosen.pool[k]) for k in ("e", "e_floor", "f", "f_floor")], [3000, 3000, 10_000, 3000])
        self.assertEqual(len(chosen.floor_accounts), 5000)


class Refusals(unittest.TestCase):
    def test_a_book_due_on_fewer_than_three_dates_is_refused(self):
        book = SqliteBook().add([(i, ACTIVE, None, "2027-01-0%d" % (1 + i % 2)) for i in range(1, 400)])
        with self.assertRaises(EmptyPool) as refused:
            Pools(book, disconnections=3000)
        self.assertIn("fewer than three dates", str(refused.exception))
        self.assertIn("399 active", str(refused.exception))

    def test_a_book_too_small_for_the_pools_is_refused(self):
        book = SqliteBook().add([(i, ACTIVE, None, f"2027-01-{i:02d}") for i in range(1, 6)])
        with self.assertRaises(EmptyPool) as refused:
            Pools(book, disconnections=3000)
        self.assertIn("too few", str(refused.exception))

    def test_a_book_with_no_active_account_is_refused(self):
        book = SqliteBook().add([(i, INACTIVE, None, None) for i in range(1, 50)])
        with self.assertRaises(EmptyPool) as refused:
            Pools(book, disconnections=3000)
        self.assertIn("no active, unarchived account", str(refused.exception))

    def test_load_generators_are_not_started_with_nothing_to_do(self):
        with mock.patch("subprocess.run", side_effect=AssertionError("pgbench started")), \
                mock.patch("subprocess.Popen", side_effect=AssertionError("wrk started")):
            with self.assertRaises(SystemExit) as refused:
                load.pgbench("postgresql://x", "SELECT 1;\n", clients=16, transactions=0)
            self.assertIn("refusing to start pgbench", str(refused.exception))
            with self.assertRaises(SystemExit) as refused:
                load.wrk("http://x", template='{"id": ID}', ids=[])
            self.assertIn("refusing to start wrk", str(refused.exception))


class Boundaries(unittest.TestCase):
    def test_shares_by_accounts_on_date_boundaries(self):
        day = [date(2027, 1, d) for d in range(1, 9)]
        # 8 dates of 10 accounts: an eighth is due by the 1st, a quarter by the 2nd.
        self.assertEqual(boundaries([(d, 10) for d in day]), (day[0], day[1]))
        # One crowded first date takes (g); the floor still gets the next date.
        self.assertEqual(boundaries([(day[0], 500)] + [(d, 1) for d in day[1:]]), (day[0], day[1]))
        # Late dates crowded: (g) and its floor are kept early enough to leave the pools a date.
        self.assertEqual(boundaries([(day[0], 1), (day[1], 1), (day[2], 500)]), (day[0], day[1]))
        self.assertIsNone(boundaries([(day[0], 5), (day[1], 5)]))
        # Dates as SQLite gives them (text) are read as dates.
        self.assertEqual(boundaries([("2027-01-01", 1), ("2027-01-02", 1), ("2027-01-03", 1)]), (day[0], day[1]))


if __name__ == "__main__":
    unittest.main()
