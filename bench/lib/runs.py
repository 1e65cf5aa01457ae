"""(s) a bulk disconnection run (PostgreSQL): `fathom run-disconnections` carrying out a run over
RUN_ACCOUNTS active accounts, and its floor with the same batching.

Both runs are written the way createDisconnectionRun writes one (a run row and one pending item
per account), over two disjoint sets of active accounts; the floor's run has a status fathom
does not take ('FLOOR'). fathom's run is due a minute ago: `fathom run-disconnections` (four
workers, a hundred accounts to a transaction) carries it out and exits; its start-up time is
measured apart and subtracted. The floor, sent by psycopg on as many connections: each
transaction claims a hundred pending items in account order (`FOR UPDATE SKIP LOCKED`), runs
the disconnection floor's statements (bench/lib/workloads.py, the rows a disconnection writes;
bound and prepared once per connection) for each account between a SAVEPOINT and its RELEASE, marks the items done and counts them on
the run, and commits.
"""

import random
import threading
import time

RUN_ACCOUNTS = 10_000
BATCH = 100
WORKERS = 4


def pick(book, n):
    """`2 n` active accounts, in a fixed random order: the first n for fathom, the rest for the
    floor."""
    ids = [r[0] for r in book.rows(
        "SELECT id FROM accounts WHERE account_status_id = 1 AND archived_at IS NULL")]
    random.Random(19).shuffle(ids)
    n = min(n, len(ids) // 2)
    return sorted(ids[:n]), sorted(ids[n:2 * n])


def write_run(book, accounts, status):
    """A run over `accounts`, due a minute ago, with status `status`; returns its id."""
    with book.connect() as conn:
        run = conn.execute(
            "INSERT INTO disconnection_runs (name, status, datetime, prorate, total, done, failed, cancelled, "
            "remaining, created_by_user_id, created_at, updated_at, version) VALUES ('bench', %s, "
            "now() - interval '1 minute', TRUE, %s, 0, 0, 0, %s, 1, now(), now(), 1) RETURNING id",
            (status, len(accounts), len(accounts))).fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO disconnection_run_items (disconnection_run_id, account_id, status, created_at, "
                "updated_at, version) VALUES (%s, %s, 'PENDING', now(), now(), 1)",
                [(run, a) for a in accounts])
    return run


def done(book, run):
    return book.rows("SELECT done FROM disconnection_runs WHERE id = %s", (run,))[0][0]


def floor_function(floor_sql, run):
    """The floor's transaction as a function: the next batch of the run `run`; returns how many
    accounts it disconnected (0: none left)."""
    body = " ".join(" ".join(st.split()).replace(":aid", "v_aid") + ";" for st in floor_sql.split("\n;\n"))
    return f"""CREATE OR REPLACE FUNCTION bench_run_floor() RETURNS int AS $$
DECLARE v_aid bigint; v_item bigint; v_ids bigint[] := '{{}}'; v_done int := 0;
BEGIN
  FOR v_item, v_aid IN SELECT id, account_id FROM disconnection_run_items WHERE disconnection_run_id = {run}
      AND status = 'PENDING' ORDER BY account_id, id LIMIT {BATCH} FOR UPDATE SKIP LOCKED LOOP
    BEGIN
      {body}
    EXCEPTION WHEN others THEN RAISE;
    END;
    v_ids := v_ids || v_item;
    v_done := v_done + 1;
  END LOOP;
  IF v_done = 0 THEN RETURN 0; END IF;
  UPDATE disconnection_run_items SET status = 'DONE', finished_at = now(), updated_at = now(),
    version = version + 1 WHERE id = ANY(v_ids);
  UPDATE disconnection_runs SET done = done + v_done, remaining = remaining - v_done,
    status = CASE WHEN remaining <= v_done THEN 'FLOOR_DONE' ELSE status END, updated_at = now(),
    version = version + 1 WHERE id = {run};
  RETURN v_done;
END $$ LANGUAGE plpgsql"""


def floor(book, floor_sql, run):
    """The floor over the run `run`; returns (accounts disconnected, seconds)."""
    with book.connect() as conn:
        conn.execute(floor_function(floor_sql, run))
    counts = [0] * WORKERS

    def worker(i):
        with book.connect() as conn:
            conn.autocommit = True
            while True:
                n = conn.execute("SELECT bench_run_floor()").fetchone()[0]
                if not n:
                    return
                counts[i] += n

    started = time.time()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts), time.time() - started
