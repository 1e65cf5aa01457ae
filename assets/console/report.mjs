// Reports → Activations & Disconnections: a period (by default the API's: the twelve months
// ending today), a monthly chart of activations against disconnections with the same figures in a
// table, the churn figures, and the two tables, each searched, sorted and paged on its own by the
// server and downloadable as CSV (every page of it, as filtered and sorted). The screen's state
// lives in the URL.
import { useEffect, useRef, useState } from "./hooks.mjs";
import { allPages, collectionArgs, gql } from "./api.mjs";
import { html, Paginator, SortHeader, setQuery, ErrorNote, money, datetime, toast, describeError } from "./ui.mjs";
import { lookups } from "./accounts.mjs";

const PER_PAGE = 25;

const SUMMARY = `query Summary($start: Date, $end: Date) {
  activations_and_disconnections_report(start_date: $start, end_date: $end) {
    start_date end_date
    summary { activation_count disconnection_count net_change
      churn { churn_rate lost_mrr win_backs voluntary_disconnections involuntary_disconnections unspecified_disconnections active_accounts_at_start
        disconnections_by_reason { disconnection_reason_id name voluntary disconnections lost_mrr } }
      months { month activations disconnections net } }
  }
}`;

/** The two tables: their fields, columns (attribute, label, cell) and the row's key. */
const TABLES = {
  a: {
    field: "activations",
    label: "Activations",
    key: "account_event_id",
    fields: "account_event_id account_id account_name account_type_id account_status_id activated_at reactivation win_back serviceable_address_id",
    columns: [
      ["activated_at", "Activated", (r, z) => datetime(r.activated_at, z)],
      ["account_id", "Account", (r) => r.account_id],
      ["account_name", "Name", (r) => r.account_name],
      ["account_type_id", "Type", (r, z, names) => names.types[r.account_type_id] || r.account_type_id],
      ["reactivation", "Reactivation", (r) => (r.reactivation ? "yes" : "no")],
      ["win_back", "Win-back", (r) => (r.win_back ? "yes" : "no")],
    ],
  },
  d: {
    field: "disconnections",
    label: "Disconnections",
    key: "disconnection_log_id",
    fields:
      "disconnection_log_id account_id account_name account_type_id disconnected_at final_invoice_id final_invoice_total credit_total scheduled disconnection_reason_id voluntary for_non_payment comment monthly_recurring_amount",
    columns: [
      ["disconnected_at", "Disconnected", (r, z) => datetime(r.disconnected_at, z)],
      ["account_id", "Account", (r) => r.account_id],
      ["account_name", "Name", (r) => r.account_name],
      ["final_invoice_total", "Final invoice", (r) => money(r.final_invoice_total)],
      ["credit_total", "Credits", (r) => money(r.credit_total)],
      ["monthly_recurring_amount", "MRR lost", (r) => money(r.monthly_recurring_amount)],
      ["scheduled", "Scheduled", (r) => (r.scheduled ? "yes" : "no")],
      ["for_non_payment", "Non-payment", (r) => (r.for_non_payment ? "yes" : "no")],
    ],
  },
};

const ARG_TYPES = { paginator: "Paginator", sorter: "[Sorter]", general_search: "String" };

/** One page of table `t` for the period, as the URL's prefix `p` says. */
function tableQuery(t, period, state, page, perPage) {
  const args = collectionArgs(
    {
      paginator: { page, records_per_page: perPage },
      // Unsorted, the API gives the rows in the order they happened (its cheapest order).
      sorter: state.sort ? [state.sort, { attribute: t.key, direction: "ASC" }] : "",
      general_search: state.search,
    },
    ARG_TYPES,
  );
  const decl = ["$start: Date!", "$end: Date!"].concat(args.decl ? args.decl.slice(1, -1).split(", ") : []);
  return gql(
    `query Table(${decl.join(", ")}) { activations_and_disconnections_report(start_date: $start, end_date: $end) {
      ${t.field}${args.args} { entities { ${t.fields} } page_info { page records_per_page total_count total_pages } } } }`,
    { start: period.start, end: period.end, ...args.variables },
  ).then((data) => data.activations_and_disconnections_report[t.field]);
}

