"""The workloads: the GraphQL fathom and PostGraphile answer, and the SQL floors.

A floor is the SQL a minimal implementation of the same work needs, with nothing around it,
in the fewest round trips plain SQL allows: for reads, the statements that fetch exactly the
selected rows, each in autocommit; for writes, the same rows written by plain SQL with the same
batching as fathom (one transaction per disconnection or payment, 50 scheduled events to a
transaction, billing set-based over 500 accounts at once), sent on PostgreSQL as one call of a
PL/pgSQL function per transaction (`plpgsql_floor`), so that a floor transaction is one round
trip. Floors are written once for both databases, with a few dialect pieces filled in
(`Dialect`).
"""

from datetime import datetime, timedelta, timezone

# Reads vary what they read, the same way for every contender: pages at random among the first
# READ_PAGES (each contender's page query with PAGE / OFFSET / :off in it), accounts at random
# among the book's (ID / :aid).
READ_PAGES = 100

# (a) a page of 100 accounts with their status's name.
PAGE_AT = ("{ accounts(paginator: {page: PAGE, records_per_page: 100}) "
           "{ entities { id name account_status { name } } } }")
PAGE = PAGE_AT.replace("PAGE,", "1,")
# The peer's form is PostGraphile 5's (amber preset): a row's key is `rowId` (`id` is the global
# node id), `accountByRowId`, `orderBy: ROW_ID_ASC`; `condition: {archivedAt: null}` is
# `archived_at IS NULL` (offered by a smart tag in lib/postgraphile5.mjs).
PAGE_PEER = ("{ allAccounts(first: 100, offset: OFFSET, orderBy: ROW_ID_ASC, condition: {archivedAt: null}) "
             "{ nodes { rowId name accountStatusByAccountStatusId { name } } } }")
PAGE_FLOOR = """
SELECT a.id, a.name, s.name FROM accounts a JOIN account_statuses s ON s.id = a.account_status_id
WHERE a.archived_at IS NULL ORDER BY a.id LIMIT 100 OFFSET :off
"""

# (b) the same page with status, type, addresses, child accounts and the total count. The
# floor counts with the kept counts (account_counts), as fathom does: plain SQL over the same
# tables may use them as well.
RICH = ("{ accounts(paginator: {page: PAGE, records_per_page: 100}) { entities { id name "
        "account_status { id name } account_type { id name } addresses { entities { id line1 } } "
        "child_accounts { entities { id name } } } page_info { total_count } } }")
RICH_PEER = ("{ allAccounts(first: 100, offset: OFFSET, orderBy: ROW_ID_ASC, condition: {archivedAt: null}) "
             "{ totalCount nodes { rowId name accountStatusByAccountStatusId { rowId name } "
             "accountTypeByAccountTypeId { rowId name } addressesByAddressableId { nodes { rowId line1 } } "
             "accountsByParentAccountId { nodes { rowId name } } } } }")
_PAGE_IDS = "SELECT id FROM accounts WHERE archived_at IS NULL ORDER BY id LIMIT 100 OFFSET :off"
RICH_FLOOR = f"""
SELECT a.id, a.name, s.id, s.name, t.id, t.name FROM accounts a
JOIN account_statuses s ON s.id = a.account_status_id JOIN account_types t ON t.id = a.account_type_id
WHERE a.archived_at IS NULL ORDER BY a.id LIMIT 100 OFFSET :off
;
SELECT addressable_id, id, line1 FROM addresses WHERE addressable_id IN ({_PAGE_IDS}) ORDER BY id
;
SELECT parent_account_id, id, name FROM accounts WHERE parent_account_id IN ({_PAGE_IDS}) ORDER BY id
;
SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM account_counts WHERE archived = FALSE
"""

# (c) one account with its invoices and their debits.
ACCOUNT = ("{ accounts(id: ID) { entities { id name invoices { entities { id date total_debits remaining_due "
           "debits { entities { id amount description } } } } } } }")
ACCOUNT_PEER = ('{ accountByRowId(rowId: "ID") { rowId name invoicesByAccountId { nodes { rowId date totalDebits '
                "remainingDue debitsByInvoiceId { nodes { rowId amount description } } } } } }")
