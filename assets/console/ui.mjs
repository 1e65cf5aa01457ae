// What every screen of the console shares: `html` (htm bound to Preact), the router, the
// message in the top-left corner, the dialog, the paginator, sortable headers, formatting.
import { h, render } from "./preact.mjs";
import { useEffect, useRef, useState } from "./hooks.mjs";
import htm from "./htm.mjs";

export const html = htm.bind(h);
export { render };

// --- the router: a screen per path; reload, bookmarks and Back work -------------------------------

const listeners = new Set();

/** Goes to `path` (with its query string) as a new history entry, or in place with `replace`. */
export function navigate(path, { replace = false } = {}) {
  if (path === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  listeners.forEach((f) => f());
}
window.addEventListener("popstate", () => listeners.forEach((f) => f()));

/** The current location as `{path, query}`; the component re-renders when it changes. */
export function useLocation() {
  const [, tick] = useState(0);
  useEffect(() => {
    const f = () => tick((n) => n + 1);
    listeners.add(f);
    return () => listeners.delete(f);
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** Sets some query parameters of the current screen's URL (empty values removed). */
export function setQuery(changes, { replace = false } = {}) {
  const query = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === "" || value === null || value === undefined || value === false) query.delete(key);
    else query.set(key, String(value));
  }
  const search = query.toString();
  navigate(location.pathname + (search ? "?" + search : ""), { replace });
}

/** A link that moves within the console without reloading the page. */
export function Link({ href, children, ...rest }) {
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${onClick} ...${rest}>${children}</a>`;
}

// --- the message in the top-left corner --------------------------------------------------------

const toastListeners = new Set();

/** Shows `text` in the top-left corner for a few seconds; `kind` is "ok" or "error". */
export function toast(text, kind = "ok") {
  toastListeners.forEach((f) => f({ text, kind, at: Date.now() }));
}

export function Toasts() {
  const [message, setMessage] = useState(null);
  useEffect(() => {
    let timer;
    const f = (m) => {
      setMessage(m);
      clearTimeout(timer);
      timer = setTimeout(() => setMessage(null), 8000);
    };
    toastListeners.add(f);
    return () => toastListeners.delete(f);
  }, []);
  return html`<div class="toasts" role="status" aria-live="polite">
    ${message &&
    html`<p class=${"toast toast-" + message.kind} key=${message.at}>
      ${message.text}
      <button type="button" class="link" aria-label="Dismiss the message" onClick=${() => setMessage(null)}>×</button>
    </p>`}
  </div>`;
}

// --- the dialog ---------------------------------------------------------------------------------

/**
 * A modal window (the browser's <dialog>: focus stays inside, Escape closes it); `onClose` is
 * called when it closes by Escape or its Close button.
 */
export function Dialog({ title, onClose, children, wide = false }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    const before = document.activeElement;
    dialog.showModal();
    const cancel = (e) => {
      e.preventDefault();
      onClose();
    };
    dialog.addEventListener("cancel", cancel);
    return () => {
      dialog.removeEventListener("cancel", cancel);
      if (dialog.open) dialog.close();
      if (before && before.isConnected) before.focus();
    };
  }, []);
  return html`<dialog ref=${ref} class=${wide ? "wide" : ""} aria-labelledby="dialog-title">
    <header class="dialog-head">
      <h2 id="dialog-title">${title}</h2>
      <button type="button" class="link close" aria-label="Close" onClick=${onClose}>×</button>
    </header>
    ${children}
  </dialog>`;
}

// --- tables: paginator and sortable headers ---------------------------------------------------------

/** Sonar's paginator: page N of M, with the total; `onPage(n)` moves. */
export function Paginator({ info, onPage, label = "Pages" }) {
  if (!info) return null;
  const { page, total_pages: pages, total_count: total } = info;
  return html`<nav class="paginator" aria-label=${label}>
    <button type="button" disabled=${page <= 1} onClick=${() => onPage(1)}>First</button>
    <button type="button" disabled=${page <= 1} onClick=${() => onPage(page - 1)}>Previous</button>
    <span>Page ${page} of ${Math.max(pages, 1)} · ${total.toLocaleString("en-US")} in all</span>
    <button type="button" disabled=${page >= pages} onClick=${() => onPage(page + 1)}>Next</button>
    <button type="button" disabled=${page >= pages} onClick=${() => onPage(pages)}>Last</button>
  </nav>`;
}

/**
 * A column header that sorts by `attribute`: a first click sorts ascending, the next descending.
 * `sort` is `{attribute, direction}`; `onSort(attribute, direction)` sorts.
 */
export function SortHeader({ attribute, sort, onSort, children }) {
  const active = sort && sort.attribute === attribute;
  const direction = active ? sort.direction : null;
  const next = direction === "ASC" ? "DESC" : "ASC";
  const ariaSort = direction === "ASC" ? "ascending" : direction === "DESC" ? "descending" : "none";
  return html`<th scope="col" aria-sort=${ariaSort}>
    <button type="button" class="sort" data-sort=${attribute} onClick=${() => onSort(attribute, next)}>
      ${children}<span aria-hidden="true">${direction === "ASC" ? " ▲" : direction === "DESC" ? " ▼" : ""}</span>
    </button>
  </th>`;
}

// --- formatting ------------------------------------------------------------------------------

/** Integer cents as dollars: 12345 → "$123.45", -5 → "-$0.05". */
export function money(cents) {
  if (cents === null || cents === undefined) return "";
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  const whole = Math.floor(abs / 100).toLocaleString("en-US");
  return `${sign}$${whole}.${String(abs % 100).padStart(2, "0")}`;
}

/** An address on one line: "107 Main St, Springfield, US_IL, 62701". */
export function addressLine(a) {
  return [a.line1, a.line2, a.city, a.subdivision, a.zip].filter(Boolean).join(", ");
}

/** An instant (RFC 3339) as a date and time in `zone`, e.g. "2026-12-07 14:05". */
export function datetime(value, zone) {
  if (!value) return "";
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone || "UTC",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(new Date(value));
  const get = (type) => parts.find((p) => p.type === type)?.value;
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
}

/** Minutes east of UTC of `zone` at the instant `date`. */
function offsetMinutes(zone, date) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(date);
  const n = (type) => Number(parts.find((p) => p.type === type).value);
  const asUtc = Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute"), n("second"));
  return Math.round((asUtc - date.getTime()) / 60000);
}

/**
 * A local date ("2026-12-31") and time ("17:00" or "17:00:30") in `zone` as an RFC 3339 instant
 * with the zone's offset then ("2026-12-31T17:00:00-06:00"); null when either is missing or
 * invalid.
 */
export function zonedInstant(date, time, zone) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date || "") || !/^\d{2}:\d{2}(:\d{2})?$/.test(time || "")) return null;
  const [y, m, d] = date.split("-").map(Number);
  const [hh, mm, ss = 0] = time.split(":").map(Number);
  const naive = Date.UTC(y, m - 1, d, hh, mm, ss);
  if (Number.isNaN(naive)) return null;
  // The offset at the guessed instant, then again at the corrected one (daylight-saving edges).
  let offset = offsetMinutes(zone, new Date(naive));
  offset = offsetMinutes(zone, new Date(naive - offset * 60000));
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  const pad = (v) => String(v).padStart(2, "0");
  const seconds = time.length === 5 ? `${time}:00` : time;
  return `${date}T${seconds}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Today's date in `zone`, "YYYY-MM-DD". */
export function today(zone) {
  return datetime(new Date().toISOString(), zone).slice(0, 10);
}

/** An API error as one line: its message and code. */
export function describeError(err) {
  return err && err.code ? `${err.message} (${err.code})` : String((err && err.message) || err);
}

/** An error shown in place, announced to screen readers. */
export function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${describeError(error)}</p>`;
}