function csvCell(value) {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function ReportTable({ which, period, query, session, names }) {
  const t = TABLES[which];
  const state = {
    page: Math.max(1, Number(query.get(`${which}_page`)) || 1),
    sort: query.get(`${which}_sort`) ? { attribute: query.get(`${which}_sort`), direction: query.get(`${which}_dir`) === "DESC" ? "DESC" : "ASC" } : null,
    search: query.get(`${which}_search`) || "",
  };
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [text, setText] = useState(state.search);
  const [downloading, setDownloading] = useState(false);
  useEffect(() => {
    let live = true;
    setError(null);
    tableQuery(t, period, state, state.page, PER_PAGE).then(
      (r) => live && setResult(r),
      (err) => live && setError(err),
    );
    return () => (live = false);
  }, [period.start, period.end, state.page, state.search, state.sort && state.sort.attribute, state.sort && state.sort.direction]);

  const download = async () => {
    setDownloading(true);
    try {
      const rows = await allPages((page) => tableQuery(t, period, state, page, 10000));
      const names = t.fields.split(" ");
      const lines = [names.join(",")].concat(rows.map((r) => names.map((n) => csvCell(r[n])).join(",")));
      const url = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = `${t.field}-${period.start}-${period.end}.csv`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (err) {
      toast(`The CSV could not be made: ${describeError(err)}`, "error");
    }
    setDownloading(false);
  };

  return html`<section class="report-table" aria-labelledby=${`${which}-title`} data-table=${t.field}>
    <div class="title-row">
      <h2 id=${`${which}-title`}>${t.label}</h2>
      <button type="button" onClick=${download} disabled=${downloading}>Download ${t.label} as CSV</button>
    </div>
    <form class="filters" role="search" aria-label=${`Search ${t.label}`}
      onSubmit=${(e) => {
        e.preventDefault();
        setQuery({ [`${which}_search`]: text.trim(), [`${which}_page`]: "" });
      }}>
      <label>Search ${t.label} <input type="search" value=${text} onInput=${(e) => setText(e.target.value)} /></label>
      <button type="submit">Search</button>
    </form>
    <${ErrorNote} error=${error} />
    ${result &&
    html`<table class="list" aria-label=${t.label}>
        <thead><tr>${t.columns.map(
          ([attribute, label]) => html`<${SortHeader} attribute=${attribute} sort=${state.sort}
            onSort=${(a, d) => setQuery({ [`${which}_sort`]: a, [`${which}_dir`]: d, [`${which}_page`]: "" })}>${label}<//>`,
        )}</tr></thead>
        <tbody>${result.entities.map(
          (r) => html`<tr data-row=${r[t.key]}>${t.columns.map(([, , cell]) => html`<td>${cell(r, session.timezone, names)}</td>`)}</tr>`,
        )}</tbody>
      </table>
      ${!result.entities.length && html`<p>None in this period.</p>`}
      <${Paginator} info=${result.page_info} label=${`${t.label} pages`} onPage=${(n) => setQuery({ [`${which}_page`]: n })} />`}
  </section>`;
}

function Chart({ months }) {
  const box = useRef(null);
  useEffect(() => {
    if (!window.uPlot || !months.length) return;
    const xs = months.map((m) => Date.UTC(Number(m.month.slice(0, 4)), Number(m.month.slice(5, 7)) - 1, 1) / 1000);
    const width = Math.max(320, Math.min(900, box.current.clientWidth || 900));
    const plot = new window.uPlot(
      {
        width,
        height: 260,
        title: "Activations and disconnections by month",
        scales: { x: { time: true } },
        series: [
          { label: "Month", value: (u, v) => (v === null ? "" : new Date(v * 1000).toISOString().slice(0, 7)) },
          { label: "Activations", stroke: "#1a7f37", width: 2, points: { show: true } },
          { label: "Disconnections", stroke: "#b42318", width: 2, points: { show: true } },
        ],
        axes: [{ values: (u, vals) => vals.map((v) => new Date(v * 1000).toISOString().slice(0, 7)) }, {}],
      },
      [xs, months.map((m) => m.activations), months.map((m) => m.disconnections)],
      box.current,
    );
    return () => plot.destroy();
  }, [months]);
  return html`<figure class="chart"><div ref=${box} role="img" aria-label="Monthly activations against disconnections; the table below has the same figures"></div></figure>`;
}

export function ReportScreen({ session, location }) {
  const query = location.query;
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const [form, setForm] = useState({ start: query.get("start") || "", end: query.get("end") || "" });
  const [formError, setFormError] = useState(null);
  const [names, setNames] = useState({ types: {} });
  useEffect(() => {
    lookups().then((l) => setNames({ types: Object.fromEntries(l.types.map((t) => [t.id, t.name])) }), setError);
  }, []);

  useEffect(() => {
    let live = true;
    setError(null);
    const vars = {};
    if (query.get("start")) vars.start = query.get("start");
    if (query.get("end")) vars.end = query.get("end");
    gql(SUMMARY, vars).then(
      (data) => {
        if (!live) return;
        const r = data.activations_and_disconnections_report;
        setReport(r);
        setForm({ start: r.start_date, end: r.end_date });
      },
      (err) => live && setError(err),
    );
    return () => (live = false);
  }, [query.get("start"), query.get("end")]);

  const apply = (e) => {
    e.preventDefault();
    if (!form.start || !form.end) return setFormError("Enter both dates of the period.");
    if (form.start > form.end) return setFormError("The period must start on or before its end.");
    setFormError(null);
    setQuery({ start: form.start, end: form.end, a_page: "", d_page: "" });
  };

  const s = report && report.summary;
  const period = report && { start: report.start_date, end: report.end_date };
  return html`<main id="main">
    <h1>Activations & Disconnections</h1>
    <form class="filters" onSubmit=${apply} novalidate aria-label="Period">
      <label>From <input type="date" value=${form.start} onInput=${(e) => setForm({ ...form, start: e.target.value })}
        aria-invalid=${formError ? "true" : undefined} aria-describedby=${formError ? "period-error" : undefined} /></label>
      <label>To <input type="date" value=${form.end} onInput=${(e) => setForm({ ...form, end: e.target.value })} /></label>
      <button type="submit">Show</button>
      ${formError && html`<span class="field-error" id="period-error">${formError}</span>`}
    </form>
    <${ErrorNote} error=${error} />
    ${s &&
    html`<p class="muted">From ${report.start_date} to ${report.end_date}, local dates in ${session.timezone}.</p>
      <dl class="figures">
        <div><dt>Activations</dt><dd data-field="activation-count">${s.activation_count}</dd></div>
        <div><dt>Disconnections</dt><dd data-field="disconnection-count">${s.disconnection_count}</dd></div>
        <div><dt>Net change</dt><dd>${s.net_change}</dd></div>
        <div><dt>Churn rate</dt><dd>${s.churn.churn_rate === null ? "n/a" : `${(s.churn.churn_rate * 100).toFixed(2)}%`}</dd></div>
        <div><dt>Lost MRR</dt><dd>${money(s.churn.lost_mrr)}</dd></div>
        <div><dt>Win-backs</dt><dd>${s.churn.win_backs}</dd></div>
        <div><dt>Voluntary / involuntary / unspecified</dt><dd>${s.churn.voluntary_disconnections} / ${s.churn.involuntary_disconnections} / ${s.churn.unspecified_disconnections}</dd></div>
      </dl>
      ${s.churn.disconnections_by_reason.length > 0 &&
      html`<table class="list compact" aria-label="Disconnections by reason">
        <thead><tr><th scope="col">Reason</th><th scope="col" class="num">Disconnections</th><th scope="col" class="num">MRR lost</th></tr></thead>
        <tbody>${s.churn.disconnections_by_reason.map(
          (r) => html`<tr><td>${r.name || "No reason given"}${r.voluntary === null ? "" : r.voluntary ? " (voluntary)" : " (involuntary)"}</td>
            <td class="num">${r.disconnections}</td><td class="num">${money(r.lost_mrr)}</td></tr>`,
        )}</tbody>
      </table>`}
      <${Chart} months=${s.months} />
      <details>
        <summary>Monthly figures</summary>
        <table class="list" aria-label="Monthly figures">
          <thead><tr><th scope="col">Month</th><th scope="col" class="num">Activations</th><th scope="col" class="num">Disconnections</th><th scope="col" class="num">Net</th></tr></thead>
          <tbody>${s.months.map((m) => html`<tr><td>${m.month}</td><td class="num">${m.activations}</td><td class="num">${m.disconnections}</td><td class="num">${m.net}</td></tr>`)}</tbody>
        </table>
      </details>
      <${ReportTable} which="a" period=${period} query=${query} session=${session} names=${names} />
      <${ReportTable} which="d" period=${period} query=${query} session=${session} names=${names} />`}
  </main>`;
}