ACCOUNT_FLOOR = """
SELECT id, name FROM accounts WHERE id = :aid
;
SELECT id, date, total_debits, remaining_due FROM invoices WHERE account_id = :aid ORDER BY id
;
SELECT invoice_id, id, amount, description FROM debits
WHERE invoice_id IN (SELECT id FROM invoices WHERE account_id = :aid) ORDER BY id
"""


def varied(kind, n, first_id, last_id, seed=26):
    """`n` draws, the same for every contender: pages (1-based) for the page reads, account ids
    for (c)."""
    import random
    rng = random.Random(seed)
    if kind == "page":
        return [rng.randint(1, READ_PAGES) for _ in range(n)]
    return [rng.randint(first_id, last_id) for _ in range(n)]


def at_page(query, page):
    """A page read's query for 1-based `page`, for fathom (PAGE) or PostGraphile (OFFSET)."""
    return query.replace("PAGE,", f"{page},").replace("OFFSET", str((page - 1) * 100))


# (d) the Activations & Disconnections report over its default period.
REPORT = ("{ activations_and_disconnections_report { "
          "activations { entities { account_event_id account_name activated_at } page_info { total_count } } "
          "disconnections { entities { disconnection_log_id account_name disconnected_at } page_info { total_count } } "
          "summary { activation_count disconnection_count months { month activations disconnections } } } }")


class Dialect:
    """The few pieces of SQL that differ, and literals for one run's instant."""

    def __init__(self, kind, now=None):
        self.kind = kind
        self.now_instant = now or datetime.now(timezone.utc).replace(microsecond=0)

    def stamp(self, instant):
        # No colons on PostgreSQL: pgbench would read `:30` as a variable.
        if self.kind == "postgres":
            return f"to_timestamp({int(instant.timestamp())})"
        return f"'{instant.strftime('%Y-%m-%dT%H:%M:%S+00:00')}'"

    @property
    def now(self):
        return self.stamp(self.now_instant)

    @property
    def today(self):
        return f"'{self.now_instant.date().isoformat()}'"

    def day(self, d):
        return f"'{d.isoformat()}'"

    def days_between(self, later, earlier):
        if self.kind == "postgres":
            return f"(CAST({later} AS date) - CAST({earlier} AS date))"
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"

    def plus_month(self, column, days=0):
        if self.kind == "postgres":
            return f"CAST({column} + INTERVAL '1 month' + INTERVAL '{days} day' AS date)"
        return f"date({column}, '+1 month', '{days:+d} day')"

    def month_of(self, column):
        if self.kind == "postgres":
            return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')"
        return f"substr({column}, 1, 7)"


def report_floor(d):
    """The report's statements: per table, one page, its count, and the monthly summary."""
    end = d.now_instant.date()
    start = (end.replace(year=end.year - 1) + timedelta(days=1))
    lo, hi = d.day(start), d.day(end + timedelta(days=1))
    if d.kind == "sqlite":
        lo, hi = f"'{start.isoformat()}T00:00:00+00:00'", f"'{(end + timedelta(days=1)).isoformat()}T00:00:00+00:00'"
    parts = []
    for view, column, columns in [
        ("report_activations", "activated_at", "account_event_id, account_name, activated_at"),
        ("report_disconnections", "disconnected_at", "disconnection_log_id, account_name, disconnected_at"),
    ]:
        where = f"{column} >= {lo} AND {column} < {hi}"
        # fathom's default order: when it happened, then id.
        parts.append(f"SELECT {columns} FROM {view} WHERE {where} ORDER BY {column}, id LIMIT 100")
        parts.append(f"SELECT COUNT(*) FROM {view} WHERE {where}")
        parts.append(f"SELECT {d.month_of(column)} AS m, COUNT(*) FROM {view} WHERE {where} GROUP BY 1 ORDER BY 1")
    return "\n;\n".join(parts)


