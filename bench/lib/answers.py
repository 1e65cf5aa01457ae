"""The same answer from every contender: once per read workload, one sample request (a page
other than the first, an account drawn like the load's) is asked of fathom, PostGraphile and
the SQL floor, each answer put in one plain form, and the run stops when two differ: a
contender that is faster because it answers something else is not measured."""

from datetime import date, datetime


class Differ(SystemExit):
    pass


def _int(v):
    return None if v is None else int(v)


def _instant(v):
    if v is None:
        return None
    if isinstance(v, datetime):
        return int(v.timestamp())
    return int(datetime.fromisoformat(str(v).replace(" ", "T").replace("Z", "+00:00")).timestamp())


def _day(v):
    if v is None:
        return None
    if isinstance(v, (date, datetime)):
        return v.isoformat()[:10]
    return str(v)[:10]


# --- fathom ---------------------------------------------------------------------------------

def fathom(key, data):
    if key == "a":
        return [(_int(e["id"]), e["name"], e["account_status"]["name"]) for e in data["accounts"]["entities"]]
    if key == "b":
        page = data["accounts"]
        rows = [(_int(e["id"]), e["name"], _int(e["account_status"]["id"]), e["account_status"]["name"],
                 _int(e["account_type"]["id"]), e["account_type"]["name"],
                 tuple(sorted((_int(x["id"]), x["line1"]) for x in e["addresses"]["entities"])),
                 tuple(sorted((_int(x["id"]), x["name"]) for x in e["child_accounts"]["entities"])))
                for e in page["entities"]]
        return rows, int(page["page_info"]["total_count"])
    if key == "c":
        entities = data["accounts"]["entities"]
        if not entities:
            return None
        e = entities[0]
        return (_int(e["id"]), e["name"], [
            (_int(i["id"]), _day(i["date"]), int(i["total_debits"]), int(i["remaining_due"]),
             [(_int(d["id"]), int(d["amount"]), d["description"]) for d in i["debits"]["entities"]])
            for i in e["invoices"]["entities"]])
    if key == "d":
        r = data["activations_and_disconnections_report"]
        return (
            [(_int(x["account_event_id"]), x["account_name"], _instant(x["activated_at"]))
             for x in r["activations"]["entities"]],
            int(r["activations"]["page_info"]["total_count"]),
            [(_int(x["disconnection_log_id"]), x["account_name"], _instant(x["disconnected_at"]))
             for x in r["disconnections"]["entities"]],
            int(r["disconnections"]["page_info"]["total_count"]),
            {m["month"]: (int(m["activations"]), int(m["disconnections"]))
             for m in r["summary"]["months"] if m["activations"] or m["disconnections"]},
        )
    raise ValueError(key)


# --- PostGraphile ---------------------------------------------------------------------------

def peer(key, data):
    """PostGraphile 5's answer (rows keyed by `rowId`)."""
    if key == "a":
        return [(_int(n["rowId"]), n["name"], n["accountStatusByAccountStatusId"]["name"])
                for n in data["allAccounts"]["nodes"]]
    if key == "b":
        page = data["allAccounts"]
        rows = [(_int(n["rowId"]), n["name"], _int(n["accountStatusByAccountStatusId"]["rowId"]),
                 n["accountStatusByAccountStatusId"]["name"], _int(n["accountTypeByAccountTypeId"]["rowId"]),
                 n["accountTypeByAccountTypeId"]["name"],
                 tuple(sorted((_int(x["rowId"]), x["line1"]) for x in n["addressesByAddressableId"]["nodes"])),
                 tuple(sorted((_int(x["rowId"]), x["name"]) for x in n["accountsByParentAccountId"]["nodes"])))
                for n in page["nodes"]]
        return rows, int(page["totalCount"])
    if key == "c":
        a = data["accountByRowId"]
        if a is None:
            return None
        return (_int(a["rowId"]), a["name"], [
            (_int(i["rowId"]), _day(i["date"]), int(i["totalDebits"]), int(i["remainingDue"]),
             [(_int(d["rowId"]), int(d["amount"]), d["description"]) for d in i["debitsByInvoiceId"]["nodes"]])
            for i in a["invoicesByAccountId"]["nodes"]])
    raise ValueError(key)


# --- the SQL floor --------------------------------------------------------------------------

def floor(key, results):
    """`results`: the rows of each of the floor's statements, in order."""
    if key == "a":
        return [(_int(r[0]), r[1], r[2]) for r in results[0]]
    if key == "b":
        page, addresses, children, count = results
        by_account = {}
        for owner, i, line1 in addresses:
            by_account.setdefault(("addr", owner), []).append((_int(i), line1))
        for parent, i, name in children:
            by_account.setdefault(("child", parent), []).append((_int(i), name))
        rows = [(_int(r[0]), r[1], _int(r[2]), r[3], _int(r[4]), r[5],
                 tuple(sorted(by_account.get(("addr", r[0]), []))),
                 tuple(sorted(by_account.get(("child", r[0]), []))))
                for r in page]
        return rows, int(count[0][0])
    if key == "c":
        account, invoices, debits = results
        if not account:
            return None
        by_invoice = {}
        for invoice, i, amount, description in debits:
            by_invoice.setdefault(invoice, []).append((_int(i), int(amount), description))
        return (_int(account[0][0]), account[0][1], [
            (_int(i), _day(d), int(total), int(remaining), by_invoice.get(i, []))
            for i, d, total, remaining in invoices])
    if key == "d":
        acts, act_count, act_months, discs, disc_count, disc_months = results
        months = {}
        for m, n in act_months:
            months.setdefault(m, [0, 0])[0] = int(n)
        for m, n in disc_months:
            months.setdefault(m, [0, 0])[1] = int(n)
        return (
            [(_int(r[0]), r[1], _instant(r[2])) for r in acts], int(act_count[0][0]),
            [(_int(r[0]), r[1], _instant(r[2])) for r in discs], int(disc_count[0][0]),
            {m: tuple(v) for m, v in months.items() if v != [0, 0]},
        )
    raise ValueError(key)


def run_floor(book, kind, sql, params):
    """Each statement of a floor (`\\n;\\n`-separated, :name parameters) run once; its rows."""
    out = []
    with book.connect() as conn:
        for statement in sql.split("\n;\n"):
            text = statement
            if kind == "postgres":
                for name in params:
                    text = text.replace(f":{name}", f"%({name})s")
            out.append([tuple(r) for r in conn.execute(text, params).fetchall()])
    return out


def same(key, answers):
    """Stops the run when two contenders' answers (name -> plain form) differ."""
    names = list(answers)
    first = answers[names[0]]
    for name in names[1:]:
        if answers[name] != first:
            a, b = repr(first), repr(answers[name])
            at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            raise Differ(f"bench: ({key}) {names[0]} and {name} answer differently: "
                         f"...{a[max(0, at - 200):at + 200]}... against ...{b[max(0, at - 200):at + 200]}...")
    return len(names)
