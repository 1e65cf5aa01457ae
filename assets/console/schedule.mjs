// The scheduled event window: Create Scheduled Event (from an Edit menu) and editing a pending
// event (from the account's Scheduled events tab). The event list is Sonar's; the ones fathom
// carries out can be chosen. The date and time are the instance's local ones, its time zone
// shown. Each field is checked before anything is sent: an empty or past date and time, a
// missing or non-numeric amount or id get the field's error and send nothing.
import { useState } from "./hooks.mjs";
import { gql } from "./api.mjs";
import { html, Dialog, ErrorNote, toast, zonedInstant, datetime, today } from "./ui.mjs";

/** Sonar's events in its order, with what fathom needs for each it carries out. */
export const EVENTS = [
  ["DISCONNECT_ACCOUNT", "Disconnect an account", { prorate: true }],
  ["CHANGE_STATUS", "Change the account's status", { object: "Account status ID" }],
  ["ADD_SERVICE", "Add a service", { object: "Recurring service ID", amount: true }],
  ["REMOVE_SERVICE", "Remove a service", { object: "Account service ID", prorate: true }],
  ["ONE_TIME_TRANSACTION", "Add a one-time transaction", { object: "One-time service ID", amount: true }],
  ["ADD_PACKAGE", "Add a package", null],
  ["REMOVE_PACKAGE", "Remove a package", null],
  ["ADD_PRICE_OVERRIDE", "Add a price override", null],
  ["REMOVE_PRICE_OVERRIDE", "Remove a price override", null],
  ["ASSIGN_SERVICEABLE_ADDRESS", "Assign a serviceable address", null],
  ["CREDIT_CARD_PAYMENT", "Make a credit card payment", null],
  ["BANK_ACCOUNT_PAYMENT", "Make a bank account payment", null],
];

const CREATE = `mutation Create($input: CreateScheduledEventMutationInput) {
  createScheduledEvent(input: $input) { id event datetime status }
}`;
const UPDATE = `mutation Update($id: Int64Bit!, $input: UpdateScheduledEventMutationInput) {
  updateScheduledEvent(id: $id, input: $input) { id event datetime status }
}`;

const DOLLARS = /^-?\d+(\.\d{1,2})?$/;

/** Dollars typed by the operator ("12.5") as integer cents (1250). */
function cents(text) {
  const [whole, frac = ""] = text.replace(/^-/, "").split(".");
  const value = Number(whole) * 100 + Number((frac + "00").slice(0, 2));
  return text.startsWith("-") ? -value : value;
}