def disconnection_floor(d, disconnect_status, with_event=False):
    """The rows a disconnection writes, for the account :aid (and its event :eid)."""
    now, today = d.now, d.today
    days_left = d.days_between("prorated_to", today)
    days_all = d.days_between("prorated_to", "prorated_from") + " + 1"
    final = f"(SELECT MAX(id) FROM invoices WHERE account_id = :aid AND date = {today} AND message = 'Final invoice')"
    statements = [
        f"UPDATE accounts SET account_status_id = {disconnect_status}, next_bill_date = NULL, "
        f"next_recurring_charge_amount = 0, updated_at = {now}, version = version + 1 WHERE id = :aid",
        f"UPDATE account_services SET next_bill_date = NULL, updated_at = {now}, version = version + 1 "
        "WHERE account_id = :aid AND removed_at IS NULL",
        # Proration credits for what was billed past today.
        "INSERT INTO discounts (account_id, company_id, service_id, debit_id, amount, amount_remaining, description, "
        "service_name, type, prorated_from, prorated_to, quantity, reversed, tax_committed, created_at, updated_at, version) "
        f"SELECT account_id, company_id, service_id, id, amount * {days_left} / ({days_all}), "
        f"amount * {days_left} / ({days_all}), 'Proration credit', service_name, type, {today}, prorated_to, quantity, "
        f"FALSE, FALSE, {now}, {now}, 1 FROM debits WHERE account_id = :aid AND prorated_to > {today} AND reversed = FALSE",
        # The final invoice, when anything is uninvoiced; its debits; the credits applied to it.
        "INSERT INTO invoices (account_id, company_id, date, due_date, end_date, total_debits, remaining_due, total_taxes, "
        "child_invoice_remaining_due, status, message, number_of_months, void, frozen, delinquent, late_fee_applied, "
        "late_fee_only, pending_email, tax_committed, auto_pay_attempts, created_at, updated_at, version) "
        f"SELECT :aid, MIN(company_id), {today}, {today}, {today}, SUM(amount), SUM(amount), 0, 0, 'UNPAID', "
        f"'Final invoice', 1, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, 0, {now}, {now}, 1 "
        "FROM debits WHERE account_id = :aid AND invoice_id IS NULL HAVING COUNT(*) > 0",
        f"UPDATE debits SET invoice_id = {final}, updated_at = {now}, version = version + 1 "
        "WHERE account_id = :aid AND invoice_id IS NULL",
        "INSERT INTO invoice_discount_applications (invoice_id, discount_id, amount, created_at, updated_at, version) "
        f"SELECT {final}, id, amount_remaining, {now}, {now}, 1 FROM discounts "
        f"WHERE account_id = :aid AND amount_remaining > 0 AND {final} IS NOT NULL",
        f"UPDATE discounts SET amount_remaining = 0, updated_at = {now}, version = version + 1 "
        f"WHERE account_id = :aid AND amount_remaining > 0 AND {final} IS NOT NULL",
        # The serviceable address released, its history closed.
        f"UPDATE addresses SET addressable_id = NULL, addressable_type = NULL, updated_at = {now}, version = version + 1 "
        "WHERE addressable_id = :aid AND serviceable = TRUE",
        f"UPDATE serviceable_address_account_assignment_histories SET end_date = {today}, updated_at = {now}, "
        "version = version + 1 WHERE account_id = :aid AND end_date IS NULL",
        # The log, the account event, the audit row; other pending disconnections cancelled.
        "INSERT INTO disconnection_logs (account_id, disconnected_at, disconnected_by_user_id, final_invoice_id, prorated, "
        "proration_source, previous_account_status_id, account_status_id, scheduled_event_id, credit_total, created_at, "
        f"updated_at, version) VALUES (:aid, {now}, 1, {final}, TRUE, 'INPUT', 1, {disconnect_status}, "
        f"{':eid' if with_event else 'NULL'}, 0, {now}, {now}, 1)",
        "INSERT INTO account_events (account_id, event, event_datetime, previous, current, created_at, updated_at, version) "
        f"VALUES (:aid, 'STATUS_UPDATED', {now}, 'Active', 'Inactive', {now}, {now}, 1)",
        "INSERT INTO logs (type, loggable_type, loggable_id, user_id, previous, current, message, created_at, updated_at, "
        f"version) VALUES ('UPDATED', 'Account', :aid, 1, NULL, NULL, 'account disconnected', {now}, {now}, 1)",
        f"UPDATE scheduled_events SET status = 'CANCELLED', updated_at = {now}, version = version + 1 "
        f"WHERE account_id = :aid AND event = 'DISCONNECT_ACCOUNT' AND status = 'PENDING'"
        + (" AND id <> :eid" if with_event else ""),
    ]
    if with_event:
        statements.append(
            f"UPDATE scheduled_events SET status = 'COMPLETED', complete = TRUE, executed_at = {now}, "
            f"attempts = attempts + 1, updated_at = {now}, version = version + 1 WHERE id = :eid")
    return "\n;\n".join(statements)


