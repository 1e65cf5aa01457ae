"""(q) the delinquency pass over the whole book, and its floor: the same statements, batched
the same way, sent by psycopg (PostgreSQL).

The book is given delinquency rules first (a "Delinquent" status that activates accounts, and
a default billing default switching accounts delinquent for SWITCH_DAYS days to it), so the pass
has work: the book's accounts that never pay are switched. fathom runs first, on the book as
seeded (invoices and accounts already marked as of the seeding day); then the switches are
undone (status back) and the floor does the same work: marking every invoice and
account (the accounts whose marks are wrong, marked 500 to a transaction), reading the candidates a thousand at a time with their oldest
delinquency date, and for each account to switch one transaction that locks it, marks it, reads
it again, inserts its STATUS_UPDATED event, changes its status with a compare-and-set, and
writes its audit row. The marking, as fathom's: the accounts whose marks are wrong found by one
statement, then marked 500 to a transaction that locks them first.
"""

import time
from datetime import date

SWITCH_DAYS = 30
BATCH = 1000
MARK_BATCH = 500


def give_rules(book):
    """A "Delinquent" status and the default billing default; returns the status id."""
    with book.connect() as conn:
        status = conn.execute(
            "INSERT INTO account_statuses (name, activates_account, color, icon, created_at, updated_at, version) "
            "VALUES ('Delinquent (bench)', TRUE, 'ff8800', 'ADD759610', now(), now(), 1) RETURNING id").fetchone()[0]
        conn.execute(
            "INSERT INTO billing_defaults (name, account_type_id, \"default\", grace_days, switch_status_after_delinquency, "
            "days_of_delinquency_for_status_switch, delinquency_account_status_id, delinquency_removal_account_status_id, "
            "created_at, updated_at, version) VALUES ('Bench', NULL, TRUE, 0, TRUE, %s, %s, 1, now(), now(), 1)",
            (SWITCH_DAYS, status))
        conn.execute("UPDATE settings_generations SET generation = generation + 1 WHERE id = 1")
    return status


def undo(book, status):
    """Puts the switched accounts back, for the floor to switch them again. The marks stay as
    fathom found them (already right: the book was marked when it was seeded)."""
    with book.connect() as conn:
        conn.execute("UPDATE accounts SET account_status_id = 1, version = version + 1 WHERE account_status_id = %s",
                     (status,))


