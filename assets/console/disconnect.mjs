// The Disconnect window: the account's key details from the same preview the API serves
// (`disconnect_account_preview`: the final invoice's lines and total, each proration credit, the
// serviceable address to be released, the status the account moves to, the scheduled events
// cancelled, the child accounts that stay connected), the proration choice with the global
// setting shown as a pill, the reason and comment, and the Disconnect button, "to minimize the
// chance of an account being disconnected accidentally". Changing the proration or the reason
// asks the preview again, so what is shown is what the button does.
import { useEffect, useState } from "./hooks.mjs";
import { gql } from "./api.mjs";
import { html, Dialog, ErrorNote, money, datetime, toast, describeError, addressLine } from "./ui.mjs";

const PREVIEW = `query Preview($id: Int64Bit!, $input: DisconnectAccountMutationInput) {
  disconnect_account_preview(id: $id, input: $input) {
    account { id name account_status { name } account_type { name } next_bill_date }
    prorate proration_source effective_date creates_final_invoice
    debits { id service_name description amount }
    credits { debit_id amount prorated_from prorated_to }
    final_invoice_total_debits final_invoice_total_discounts final_invoice_remaining_due
    serviceable_address_id target_account_status_id
    scheduled_events_to_cancel { id event datetime }
    active_child_accounts { id name
      contacts { entities { email_address } }
      addresses(type: MAILING) { entities { id } } }
  }
}`;

const CONTEXT = `{
  billing_setting { prorate_account_status_change disconnection_reason_required }
  disconnection_reasons(active: true, paginator: {page: 1, records_per_page: 1000}, sorter: [{attribute: "name", direction: ASC}]) {
    entities { id name voluntary } }
  account_statuses(paginator: {page: 1, records_per_page: 1000}) { entities { id name } }
}`;

const ADDRESS = `query Address($id: Int64Bit!) {
  addresses(id: $id) { entities { id line1 line2 city subdivision zip } }
}`;

const DISCONNECT = `mutation Disconnect($id: Int64Bit!, $input: DisconnectAccountMutationInput) {
  disconnectAccount(id: $id, input: $input) { id name account_status { name } }
}`;

/** The input as the API takes it: the proration only when chosen, the reason when one is. */
function inputOf(choice) {
  const input = {};
  if (choice.prorate !== "") input.prorate = choice.prorate === "yes";
  if (choice.reason) input.disconnection_reason_id = choice.reason;
  if (choice.comment.trim()) input.comment = choice.comment.trim();
  return input;
}