def billing_floor_batch(d, bill_date):
    """The rows billing the accounts of a batch writes, set-based: the accounts are bench_queue's
    rows with `:lo < n <= :hi`; a debit per due service, the services moved on a month, an
    invoice per account, its debits, a log per account, the accounts' next bill dates."""
    now, day = d.now, d.day(bill_date)
    batch = "(SELECT aid FROM bench_queue WHERE n > :lo AND n <= :hi)"
    return "\n;\n".join([
        "INSERT INTO debits (account_id, company_id, service_id, account_service_id, amount, quantity, description, "
        "service_name, type, number_of_months, prorated_from, prorated_to, reversed, created_at, updated_at, version) "
        "SELECT s.account_id, v.company_id, s.service_id, s.id, COALESCE(s.price_override, v.amount) * s.quantity, "
        f"s.quantity, v.name, v.name, v.type, 1, s.next_bill_date, {d.plus_month('s.next_bill_date', -1)}, FALSE, "
        f"{now}, {now}, 1 FROM account_services s JOIN services v ON v.id = s.service_id "
        f"WHERE s.account_id IN {batch} AND s.removed_at IS NULL AND s.next_bill_date <= {day} AND v.type = 'RECURRING'",
        f"UPDATE account_services SET next_bill_date = {d.plus_month('next_bill_date')}, "
        f"number_of_times_billed = number_of_times_billed + 1, updated_at = {now}, version = version + 1 "
        f"WHERE account_id IN {batch} AND removed_at IS NULL AND next_bill_date <= {day}",
        "INSERT INTO invoices (account_id, company_id, date, due_date, end_date, total_debits, remaining_due, total_taxes, "
        "child_invoice_remaining_due, status, message, number_of_months, void, frozen, delinquent, late_fee_applied, "
        "late_fee_only, pending_email, tax_committed, auto_pay_attempts, created_at, updated_at, version) "
        f"SELECT account_id, MIN(company_id), {day}, {day}, {day}, SUM(amount), SUM(amount), 0, 0, 'UNPAID', NULL, 1, "
        f"FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, 0, {now}, {now}, 1 "
        f"FROM debits WHERE account_id IN {batch} AND invoice_id IS NULL GROUP BY account_id",
        "UPDATE debits SET invoice_id = (SELECT MAX(i.id) FROM invoices i WHERE i.account_id = debits.account_id), "
        f"updated_at = {now}, version = version + 1 WHERE account_id IN {batch} AND invoice_id IS NULL",
        "INSERT INTO logs (type, loggable_type, loggable_id, user_id, previous, current, message, created_at, updated_at, "
        f"version) SELECT 'SYSTEM', 'Invoice', aid, NULL, NULL, NULL, 'invoice', {now}, {now}, 1 FROM bench_queue "
        "WHERE n > :lo AND n <= :hi",
        f"UPDATE accounts SET next_bill_date = {d.plus_month('next_bill_date')}, updated_at = {now}, "
        f"version = version + 1 WHERE id IN {batch}",
    ])


