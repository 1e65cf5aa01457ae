// The Accounts screen: a page at a time from the server (Sonar's paginator), searched, filtered
// by status, type and archive, sorted by column; each row's Edit menu opens the Disconnect and
// Create Scheduled Event windows. The list's state lives in the URL, so reload and Back keep it.
import { useEffect, useRef, useState } from "./hooks.mjs";
import { collectionArgs, gql } from "./api.mjs";
import { html, Link, Paginator, SortHeader, setQuery, ErrorNote } from "./ui.mjs";
import { DisconnectDialog } from "./disconnect.mjs";
import { ScheduleDialog } from "./schedule.mjs";

const PER_PAGE = 25;

const ARG_TYPES = {
  paginator: "Paginator",
  sorter: "[Sorter]",
  general_search: "String",
  account_status_id: "Int64Bit",
  account_type_id: "Int64Bit",
  include_archived: "Boolean",
  search: "[Search]",
};

/** The statuses and types, for filters and names (small tables: one page of each). */
export async function lookups() {
  const data = await gql(`{
    account_statuses(paginator: {page: 1, records_per_page: 1000}, sorter: [{attribute: "name", direction: ASC}]) { entities { id name activates_account } }
    account_types(paginator: {page: 1, records_per_page: 1000}, sorter: [{attribute: "name", direction: ASC}]) { entities { id name } }
  }`);
  return { statuses: data.account_statuses.entities, types: data.account_types.entities };
}

/**
 * The Edit menu of an account: Disconnect Account (ACCOUNTS_DISCONNECT) and Create Scheduled
 * Event (SCHEDULED_EVENTS_WRITE); nothing when the token may do neither.
 */
export function EditMenu({ session, account, onAction }) {
  const [open, setOpen] = useState(false);
  const menu = useRef(null);
  const button = useRef(null);
  const can = (p) => session.permissions.includes(p);
  const items = [
    ["disconnect", "Disconnect Account", can("ACCOUNTS_DISCONNECT")],
    ["schedule", "Create Scheduled Event", can("SCHEDULED_EVENTS_WRITE")],
  ].filter((i) => i[2]);
  useEffect(() => {
    if (!open) return;
    menu.current.querySelector("button").focus();
    const away = (e) => {
      if (!menu.current.contains(e.target) && e.target !== button.current) setOpen(false);
    };
    document.addEventListener("mousedown", away);
    return () => document.removeEventListener("mousedown", away);
  }, [open]);
  if (!items.length) return null;
  const choose = (what) => {
    setOpen(false);
    onAction(what, account);
  };
  const keys = (e) => {
    const buttons = [...menu.current.querySelectorAll("button")];
    const i = buttons.indexOf(document.activeElement);
    if (e.key === "Escape") {
      e.preventDefault();
      setOpen(false);
      button.current.focus();
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const next = (i + (e.key === "ArrowDown" ? 1 : -1) + buttons.length) % buttons.length;
      buttons[next].focus();
    } else if (e.key === "Tab") {
      setOpen(false);
    }
  };
  return html`<div class="menu">
    <button type="button" ref=${button} aria-haspopup="menu" aria-expanded=${open ? "true" : "false"}
      aria-label=${`Edit ${account.name}`} onClick=${() => setOpen(!open)}>Edit ▾</button>
    ${open &&
    html`<ul role="menu" ref=${menu} onKeyDown=${keys} aria-label=${`Edit ${account.name}`}>
      ${items.map(
        ([what, label]) => html`<li role="none"><button type="button" role="menuitem" data-action=${what}
          onClick=${() => choose(what)}>${label}</button></li>`,
      )}
    </ul>`}
  </div>`;
}

/** The Disconnect or Create Scheduled Event window for `action` (`{what, account}`), if any. */
export function ActionDialog({ session, action, onClose, onDone }) {
  if (!action) return null;
  if (action.what === "disconnect")
    return html`<${DisconnectDialog} session=${session} accountId=${action.account.id} onClose=${onClose} onDone=${onDone} />`;
  return html`<${ScheduleDialog} session=${session} account=${action.account} onClose=${onClose} onDone=${onDone} />`;
}

