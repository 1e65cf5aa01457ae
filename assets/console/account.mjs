// The Account screen: the overview (status, type, Location, contacts, parent and child accounts,
// next bill date, what is owed) with the Edit menu, and tabs for invoices with their debits (the
// final invoice marked), scheduled events (edit, cancel), disconnection history, payments and the
// audit log. Each tab reads one page at a time. After a disconnection or an event the account
// is read again in place.
import { useEffect, useState } from "./hooks.mjs";
import { gql } from "./api.mjs";
import { html, Link, Paginator, ErrorNote, money, datetime, toast, describeError, addressLine } from "./ui.mjs";
import { EditMenu, ActionDialog } from "./accounts.mjs";
import { ScheduleDialog } from "./schedule.mjs";

const PER_PAGE = 10;

/** The account, with what it owes when the token may read billing (BILLING_READ). */
const accountQuery = (billing) => `query Account($id: Int64Bit!) {
  accounts(id: $id, include_archived: true) { entities {
    id name activation_date next_bill_date is_delinquent archived_at
    account_status { name activates_account } account_type { name }
    parent_account { id name }
    child_accounts(paginator: {page: 1, records_per_page: 100}) { entities { id name account_status { name } } page_info { total_count } }
    addresses { entities { id type serviceable line1 line2 city subdivision zip } }
    contacts { entities { id name email_address primary role } }
    ${billing ? `invoices(search: [{integer_fields: [{attribute: "remaining_due", search_value: 0, operator: GT}]}], paginator: {page: 1, records_per_page: 1000}) { entities { remaining_due void } }` : ""}
    disconnection_logs(paginator: {page: 1, records_per_page: 1000}) { entities { final_invoice_id } }
  } }
}`;

/** The tabs: label, the collection, its fields, a row. */
const TABS = {
  invoices: {
    label: "Invoices",
    query: `query($id: Int64Bit!, $p: Paginator) { invoices(account_id: $id, paginator: $p, sorter: [{attribute: "id", direction: DESC}]) {
      entities { id date due_date total_debits remaining_due status void delinquent
        debits(paginator: {page: 1, records_per_page: 100}) { entities { id service_name description amount prorated_from prorated_to } } }
      page_info { page records_per_page total_count total_pages } } }`,
    key: "invoices",
    needs: "BILLING_READ",
  },
  events: {
    label: "Scheduled events",
    query: `query($id: Int64Bit!, $p: Paginator) { scheduled_events(account_id: $id, paginator: $p, sorter: [{attribute: "id", direction: DESC}]) {
      entities { id event datetime status prorate description amount primary_event_object_id result_message executed_at }
      page_info { page records_per_page total_count total_pages } } }`,
    key: "scheduled_events",
  },
  disconnections: {
    label: "Disconnections",
    query: `query($id: Int64Bit!, $p: Paginator) { disconnection_logs(account_id: $id, paginator: $p, sorter: [{attribute: "id", direction: DESC}]) {
      entities { id disconnected_at final_invoice_id credit_total prorated proration_source for_non_payment comment
        serviceable_address_reference_record scheduled_event_id disconnection_reason { name } disconnected_by_user { name } }
      page_info { page records_per_page total_count total_pages } } }`,
    key: "disconnection_logs",
  },
  payments: {
    label: "Payments",
    query: `query($id: Int64Bit!, $p: Paginator) { payments(account_id: $id, paginator: $p, sorter: [{attribute: "id", direction: DESC}]) {
      entities { id payment_datetime amount amount_remaining payment_type reversed description }
      page_info { page records_per_page total_count total_pages } } }`,
    key: "payments",
    needs: "BILLING_READ",
  },
  log: {
    label: "Audit log",
    query: `query($id: Int64Bit!, $p: Paginator) { logs(loggable_type: "Account", loggable_id: $id, paginator: $p, sorter: [{attribute: "id", direction: DESC}]) {
      entities { id created_at type message user { name } }
      page_info { page records_per_page total_count total_pages } } }`,
    key: "logs",
  },
};