def plpgsql_floor(name, floor, batch=1, set_based=False):
    """A PostgreSQL function running a write floor's statements for the next `batch` items of
    bench_queue (`:aid`, `:eid`), or set-based over the next batch of them (`:lo`, `:hi`): one
    call, one transaction, one round trip. It returns the items it did (0: the queue is done)."""
    body = " ".join(
        " ".join(st.split()).replace(":aid", "v_aid").replace(":eid", "v_eid").replace(":lo", "v_lo")
        .replace(":hi", "v_hi") + ";" for st in floor.split("\n;\n"))
    if set_based:
        work = (f"v_n := nextval('bench_seq'); v_lo := (v_n - 1) * {batch}; v_hi := v_lo + {batch}; "
                "SELECT COUNT(*) INTO done FROM bench_queue WHERE n > v_lo AND n <= v_hi; "
                f"IF done = 0 THEN RETURN 0; END IF; {body} RETURN done;")
    else:
        work = (f"FOR i IN 1..{batch} LOOP v_n := nextval('bench_seq'); "
                "SELECT aid, eid INTO v_aid, v_eid FROM bench_queue WHERE n = v_n; EXIT WHEN v_aid IS NULL; "
                f"{body} done := done + 1; END LOOP; RETURN done;")
    return (f"CREATE OR REPLACE FUNCTION {name}() RETURNS int AS $$ DECLARE v_n bigint; v_aid bigint; "
            f"v_eid bigint; v_lo bigint; v_hi bigint; done int := 0; BEGIN {work} END $$ LANGUAGE plpgsql")


def pgbench_script(floor, pick=None, transaction=True, sets=None):
    """A floor as a pgbench script: one transaction per run for writes; a read's statements
    each in autocommit, as a read needs (`transaction=False`). `pick` (a SELECT with \\gset)
    chooses the item, e.g. the next account from a queue table; `sets` are pgbench
    `\\set` lines, e.g. a random page."""
    lines = list(sets or [])
    if transaction:
        lines.append("BEGIN;")
    if pick:
        lines.append(pick)
    for statement in floor.split("\n;\n"):
        lines.append(" ".join(statement.split()) + ";")
    if transaction:
        lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def payment_floor(d):
    """The rows a createPayment of 100 cents writes for the account :aid, applied to its oldest
    open invoice: the payment, the application, the invoice's new remaining_due and status, the
    two audit rows, and the account's delinquency marked again."""
    now, today = d.now, d.today
    payment = "(SELECT MAX(id) FROM payments WHERE account_id = :aid)"
    applied = f"(SELECT invoice_id FROM invoice_payment_applications WHERE payment_id = {payment})"
    owing = (f"(void = FALSE AND remaining_due > 0 AND delinquency_date < {today})")
    return "\n;\n".join([
        "INSERT INTO payments (account_id, company_id, amount, amount_remaining, payment_type, payment_datetime, "
        "status, successful, reversed, user_id, created_at, updated_at, version) "
        f"SELECT id, company_id, 100, 0, 'CASH', {now}, 'SUCCEEDED', TRUE, FALSE, 1, {now}, {now}, 1 "
        "FROM accounts WHERE id = :aid",
        "INSERT INTO invoice_payment_applications (invoice_id, payment_id, amount, undone, created_at, updated_at, version) "
        f"SELECT id, {payment}, 100, FALSE, {now}, {now}, 1 FROM invoices WHERE id = (SELECT id FROM invoices "
        "WHERE account_id = :aid AND void = FALSE AND remaining_due >= 100 ORDER BY due_date, id LIMIT 1)",
        f"UPDATE invoices SET remaining_due = remaining_due - 100, status = CASE WHEN remaining_due = 100 THEN 'PAID' "
        f"ELSE 'UNPAID' END, updated_at = {now}, version = version + 1 WHERE id = {applied}",
        "INSERT INTO logs (type, loggable_type, loggable_id, user_id, previous, current, message, created_at, updated_at, "
        f"version) VALUES ('CREATED', 'Payment', {payment}, 1, NULL, NULL, 'payment', {now}, {now}, 1)",
        "INSERT INTO logs (type, loggable_type, loggable_id, user_id, previous, current, message, created_at, updated_at, "
        f"version) VALUES ('UPDATED', 'Invoice', {applied}, 1, NULL, NULL, '100 paid', {now}, {now}, 1)",
        f"UPDATE invoices SET delinquent = {owing} WHERE account_id = :aid AND delinquent <> {owing}",
        f"UPDATE accounts SET is_delinquent = EXISTS (SELECT 1 FROM invoices WHERE account_id = :aid AND {owing}) "
        "WHERE id = :aid",
    ])