/** `event` given: edits that pending event; otherwise creates one for `account`. */
export function ScheduleDialog({ session, account, event = null, onClose, onDone }) {
  const zone = session.timezone;
  const initial = event ? datetime(event.datetime, zone) : "";
  const [form, setForm] = useState({
    event: event ? event.event : "DISCONNECT_ACCOUNT",
    date: initial.slice(0, 10),
    time: initial ? initial.slice(11, 16) : "",
    prorate: event ? (event.prorate === null ? "" : event.prorate ? "yes" : "no") : "",
    object: event ? event.primary_event_object_id || "" : "",
    amount: event && event.amount !== null && event.amount !== undefined ? (event.amount / 100).toFixed(2) : "",
    description: event ? event.description || "" : "",
  });
  const [errors, setErrors] = useState({});
  const [refusal, setRefusal] = useState(null);
  const [busy, setBusy] = useState(false);
  const needs = (EVENTS.find((e) => e[0] === form.event) || [])[2] || {};
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });

  const check = () => {
    const found = {};
    const at = zonedInstant(form.date, form.time, zone);
    if (!form.date) found.date = "Enter a date.";
    else if (!form.time) found.time = "Enter a time.";
    else if (!at) found.date = "Enter the date as YYYY-MM-DD and the time as HH:MM or HH:MM:SS.";
    else if (new Date(at).getTime() <= Date.now()) found.date = `The date and time must be in the future (it is now ${datetime(new Date().toISOString(), zone)} in ${zone}).`;
    if (needs.object && !event && !/^\d+$/.test(form.object.trim())) found.object = `Enter the ${needs.object} (a whole number).`;
    if (needs.amount && form.amount.trim() && !DOLLARS.test(form.amount.trim())) found.amount = "Enter an amount in dollars, e.g. 12.50, or leave it empty.";
    return { found, at };
  };

  const submit = async (e) => {
    e.preventDefault();
    const { found, at } = check();
    setErrors(found);
    if (Object.keys(found).length) {
      const first = document.getElementById(`schedule-${Object.keys(found)[0]}`);
      if (first) first.focus();
      return;
    }
    const input = { datetime: at };
    if (form.description.trim()) input.description = form.description.trim();
    if (needs.prorate) {
      if (form.prorate !== "") input.prorate = form.prorate === "yes";
      else if (event) input.unset_prorate = true;
    }
    if (needs.amount && form.amount.trim()) input.amount = cents(form.amount.trim());
    setBusy(true);
    setRefusal(null);
    try {
      if (event) {
        await gql(UPDATE, { id: event.id, input });
        toast(`The scheduled event ${event.id} was updated.`);
      } else {
        input.account_id = account.id;
        input.event = form.event;
        if (needs.object) input.primary_event_object_id = form.object.trim();
        const data = await gql(CREATE, { input });
        toast(`${account.name}: event scheduled for ${datetime(data.createScheduledEvent.datetime, zone)} (${zone}).`);
      }
      onDone();
    } catch (err) {
      setRefusal(err);
      if (err.field) {
        const key = { datetime: "date", primary_event_object_id: "object", amount: "amount" }[err.field];
        if (key) setErrors({ [key]: err.message });
      }
      setBusy(false);
    }
  };

  const fieldError = (key) =>
    errors[key] && html`<span class="field-error" id=${`schedule-${key}-error`}>${errors[key]}</span>`;
  const invalid = (key) => (errors[key] ? { "aria-invalid": "true", "aria-describedby": `schedule-${key}-error` } : {});

  return html`<${Dialog} title=${event ? `Edit scheduled event ${event.id}` : `Create Scheduled Event for ${account.name}`} onClose=${onClose}>
    <form class="schedule" onSubmit=${submit} novalidate>
      <div class="field">
        <label for="schedule-event">Event</label>
        <select id="schedule-event" value=${form.event} onChange=${set("event")} disabled=${!!event}>
          ${EVENTS.map(([value, label, supported]) => html`<option value=${value} disabled=${!supported}>${label}${supported ? "" : " (not in fathom)"}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="schedule-date">Date</label>
        <input id="schedule-date" type="date" min=${today(zone)} value=${form.date} onInput=${set("date")} ...${invalid("date")} />
        ${fieldError("date")}
      </div>
      <div class="field">
        <label for="schedule-time">Time (${zone})</label>
        <input id="schedule-time" type="time" step="1" value=${form.time} onInput=${set("time")} ...${invalid("time")} />
        ${fieldError("time")}
      </div>
      ${needs.prorate &&
      html`<div class="field">
        <label for="schedule-prorate">Proration</label>
        <select id="schedule-prorate" value=${form.prorate} onChange=${set("prorate")}>
          <option value="">Inherit Global Proration Setting</option>
          <option value="yes">Prorate</option>
          <option value="no">Do not prorate</option>
        </select>
      </div>`}
      ${needs.object && !event &&
      html`<div class="field">
        <label for="schedule-object">${needs.object}</label>
        <input id="schedule-object" inputmode="numeric" value=${form.object} onInput=${set("object")} ...${invalid("object")} />
        ${fieldError("object")}
      </div>`}
      ${needs.amount &&
      html`<div class="field">
        <label for="schedule-amount">Amount in dollars (empty: the service's price)</label>
        <input id="schedule-amount" inputmode="decimal" value=${form.amount} onInput=${set("amount")} ...${invalid("amount")} />
        ${fieldError("amount")}
      </div>`}
      <div class="field">
        <label for="schedule-description">Description</label>
        <input id="schedule-description" maxlength="255" value=${form.description} onInput=${set("description")} />
      </div>
      <${ErrorNote} error=${refusal} />
      <div class="actions">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class="primary" disabled=${busy}>${event ? "Save" : "Schedule"}</button>
      </div>
    </form>
  <//>`;
}