function Overview({ account, session, onAction }) {
  const serviceable = account.addresses.entities.filter((a) => a.serviceable);
  const mailing = account.addresses.entities.filter((a) => !a.serviceable);
  const owed = account.invoices && account.invoices.entities.filter((i) => !i.void).reduce((sum, i) => sum + i.remaining_due, 0);
  const children = account.child_accounts;
  return html`<section class="overview" aria-label="Overview">
    <div class="title-row">
      <h1>${account.name} <span class="muted">#${account.id}</span></h1>
      <${EditMenu} session=${session} account=${account} onAction=${onAction} />
    </div>
    <dl class="details">
      <dt>Status</dt><dd data-field="status">${account.account_status?.name}
        ${account.is_delinquent ? html` <span class="pill warn">delinquent</span>` : ""}
        ${account.archived_at ? html` <span class="pill">archived</span>` : ""}</dd>
      <dt>Type</dt><dd>${account.account_type?.name}</dd>
      <dt>Location</dt><dd data-field="location">${serviceable.length ? serviceable.map((a) => html`<div>${addressLine(a)}</div>`) : "No serviceable address"}</dd>
      ${mailing.length > 0 && html`<dt>Mailing address</dt><dd>${mailing.map((a) => html`<div>${addressLine(a)}</div>`)}</dd>`}
      <dt>Contacts</dt><dd>${account.contacts.entities.length
        ? account.contacts.entities.map((c) => html`<div>${c.name}${c.primary ? " (primary)" : ""}${c.email_address ? ` · ${c.email_address}` : ""}</div>`)
        : "None"}</dd>
      <dt>Parent account</dt><dd>${account.parent_account ? html`<${Link} href=${`/accounts/${account.parent_account.id}`}>${account.parent_account.name}<//>` : "None"}</dd>
      <dt>Child accounts</dt><dd>${children.entities.length
        ? children.entities.map((c) => html`<div><${Link} href=${`/accounts/${c.id}`}>${c.name}<//> (${c.account_status?.name})</div>`)
        : "None"}${children.page_info.total_count > children.entities.length ? html`<div>…and ${children.page_info.total_count - children.entities.length} more</div>` : ""}</dd>
      <dt>Activated</dt><dd>${account.activation_date || "Never"}</dd>
      <dt>Next bill date</dt><dd>${account.next_bill_date || "None"}</dd>
      ${account.invoices && html`<dt>Owed</dt><dd data-field="owed">${money(owed)}</dd>`}
    </dl>
  </section>`;
}

function InvoiceRows({ rows, finals }) {
  return html`<table class="list" aria-label="Invoices">
    <thead><tr><th scope="col">Invoice</th><th scope="col">Date</th><th scope="col">Due</th><th scope="col" class="num">Total</th><th scope="col" class="num">Remaining</th><th scope="col">Status</th><th scope="col">Debits</th></tr></thead>
    <tbody>${rows.map(
      (i) => html`<tr data-invoice=${i.id}>
        <td>${i.id}${finals.has(i.id) ? html` <span class="pill" data-final="true">final invoice</span>` : ""}</td>
        <td>${i.date}</td><td>${i.due_date}</td><td class="num">${money(i.total_debits)}</td><td class="num">${money(i.remaining_due)}</td>
        <td>${i.void ? "void" : i.status}${i.delinquent ? " · delinquent" : ""}</td>
        <td><ul class="debits">${i.debits.entities.map(
          (d) => html`<li>${d.service_name}${d.description ? `: ${d.description}` : ""} ${money(d.amount)}${d.prorated_from ? ` (${d.prorated_from} to ${d.prorated_to})` : ""}</li>`,
        )}</ul></td>
      </tr>`,
    )}</tbody>
  </table>`;
}

function EventRows({ rows, session, onEdit, onCancel }) {
  const can = session.permissions.includes("SCHEDULED_EVENTS_WRITE");
  return html`<table class="list" aria-label="Scheduled events">
    <thead><tr><th scope="col">Event</th><th scope="col">When (${session.timezone})</th><th scope="col">Status</th><th scope="col">Proration</th><th scope="col">Description</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
    <tbody>${rows.map(
      (e) => html`<tr data-event=${e.id}>
        <td>${e.id}: ${e.event}</td><td>${datetime(e.datetime, session.timezone)}</td>
        <td data-field="event-status">${e.status}${e.result_message ? ` · ${e.result_message}` : ""}</td>
        <td>${e.prorate === null ? "inherit" : e.prorate ? "prorate" : "do not prorate"}</td>
        <td>${e.description || ""}</td>
        <td>${can && e.status === "PENDING" &&
        html`<button type="button" onClick=${() => onEdit(e)} aria-label=${`Edit event ${e.id}`}>Edit</button>
          <button type="button" onClick=${() => onCancel(e)} aria-label=${`Cancel event ${e.id}`}>Cancel event</button>`}</td>
      </tr>`,
    )}</tbody>
  </table>`;
}

function DisconnectionRows({ rows, session }) {
  return html`<table class="list" aria-label="Disconnections">
    <thead><tr><th scope="col">Log</th><th scope="col">When</th><th scope="col">Reason</th><th scope="col">Final invoice</th><th scope="col" class="num">Credits</th><th scope="col">Proration</th><th scope="col">Address released</th><th scope="col">By</th></tr></thead>
    <tbody>${rows.map(
      (d) => html`<tr data-log=${d.id}>
        <td>${d.id}</td><td>${datetime(d.disconnected_at, session.timezone)}</td>
        <td>${d.disconnection_reason?.name || (d.for_non_payment ? "non-payment" : "")}${d.comment ? ` · ${d.comment}` : ""}</td>
        <td>${d.final_invoice_id || "none"}</td><td class="num">${money(d.credit_total)}</td>
        <td>${d.prorated ? "prorated" : "not prorated"} (${d.proration_source === "INPUT" ? "chosen" : "billing settings"})</td>
        <td>${d.serviceable_address_reference_record || "none"}</td>
        <td>${d.disconnected_by_user?.name || ""}${d.scheduled_event_id ? ` (event ${d.scheduled_event_id})` : ""}</td>
      </tr>`,
    )}</tbody>
  </table>`;
}

function PaymentRows({ rows, session }) {
  return html`<table class="list" aria-label="Payments">
    <thead><tr><th scope="col">Payment</th><th scope="col">When</th><th scope="col">Type</th><th scope="col" class="num">Amount</th><th scope="col" class="num">Unapplied</th><th scope="col">Note</th></tr></thead>
    <tbody>${rows.map(
      (p) => html`<tr><td>${p.id}</td><td>${datetime(p.payment_datetime, session.timezone)}</td><td>${p.payment_type}</td>
        <td class="num">${money(p.amount)}</td><td class="num">${money(p.amount_remaining)}</td>
        <td>${p.reversed ? "reversed " : ""}${p.description || ""}</td></tr>`,
    )}</tbody>
  </table>`;
}

function LogRows({ rows, session }) {
  return html`<table class="list" aria-label="Audit log">
    <thead><tr><th scope="col">When</th><th scope="col">Type</th><th scope="col">By</th><th scope="col">Message</th></tr></thead>
    <tbody>${rows.map(
      (l) => html`<tr><td>${datetime(l.created_at, session.timezone)}</td><td>${l.type}</td><td>${l.user?.name || "system"}</td><td>${l.message || ""}</td></tr>`,
    )}</tbody>
  </table>`;
}

function Tab({ which, id, session, version, finals, onChanged }) {
  const tab = TABS[which];
  const [page, setPage] = useState(1);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [editing, setEditing] = useState(null);
  useEffect(() => {
    let live = true;
    setError(null);
    gql(tab.query, { id, p: { page, records_per_page: PER_PAGE } }).then(
      (data) => live && setResult(data[tab.key]),
      (err) => live && setError(err),
    );
    return () => (live = false);
  }, [which, page, version]);
  const cancel = async (event) => {
    try {
      await gql(`mutation($id: Int64Bit!) { deleteScheduledEvent(id: $id) { success } }`, { id: event.id });
      toast(`The scheduled event ${event.id} was cancelled.`);
      onChanged();
    } catch (err) {
      toast(`The scheduled event ${event.id} was not cancelled: ${describeError(err)}`, "error");
    }
  };
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!result) return html`<p aria-busy="true">Loading…</p>`;
  const rows = result.entities;
  const body =
    which === "invoices" ? html`<${InvoiceRows} rows=${rows} finals=${finals} />`
    : which === "events" ? html`<${EventRows} rows=${rows} session=${session} onEdit=${setEditing} onCancel=${cancel} />`
    : which === "disconnections" ? html`<${DisconnectionRows} rows=${rows} session=${session} />`
    : which === "payments" ? html`<${PaymentRows} rows=${rows} session=${session} />`
    : html`<${LogRows} rows=${rows} session=${session} />`;
  return html`${rows.length ? body : html`<p>None.</p>`}
    <${Paginator} info=${result.page_info} label=${`${tab.label} pages`} onPage=${setPage} />
    ${editing &&
    html`<${ScheduleDialog} session=${session} event=${editing} onClose=${() => setEditing(null)}
      onDone=${() => {
        setEditing(null);
        onChanged();
      }} />`}`;
}

export function AccountScreen({ session, id }) {
  const [account, setAccount] = useState(null);
  const [error, setError] = useState(null);
  const tabs = Object.entries(TABS).filter(([, t]) => !t.needs || session.permissions.includes(t.needs));
  const [tab, setTab] = useState(tabs[0][0]);
  const [version, setVersion] = useState(0);
  const [action, setAction] = useState(null);
  useEffect(() => {
    let live = true;
    gql(accountQuery(session.permissions.includes("BILLING_READ")), { id }).then(
      (data) => {
        if (!live) return;
        const found = data.accounts.entities[0];
        if (found) setAccount(found);
        else setError({ message: `No account ${id}.`, code: "NOT_FOUND" });
      },
      (err) => live && setError(err),
    );
    return () => (live = false);
  }, [id, version]);
  // An event scheduled a little ahead changes the account when it runs: look again meanwhile.
  useEffect(() => {
    const timer = setInterval(() => setVersion((v) => v + 1), 5000);
    return () => clearInterval(timer);
  }, []);
  if (error) return html`<main id="main"><${ErrorNote} error=${error} /></main>`;
  if (!account) return html`<main id="main" aria-busy="true"><p>Loading…</p></main>`;
  const finals = new Set(account.disconnection_logs.entities.map((l) => l.final_invoice_id).filter(Boolean));
  const changed = () => setVersion((v) => v + 1);
  return html`<main id="main">
    <${Overview} account=${account} session=${session} onAction=${(what, a) => setAction({ what, account: a })} />
    <div role="tablist" aria-label="Account details" class="tabs">
      ${tabs.map(
        ([key, t]) => html`<button type="button" role="tab" id=${`tab-${key}`} aria-selected=${tab === key ? "true" : "false"}
          aria-controls="tab-panel" tabindex=${tab === key ? 0 : -1} onClick=${() => setTab(key)}
          onKeyDown=${(e) => {
            const keys = tabs.map(([k]) => k);
            const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
            if (!step) return;
            const next = keys[(keys.indexOf(key) + step + keys.length) % keys.length];
            setTab(next);
            document.getElementById(`tab-${next}`).focus();
          }}>${t.label}</button>`,
      )}
    </div>
    <section role="tabpanel" id="tab-panel" aria-labelledby=${`tab-${tab}`} tabindex="0">
      <${Tab} which=${tab} key=${tab} id=${account.id} session=${session} version=${version} finals=${finals} onChanged=${changed} />
    </section>
    <${ActionDialog} session=${session} action=${action} onClose=${() => setAction(null)}
      onDone=${() => {
        setAction(null);
        changed();
      }} />
  </main>`;
}