def floor(book, today, status):
    """The pass's statements as plain SQL; returns (switched, seconds)."""
    day = today.isoformat()
    cond = f"(void = FALSE AND remaining_due > 0 AND remaining_due > 0 AND delinquency_date < '{day}')"
    started = time.time()
    switched = 0
    with book.connect() as conn:
        conn.autocommit = True
        conn.execute("SELECT instance, generation FROM settings_generations WHERE id = 1").fetchall()
        ids = [r[0] for r in conn.execute(
            "SELECT account_id AS id FROM invoices WHERE remaining_due > 0 AND void = FALSE "
            f"AND delinquent = FALSE AND {cond} "
            f"UNION SELECT account_id FROM invoices WHERE delinquent = TRUE AND NOT {cond} "
            "UNION SELECT id FROM accounts a WHERE a.is_delinquent = TRUE AND NOT EXISTS "
            "(SELECT 1 FROM invoices i WHERE i.account_id = a.id AND i.delinquent = TRUE) "
            "UNION SELECT i.account_id FROM invoices i JOIN accounts a ON a.id = i.account_id "
            "WHERE i.delinquent = TRUE AND a.is_delinquent = FALSE ORDER BY 1").fetchall()]
        for start in range(0, len(ids), MARK_BATCH):
            listed = ",".join(str(i) for i in ids[start:start + MARK_BATCH])
            with conn.transaction():
                conn.execute(f"SELECT id FROM accounts WHERE id IN ({listed}) ORDER BY id FOR UPDATE").fetchall()
                conn.execute(f"UPDATE invoices SET delinquent = {cond} WHERE account_id IN ({listed}) "
                             f"AND delinquent <> {cond} RETURNING delinquent").fetchall()
                conn.execute(f"UPDATE accounts SET is_delinquent = NOT is_delinquent WHERE id IN ({listed}) "
                             "AND is_delinquent <> EXISTS (SELECT 1 FROM invoices i WHERE i.account_id = accounts.id "
                             "AND i.delinquent = TRUE) RETURNING is_delinquent").fetchall()
        conn.execute("SELECT id FROM delinquency_exclusions WHERE day = %s AND month = %s AND (year IS NULL OR year = %s) "
                     "LIMIT 1", (today.day, today.month, today.year)).fetchall()
        after = 0
        since_sql = ("(SELECT MIN(i.delinquency_date) FROM invoices i WHERE i.account_id = a.id "
                     "AND i.delinquent = TRUE) AS delinquent_since")
        while True:
            cur = conn.execute(
                f"SELECT a.*, {since_sql} FROM accounts a WHERE a.archived_at IS NULL AND "
                f"(a.is_delinquent = TRUE OR a.account_status_id IN ({status})) AND a.id > {after} "
                f"ORDER BY a.id LIMIT {BATCH}")
            rows = cur.fetchall()
            if not rows:
                break
            status_at = [c.name for c in cur.description].index("account_status_id")
            after = rows[-1][0]
            for row in rows:
                account_id, since = row[0], row[-1]
                # As fathom decides: active (status 1, the book's only activating status), not
                # switched yet, delinquent long enough.
                if row[status_at] != 1 or since is None or (today - as_date(since)).days < SWITCH_DAYS:
                    continue
                with conn.transaction():
                    conn.execute(
                        "SELECT *, (SELECT instance FROM settings_generations WHERE id = 1), "
                        "(SELECT generation FROM settings_generations WHERE id = 1) FROM accounts WHERE id = %s "
                        "FOR UPDATE", (account_id,)).fetchone()
                    conn.execute(
                        f"WITH i AS (UPDATE invoices SET delinquent = {cond} WHERE account_id = {account_id} "
                        f"AND delinquent <> {cond}) UPDATE accounts SET is_delinquent = EXISTS (SELECT 1 FROM invoices "
                        f"WHERE account_id = {account_id} AND {cond}) WHERE id = {account_id} RETURNING is_delinquent")
                    conn.execute(f"SELECT a.*, {since_sql} FROM accounts a WHERE a.id = {account_id}").fetchall()
                    conn.execute(
                        "INSERT INTO account_events (account_id, event, event_datetime, previous, current, created_at, "
                        "updated_at, version) VALUES (%s, 'STATUS_UPDATED', now(), '1', %s, now(), now(), 1) RETURNING *",
                        (account_id, str(status))).fetchall()
                    changed = conn.execute(
                        "UPDATE accounts SET account_status_id = %s, version = version + 1, updated_at = now() "
                        "WHERE id = %s AND account_status_id = 1 RETURNING *", (status, account_id)).fetchall()
                    conn.execute(
                        "INSERT INTO logs (type, loggable_type, loggable_id, user_id, previous, current, message, "
                        "created_at, updated_at, version) VALUES ('SYSTEM', 'Account', %s, NULL, NULL, NULL, "
                        "'account delinquent: status switched', now(), now(), 1)", (account_id,))
                    switched += len(changed)
        conn.execute("INSERT INTO delinquency_passes (date, runs, started_at, finished_at, acted, accounts_switched, "
                     "accounts_restored, accounts_disconnected, accounts_failed, created_at, updated_at, version) "
                     "VALUES (%s, 1, now(), now(), TRUE, %s, 0, 0, 0, now(), now(), 1) ON CONFLICT (date) DO UPDATE "
                     "SET runs = delinquency_passes.runs + 1", (day, switched))
    return switched, time.time() - started


def as_date(value):
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
