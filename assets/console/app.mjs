// The operator's console: a page per screen over the public GraphQL API.
//
// Screens (each its own URL, src/pages/console.rs serves the page for each):
//   /accounts                                     the accounts list (also at /)
//   /accounts/:id                                 one account
//   /reports/activations-and-disconnections       the report
//   /settings/billing                             the disconnect status and proration defaults
// Dialogs (Disconnect, scheduled events) open over the list or the account.
//
// Before anything the console asks for a personal access token, then reads `me` (who, and the
// permissions the token's role grants: controls the token may not use are not shown) and the
// instance's time zone (dates and times are shown and entered in it).
import { useEffect, useState } from "./hooks.mjs";
import { currentToken, forgetToken, gql, isRemembered, onUnauthorized, setToken } from "./api.mjs";
import { html, render, Link, Toasts, useLocation, ErrorNote } from "./ui.mjs";
import { AccountsScreen } from "./accounts.mjs";
import { AccountScreen } from "./account.mjs";
import { ReportScreen } from "./report.mjs";
import { BillingSettingsScreen } from "./settings.mjs";

const SESSION_QUERY = `{
  me { id name username permissions }
  system_setting { timezone_name }
}`;

function TokenForm({ refused }) {
  const [value, setValue] = useState("");
  const [remember, setRemember] = useState(false);
  const submit = (e) => {
    e.preventDefault();
    if (!value.trim()) return;
    setToken(value, remember);
    window.dispatchEvent(new Event("fathom-token"));
  };
  return html`<main class="signin" id="main">
    <h1>fathom</h1>
    <form onSubmit=${submit}>
      <label for="token-input">Personal access token</label>
      <input id="token-input" type="password" autocomplete="off" spellcheck="false" required
        value=${value} onInput=${(e) => setValue(e.target.value)} placeholder="fathom_…" />
      <label class="check"><input type="checkbox" checked=${remember}
        onChange=${(e) => setRemember(e.target.checked)} /> Remember on this browser</label>
      <button type="submit" class="primary">Open the console</button>
      ${refused && html`<p class="error" role="alert">${refused}</p>`}
      <p class="hint">An administrator makes one with <code>fathom token create --name NAME</code>;
        it is kept for this tab unless you ask to remember it.</p>
    </form>
  </main>`;
}

function Navigation({ session, path }) {
  const can = (p) => session.permissions.includes(p);
  const items = [
    ["/accounts", "Accounts", can("ACCOUNTS_READ")],
    ["/reports/activations-and-disconnections", "Reports: Activations & Disconnections", can("REPORTS_READ")],
    ["/settings/billing", "Settings: Billing", can("BILLING_READ")],
  ];
  const forget = () => {
    forgetToken();
    window.dispatchEvent(new Event("fathom-token"));
  };
  return html`<header class="top">
    <a class="skip" href="#main">Skip to the content</a>
    <span class="brand">fathom</span>
    <nav aria-label="Screens">
      ${items
        .filter((i) => i[2])
        .map(
          ([href, label]) => html`<${Link} href=${href}
            aria-current=${path === href || (href === "/accounts" && (path === "/" || path.startsWith("/accounts/"))) ? "page" : undefined}>${label}<//>`,
        )}
      <a href="/graphiql">GraphiQL</a>
    </nav>
    <span class="who">${`${session.name} (${session.username}) · times in ${session.timezone} · token ${isRemembered() ? "remembered on this browser" : "kept for this tab"} `}
      <button type="button" class="link" onClick=${forget}>Forget</button></span>
  </header>`;
}

function Screen({ session, location }) {
  const { path } = location;
  const account = path.match(/^\/accounts\/(\d+)$/);
  if (path === "/" || path === "/accounts") return html`<${AccountsScreen} session=${session} location=${location} />`;
  if (account) return html`<${AccountScreen} session=${session} id=${account[1]} key=${account[1]} />`;
  if (path === "/reports/activations-and-disconnections") return html`<${ReportScreen} session=${session} location=${location} />`;
  if (path === "/settings/billing") return html`<${BillingSettingsScreen} session=${session} />`;
  return html`<main id="main"><h1>Not found</h1><p>No screen is at ${path}.</p></main>`;
}

function App() {
  const location = useLocation();
  const [token, setTokenState] = useState(currentToken());
  const [session, setSession] = useState(null);
  const [error, setError] = useState(null);
  const [refused, setRefused] = useState(null);

  useEffect(() => {
    const changed = () => {
      setTokenState(currentToken());
      setSession(null);
    };
    window.addEventListener("fathom-token", changed);
    const off = onUnauthorized(() => {
      forgetToken();
      setRefused("fathom refused that token (revoked, deleted or mistyped).");
      changed();
    });
    return () => {
      window.removeEventListener("fathom-token", changed);
      off();
    };
  }, []);

  useEffect(() => {
    if (!token) return;
    setError(null);
    gql(SESSION_QUERY)
      .then((data) => {
        setRefused(null);
        setSession({ ...data.me, timezone: data.system_setting.timezone_name });
      })
      .catch((err) => setError(err));
  }, [token]);

  useEffect(() => {
    document.title = session ? "fathom console" : "fathom: sign in";
  }, [session]);

  let body;
  if (!token) body = html`<${TokenForm} refused=${refused} />`;
  else if (error) body = html`<main id="main"><${ErrorNote} error=${error} /></main>`;
  else if (!session) body = html`<main id="main" aria-busy="true"><p>Loading…</p></main>`;
  else
    body = html`<${Navigation} session=${session} path=${location.path} />
      <${Screen} session=${session} location=${location} />`;
  return html`<${Toasts} />${body}`;
}

render(html`<${App} />`, document.getElementById("app"));
