// Settings → Billing: the status a disconnected account moves to and the proration defaults
// (what "Inherit Global Proration Setting" means in the Disconnect window), and whether a
// disconnection needs a reason. Reading needs BILLING_READ; saving needs SETTINGS_WRITE, without
// which the form is shown read-only with no Save button.
import { useEffect, useState } from "./hooks.mjs";
import { gql } from "./api.mjs";
import { html, ErrorNote, toast, describeError } from "./ui.mjs";

const READ = `{
  billing_setting { disconnect_account_status_id prorate_account_status_change prorate_services round_prorated_amounts disconnection_reason_required }
  account_statuses(paginator: {page: 1, records_per_page: 1000}, sorter: [{attribute: "name", direction: ASC}]) { entities { id name activates_account } }
}`;

const SAVE = `mutation Save($input: UpdateBillingSettingsMutationInput) {
  updateBillingSettings(input: $input) { disconnect_account_status_id prorate_account_status_change prorate_services round_prorated_amounts disconnection_reason_required }
}`;

const CHECKS = [
  ["prorate_account_status_change", "Prorate when an account's status changes (the default proration of a disconnection)"],
  ["prorate_services", "Prorate services added or removed mid-period"],
  ["round_prorated_amounts", "Round prorated amounts"],
  ["disconnection_reason_required", "A disconnection needs a reason"],
];

export function BillingSettingsScreen({ session }) {
  const writable = session.permissions.includes("SETTINGS_WRITE");
  const [form, setForm] = useState(null);
  const [statuses, setStatuses] = useState([]);
  const [error, setError] = useState(null);
  const [refusal, setRefusal] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    gql(READ).then((data) => {
      setForm(data.billing_setting);
      setStatuses(data.account_statuses.entities);
    }, setError);
  }, []);
  const save = async (e) => {
    e.preventDefault();
    setBusy(true);
    setRefusal(null);
    try {
      const data = await gql(SAVE, { input: form });
      setForm(data.updateBillingSettings);
      toast("The billing settings were updated.");
    } catch (err) {
      setRefusal(err);
      toast(`The billing settings were not updated: ${describeError(err)}`, "error");
    }
    setBusy(false);
  };
  return html`<main id="main">
    <h1>Billing settings</h1>
    <${ErrorNote} error=${error} />
    ${form &&
    html`<form class="settings" onSubmit=${save}>
      ${!writable && html`<p class="muted">This token may read the settings but not change them (SETTINGS_WRITE).</p>`}
      <div class="field">
        <label for="disconnect-status">Disconnect account status</label>
        <select id="disconnect-status" disabled=${!writable} value=${form.disconnect_account_status_id}
          onChange=${(e) => setForm({ ...form, disconnect_account_status_id: e.target.value })}>
          ${statuses.map((s) => html`<option value=${s.id} disabled=${s.activates_account}>${s.name}${s.activates_account ? " (activates accounts)" : ""}</option>`)}
        </select>
      </div>
      ${CHECKS.map(
        ([key, label]) => html`<label class="check"><input type="checkbox" name=${key} disabled=${!writable} checked=${form[key]}
          onChange=${(e) => setForm({ ...form, [key]: e.target.checked })} /> ${label}</label>`,
      )}
      <${ErrorNote} error=${refusal} />
      ${writable && html`<div class="actions"><button type="submit" class="primary" disabled=${busy}>Save</button></div>`}
    </form>`}
  </main>`;
}