export function AccountsScreen({ session, location }) {
  const q = location.query;
  const page = Math.max(1, Number(q.get("page")) || 1);
  const sort = q.get("sort") ? { attribute: q.get("sort"), direction: q.get("dir") === "DESC" ? "DESC" : "ASC" } : null;
  const filters = {
    search: q.get("search") || "",
    status: q.get("status") || "",
    type: q.get("type") || "",
    archived: q.get("archived") || "",
  };
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [lists, setLists] = useState({ statuses: [], types: [] });
  const [action, setAction] = useState(null);
  const [reload, setReload] = useState(0);
  const [searchText, setSearchText] = useState(filters.search);

  useEffect(() => {
    lookups().then(setLists, setError);
  }, []);

  useEffect(() => {
    setError(null);
    const args = collectionArgs(
      {
        paginator: { page, records_per_page: PER_PAGE },
        sorter: sort ? [sort, { attribute: "id", direction: "ASC" }] : [{ attribute: "id", direction: "ASC" }],
        general_search: filters.search,
        account_status_id: filters.status,
        account_type_id: filters.type,
        include_archived: filters.archived === "all" || filters.archived === "only" ? true : "",
        search: filters.archived === "only" ? [{ exists: ["archived_at"] }] : "",
      },
      ARG_TYPES,
    );
    let live = true;
    gql(
      `query Accounts${args.decl} { accounts${args.args} {
        entities { id name activation_date next_bill_date archived_at is_delinquent
          account_status { id name activates_account } account_type { id name } }
        page_info { page records_per_page total_count total_pages } } }`,
      args.variables,
    ).then(
      (data) => live && setResult(data.accounts),
      (err) => live && setError(err),
    );
    return () => (live = false);
  }, [location.query.toString(), reload]);

  const applySearch = (e) => {
    e.preventDefault();
    setQuery({ search: searchText.trim(), page: "" });
  };
  const onSort = (attribute, direction) => setQuery({ sort: attribute, dir: direction, page: "" });
  const done = () => {
    setAction(null);
    setReload((n) => n + 1);
  };

  return html`<main id="main">
    <h1>Accounts</h1>
    <form class="filters" role="search" onSubmit=${applySearch}>
      <label>Search <input type="search" value=${searchText} onInput=${(e) => setSearchText(e.target.value)}
        placeholder="Name" /></label>
      <button type="submit">Search</button>
      <label>Status <select value=${filters.status} onChange=${(e) => setQuery({ status: e.target.value, page: "" })}>
        <option value="">Any status</option>
        ${lists.statuses.map((s) => html`<option value=${s.id}>${s.name}</option>`)}
      </select></label>
      <label>Type <select value=${filters.type} onChange=${(e) => setQuery({ type: e.target.value, page: "" })}>
        <option value="">Any type</option>
        ${lists.types.map((t) => html`<option value=${t.id}>${t.name}</option>`)}
      </select></label>
      <label>Archived <select value=${filters.archived} onChange=${(e) => setQuery({ archived: e.target.value, page: "" })}>
        <option value="">Not archived</option>
        <option value="all">Archived or not</option>
        <option value="only">Archived only</option>
      </select></label>
    </form>
    <${ErrorNote} error=${error} />
    ${result &&
    html`<table class="list accounts" aria-label="Accounts">
        <thead><tr>
          <${SortHeader} attribute="id" sort=${sort} onSort=${onSort}>ID<//>
          <${SortHeader} attribute="name" sort=${sort} onSort=${onSort}>Name<//>
          <${SortHeader} attribute="account_status_id" sort=${sort} onSort=${onSort}>Status<//>
          <${SortHeader} attribute="account_type_id" sort=${sort} onSort=${onSort}>Type<//>
          <${SortHeader} attribute="activation_date" sort=${sort} onSort=${onSort}>Activated<//>
          <${SortHeader} attribute="next_bill_date" sort=${sort} onSort=${onSort}>Next bill<//>
          <th scope="col"><span class="visually-hidden">Actions</span></th>
        </tr></thead>
        <tbody>
          ${result.entities.map(
            (a) => html`<tr key=${a.id} data-account=${a.id}>
              <td>${a.id}</td>
              <td><${Link} href=${`/accounts/${a.id}`}>${a.name}<//>${a.archived_at ? html` <span class="pill">archived</span>` : ""}
                ${a.is_delinquent ? html` <span class="pill warn">delinquent</span>` : ""}</td>
              <td>${a.account_status?.name}</td>
              <td>${a.account_type?.name}</td>
              <td>${a.activation_date || ""}</td>
              <td>${a.next_bill_date || ""}</td>
              <td><${EditMenu} session=${session} account=${a} onAction=${(what, account) => setAction({ what, account })} /></td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${!result.entities.length && html`<p>No account matches.</p>`}
      <${Paginator} info=${result.page_info} label="Accounts pages" onPage=${(n) => setQuery({ page: n })} />`}
    <${ActionDialog} session=${session} action=${action} onClose=${() => setAction(null)} onDone=${done} />
  </main>`;
}