export function DisconnectDialog({ session, accountId, onClose, onDone }) {
  const [choice, setChoice] = useState({ prorate: "", reason: "", comment: "" });
  const [preview, setPreview] = useState(null);
  const [context, setContext] = useState(null);
  const [address, setAddress] = useState(null);
  const [error, setError] = useState(null);
  const [refusal, setRefusal] = useState(null);
  const [busy, setBusy] = useState(false);
  const [reasonMissing, setReasonMissing] = useState(false);

  // The settings, reasons and statuses first; then the preview, again whenever the proration
  // or the reason changes. While billing settings require a reason and none is chosen yet, the
  // figures are asked with the first active one (a reason changes nothing but the log): the
  // Disconnect button then asks for the operator's choice before anything is sent.
  useEffect(() => {
    gql(CONTEXT).then(setContext, setError);
  }, []);
  useEffect(() => {
    if (!context) return;
    let live = true;
    setError(null);
    const input = inputOf({ ...choice, comment: "" });
    const reasons = context.disconnection_reasons.entities;
    if (context.billing_setting.disconnection_reason_required && !choice.reason && reasons.length)
      input.disconnection_reason_id = reasons[0].id;
    gql(PREVIEW, { id: accountId, input }).then(
      async (data) => {
        const p = data.disconnect_account_preview;
        const addr = p.serviceable_address_id ? await gql(ADDRESS, { id: p.serviceable_address_id }) : null;
        if (!live) return;
        setAddress(addr ? addr.addresses.entities[0] : null);
        setPreview(p);
      },
      (err) => live && setError(err),
    );
    return () => (live = false);
  }, [accountId, context, choice.prorate, choice.reason]);

  const disconnect = async (e) => {
    e.preventDefault();
    if (context && context.billing_setting.disconnection_reason_required && !choice.reason) {
      setReasonMissing(true);
      document.getElementById("disconnect-reason").focus();
      return;
    }
    setBusy(true);
    setRefusal(null);
    try {
      const data = await gql(DISCONNECT, { id: accountId, input: inputOf(choice) });
      const account = data.disconnectAccount;
      toast(`${account.name} was updated: disconnected, now ${account.account_status.name}.`);
      onDone(account);
    } catch (err) {
      setRefusal(err);
      toast(`${preview ? preview.account.name : "The account"} was not disconnected: ${describeError(err)}`, "error");
      setBusy(false);
    }
  };

  const global = context && context.billing_setting.prorate_account_status_change;
  const target = context && preview && context.account_statuses.entities.find((s) => s.id === preview.target_account_status_id);
  const reasons = context ? context.disconnection_reasons.entities : [];
  const required = context && context.billing_setting.disconnection_reason_required;

  return html`<${Dialog} title=${preview ? `Disconnect ${preview.account.name}` : "Disconnect Account"} onClose=${onClose} wide>
    <${ErrorNote} error=${error} />
    ${!preview && !error && html`<p aria-busy="true">Loading what the disconnection would do…</p>`}
    ${preview &&
    html`<form class="disconnect" onSubmit=${disconnect} novalidate>
      <dl class="details">
        <dt>Account</dt><dd data-field="account">${preview.account.id}: ${preview.account.name}</dd>
        <dt>Status now</dt><dd>${preview.account.account_status?.name}</dd>
        <dt>Type</dt><dd>${preview.account.account_type?.name}</dd>
        <dt>Moves to status</dt><dd data-field="target-status">${target ? target.name : preview.target_account_status_id}</dd>
        <dt>Effective</dt><dd data-field="effective-date">${preview.effective_date}</dd>
        <dt>Serviceable address released</dt>
        <dd data-field="address">${preview.serviceable_address_id ? (address ? addressLine(address) : `address ${preview.serviceable_address_id}`) : "none"}</dd>
      </dl>

      <div class="field">
        <label for="disconnect-prorate">Final invoice proration</label>
        <select id="disconnect-prorate" value=${choice.prorate} onChange=${(e) => setChoice({ ...choice, prorate: e.target.value })}>
          <option value="">Inherit Global Proration Setting</option>
          <option value="yes">Prorate</option>
          <option value="no">Do not prorate</option>
        </select>
        ${context && html`<span class="pill" data-field="global-proration">Global: ${global ? "prorate" : "do not prorate"}</span>`}
      </div>

      <h3>Final invoice</h3>
      ${preview.creates_final_invoice
        ? html`<table class="list" aria-label="Final invoice lines">
            <thead><tr><th scope="col">Debit</th><th scope="col">Service</th><th scope="col">Description</th><th scope="col" class="num">Amount</th></tr></thead>
            <tbody>${preview.debits.map(
              (d) => html`<tr data-debit=${d.id}><td>${d.id}</td><td>${d.service_name}</td><td>${d.description || ""}</td><td class="num">${money(d.amount)}</td></tr>`,
            )}</tbody>
            <tfoot>
              <tr><th scope="row" colspan="3">Total debits</th><td class="num" data-field="total-debits">${money(preview.final_invoice_total_debits)}</td></tr>
              <tr><th scope="row" colspan="3">Credits and discounts</th><td class="num" data-field="total-discounts">${money(preview.final_invoice_total_discounts)}</td></tr>
              <tr><th scope="row" colspan="3">Remaining due</th><td class="num" data-field="remaining-due">${money(preview.final_invoice_remaining_due)}</td></tr>
            </tfoot>
          </table>`
        : html`<p data-field="no-final-invoice">Nothing uninvoiced: no final invoice.</p>`}

      <h3>Proration credits</h3>
      ${preview.credits.length
        ? html`<ul class="credits">${preview.credits.map(
            (c) => html`<li data-credit=${c.debit_id}>${money(c.amount)} for debit ${c.debit_id}, ${c.prorated_from} to ${c.prorated_to}</li>`,
          )}</ul>`
        : html`<p data-field="no-credits">${preview.prorate ? "Nothing billed in advance to credit." : "Not prorated: no credit."}</p>`}

      ${preview.scheduled_events_to_cancel.length > 0 &&
      html`<p>Cancels ${preview.scheduled_events_to_cancel.length} pending disconnection event(s):
        ${preview.scheduled_events_to_cancel.map((s) => datetime(s.datetime, session.timezone)).join(", ")}.</p>`}

      ${preview.active_child_accounts.length > 0 &&
      html`<div class="children">
        <h3>Child accounts that will not be disconnected</h3>
        <ul>${preview.active_child_accounts.map((c) => {
          const reachable = c.contacts.entities.some((k) => k.email_address) || c.addresses.entities.length > 0;
          return html`<li data-child=${c.id}>${c.id}: ${c.name}
            ${!reachable && html` <span class="pill warn">no contact with an email or mailing address to receive its invoices</span>`}</li>`;
        })}</ul>
      </div>`}

      <div class="field">
        <label for="disconnect-reason">Reason${required ? " (required)" : ""}</label>
        <select id="disconnect-reason" value=${choice.reason} aria-invalid=${reasonMissing ? "true" : undefined}
          aria-describedby=${reasonMissing ? "disconnect-reason-error" : undefined}
          onChange=${(e) => {
            setReasonMissing(false);
            setChoice({ ...choice, reason: e.target.value });
          }}>
          <option value="">${required ? "Choose a reason" : "No reason given"}</option>
          ${reasons.map((r) => html`<option value=${r.id}>${r.name}${r.voluntary ? " (voluntary)" : ""}</option>`)}
        </select>
        ${reasonMissing && html`<span class="field-error" id="disconnect-reason-error">Choose a reason: the billing settings require one.</span>`}
      </div>
      <div class="field">
        <label for="disconnect-comment">Comment</label>
        <textarea id="disconnect-comment" rows="2" maxlength="1000" value=${choice.comment}
          onInput=${(e) => setChoice({ ...choice, comment: e.target.value })}></textarea>
      </div>

      <${ErrorNote} error=${refusal} />
      <div class="actions">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class="danger" disabled=${busy}>Disconnect</button>
      </div>
    </form>`}
  <//>`;
}
