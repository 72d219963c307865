// The full wrap-up form, built from the taxonomy, in each contact card of the operator's console.
// It replaces the spine's minimal form when console.js announces a card ("helpline:card"). Every
// change is kept as a server-side draft, so a reload or a transfer loses nothing; a very serious
// triage alerts the shift lead at once; consent and identity are reached only through the API,
// which enforces scope, expiry and role.
import { api, el } from "../../../../static/src/common.js";

let form = null;
const cards = new Map(); // contact id -> card state

function status(message) {
  const node = document.getElementById("records-status");
  if (node) node.textContent = message;
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

const checkbox = (name, value, label) =>
  el("label", {}, el("input", { type: "checkbox", name, value }), label);

function select(name, options, { placeholder = "Choose…", required = false } = {}) {
  const node = el("select", { name });
  if (required) node.setAttribute("aria-required", "true");
  node.append(el("option", { value: "" }, placeholder));
  for (const o of options) node.append(el("option", { value: o.code }, o.label));
  return node;
}

function fieldLabel(text, name) {
  const required = form.taxonomy.required.includes(name);
  return el("span", { class: required ? "required" : "" }, text);
}

function fieldset(legend, ...children) {
  return el("fieldset", {}, el("legend", {}, legend), ...children);
}

function trackLabel(code) {
  const found = form.triage.tracks.find((t) => t.code === code);
  return found ? found.label : code;
}

// ---------------------------------------------------------------- building the form

function buildForm(contact) {
  const t = form.taxonomy;
  const root = el("form", { class: "wrapup record-form", "data-version": t.version, novalidate: "" });
  const quick = el("div", { class: "quick", role: "group", "aria-label": "Nothing to record" });
  for (const o of t.outcomes.filter((x) => x.non_data)) {
    const button = el("button", { type: "button", class: "quick-outcome", "data-code": o.code }, o.label);
    button.addEventListener("click", () => {
      if (root.dataset.contactState !== "active") submit(contact.id, { code: o.code });
    });
    quick.append(button);
  }
  const quickHint = el("p", { class: "muted quick-hint", id: `quick-hint-${contact.id}` });
  quick.setAttribute("aria-describedby", quickHint.id);
  const dataOutcomes = t.outcomes.filter((x) => !x.non_data);

  const country = select("country", t.countries, { placeholder: "Country…" });
  const countryLabel = el("label", { class: "country", hidden: "" }, "Country", country);
  const crossBorder = el("input", { type: "checkbox", name: "cross_border" });
  crossBorder.addEventListener("change", () => {
    countryLabel.hidden = !crossBorder.checked;
  });

  const info = el("input", { name: "information_given", placeholder: "Article ids, comma-separated", "aria-label": "Information given: knowledge-base article ids, comma-separated" });
  const referrals = el("ul", { class: "items referrals" });
  const serviceId = el("input", { name: "service_id", placeholder: "Service id", "aria-label": "Referral: the service's id in the directory" });
  const serviceName = el("input", { name: "service_name", placeholder: "Service name", "aria-label": "Referral: the service's name" });
  const addReferral = el("button", { type: "button", class: "add-referral" }, "Add referral");
  addReferral.addEventListener("click", () => {
    if (!serviceId.value.trim()) return;
    addReferralItem(referrals, { service_id: serviceId.value.trim(), name: serviceName.value.trim() });
    serviceId.value = "";
    serviceName.value = "";
    root.dispatchEvent(new Event("input"));
  });

  const suggestion = el("p", { class: "suggestion", "aria-live": "polite" }, "Suggested track: less serious");
  const tracks = el(
    "div",
    { class: "tracks", role: "radiogroup", "aria-label": "Track (you decide)" },
    ...form.triage.tracks.map((tr) =>
      el("label", {}, el("input", { type: "radio", name: "triage_track", value: tr.code }), tr.label),
    ),
  );
  const confirmTrack = el("button", { type: "button", class: "confirm-track" }, "Confirm track");
  const triageResult = el("p", { class: "triage-result", role: "status" });
  confirmTrack.addEventListener("click", () => confirmTriage(contact.id, root, triageResult));

  const note = el("textarea", { name: "note", maxlength: String(form.note_max), rows: "2" });
  const error = el("p", { class: "form-error wrapup-error", role: "alert" });
  const saved = el("span", { class: "saved", "aria-live": "polite" });
  const closeButton = el("button", { type: "submit", class: "primary" }, "Wrap up and close");

  root.append(
    fieldset("Outcome", quickHint, quick,
      el("label", {}, el("span", { class: "required" }, "Outcome"), select("code", dataOutcomes))),
    fieldset(
      "Who and what",
      el("label", {}, fieldLabel("Caller's role", "caller_role"), select("caller_role", t.caller_role)),
      el("p", {}, fieldLabel("Victimisation", "victimisation")),
      el("div", { class: "choices victimisation" }, ...t.victimisation.map((c) => checkbox("victimisation", c.code, c.label))),
      el("label", { class: "check" }, crossBorder, "Cross-border case"),
      countryLabel,
    ),
    fieldset(
      "Needs",
      el("p", {}, fieldLabel("Needs", "needs")),
      el("div", { class: "choices needs" }, ...t.needs.map((c) => checkbox("needs", c.code, c.label))),
    ),
    fieldset(
      "Information and referral",
      el("label", {}, fieldLabel("Information given (knowledge base)", "information_given"), info),
      el("p", {}, "Referrals made"),
      referrals,
      el("div", { class: "inline-row" }, serviceId, serviceName, addReferral),
      el("label", {}, fieldLabel("How they heard of the line", "heard_from"), select("heard_from", t.heard_from)),
    ),
    fieldset(
      "Triage",
      el("div", { class: "choices checklist" }, ...form.triage.items.map((i) => checkbox("triage_item", i.code, i.label))),
      suggestion,
      el("p", {}, fieldLabel("Track (you decide)", "triage_track")),
      tracks,
      confirmTrack,
      triageResult,
    ),
    el("label", {}, "Short note", el("p", { class: "reminder" }, form.note_reminder), note),
    error,
    el("div", { class: "buttons" }, closeButton, saved),
    buildConsent(contact),
  );

  showQuick(root, contact.state);
  root.addEventListener("change", (event) => {
    if (event.target.name === "triage_item") updateSuggestion(root, suggestion);
    if (event.target.name === "triage_track") root.dataset.trackTouched = "1";
  });
  root.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = collect(root);
    const missing = missingFields(body);
    if (missing.length) {
      // All at once: the server names only the first, one submit at a time.
      root.querySelector(".wrapup-error").textContent = `Still to fill in: ${missing.join(", ")}.`;
      return;
    }
    submit(contact.id, body);
  });
  const save = debounce(() => saveDraft(contact.id, root, saved), 500);
  root.addEventListener("input", save);
  root.addEventListener("change", save);
  return root;
}

// The one-click outcomes are offered only once the conversation has ended (wrap up). Ending is its
// own deliberate act, with its own button; on a live contact a quick button would end the call or
// chat as a side effect of recording, and a reflex click during a silence would cut off someone
// who may be in danger. A confirmation dialog was the alternative, but one asked at every contact
// is soon clicked through without being read.
function showQuick(root, state) {
  const live = state === "active";
  root.dataset.contactState = state || "";
  for (const button of root.querySelectorAll(".quick-outcome")) button.disabled = live;
  root.querySelector(".quick-hint").textContent = live
    ? "Nothing to record? End the conversation first; then one click records it and closes it:"
    : "Nothing to record? One click closes it:";
}

function addReferralItem(list, referral) {
  const remove = el("button", { type: "button", class: "link" }, "remove");
  const item = el(
    "li",
    { "data-service-id": referral.service_id, "data-name": referral.name || "" },
    el("span", {}, referral.name || referral.service_id),
    remove,
  );
  remove.addEventListener("click", () => {
    const formNode = item.closest("form");
    item.remove();
    if (formNode) formNode.dispatchEvent(new Event("input"));
  });
  list.append(item);
}

// The checklist's suggestion, computed as the server does (config/triage.toml).
function suggest(answers) {
  const rank = { less_serious: 0, serious: 1, very_serious: 2 };
  const ticked = form.triage.items.filter((i) => answers.includes(i.code));
  if (!ticked.length) return "less_serious";
  const serious = ticked.filter((i) => i.track === "serious").length;
  if (serious >= form.triage.serious_items_for_very_serious) return "very_serious";
  return ticked.map((i) => i.track).sort((a, b) => rank[b] - rank[a])[0];
}

function updateSuggestion(root, node) {
  const answers = [...root.querySelectorAll('input[name="triage_item"]:checked')].map((x) => x.value);
  const suggested = suggest(answers);
  node.textContent = `Suggested track: ${trackLabel(suggested).toLowerCase()}`;
  node.dataset.suggested = suggested;
  if (!root.dataset.trackTouched) {
    const radio = root.querySelector(`input[name="triage_track"][value="${suggested}"]`);
    if (radio) radio.checked = true;
  }
}

// ---------------------------------------------------------------- reading and filling

function checked(root, name) {
  return [...root.querySelectorAll(`input[name="${name}"]:checked`)].map((x) => x.value);
}

const REQUIRED_NAMES = {
  code: "Outcome",
  caller_role: "Caller's role",
  victimisation: "Victimisation",
  needs: "Needs",
  triage_track: "Triage track",
  country: "Country",
};

// What the server would refuse as missing, for an outcome that records data.
function missingFields(body) {
  if (!body.code) return [REQUIRED_NAMES.code];
  const outcome = form.taxonomy.outcomes.find((o) => o.code === body.code);
  if (!outcome || outcome.non_data) return [];
  const empty = (v) => v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length);
  const missing = form.taxonomy.required.filter((name) => empty(body.details[name]));
  if (body.details.cross_border && !body.details.country) missing.push("country");
  return missing.map((name) => REQUIRED_NAMES[name] || name.replace(/_/g, " "));
}

function collect(root) {
  const value = (name) => root.querySelector(`[name="${name}"]`).value || null;
  const crossBorder = root.querySelector('[name="cross_border"]').checked;
  const track = root.querySelector('input[name="triage_track"]:checked');
  const info = (value("information_given") || "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const referrals = [...root.querySelectorAll(".referrals li")].map((li) => ({
    service_id: li.dataset.serviceId,
    name: li.dataset.name || li.dataset.serviceId,
  }));
  return {
    code: value("code") || "",
    note: root.querySelector('[name="note"]').value,
    taxonomy_version: Number(root.dataset.version),
    details: {
      caller_role: value("caller_role"),
      victimisation: checked(root, "victimisation"),
      cross_border: crossBorder,
      country: crossBorder ? value("country") : null,
      needs: checked(root, "needs"),
      information_given: info,
      referrals,
      heard_from: value("heard_from"),
      triage_track: track ? track.value : null,
    },
    triage: { answers: checked(root, "triage_item"), track: track ? track.value : null },
  };
}

function fill(root, draft) {
  if (!draft) return;
  const set = (name, value) => {
    const node = root.querySelector(`[name="${name}"]`);
    if (node && value !== undefined && value !== null) node.value = value;
  };
  const tick = (name, values) => {
    for (const node of root.querySelectorAll(`input[name="${name}"]`)) node.checked = (values || []).includes(node.value);
  };
  const d = draft.details || {};
  set("code", draft.code);
  set("note", draft.note);
  set("caller_role", d.caller_role);
  tick("victimisation", d.victimisation);
  tick("needs", d.needs);
  const crossBorder = root.querySelector('[name="cross_border"]');
  crossBorder.checked = Boolean(d.cross_border);
  root.querySelector(".country").hidden = !crossBorder.checked;
  set("country", d.country);
  set("information_given", (d.information_given || []).join(", "));
  set("heard_from", d.heard_from);
  const list = root.querySelector(".referrals");
  list.replaceChildren();
  for (const r of d.referrals || []) addReferralItem(list, r);
  const triage = draft.triage || {};
  tick("triage_item", triage.answers);
  updateSuggestion(root, root.querySelector(".suggestion"));
  const track = triage.track || d.triage_track;
  if (track) {
    root.dataset.trackTouched = "1";
    const radio = root.querySelector(`input[name="triage_track"][value="${track}"]`);
    if (radio) radio.checked = true;
  }
}

// ---------------------------------------------------------------- talking to the server

async function saveDraft(contactId, root, savedNode) {
  try {
    await api("PUT", `/api/contacts/${contactId}/draft`, collect(root));
    savedNode.textContent = `Draft kept at ${new Date().toLocaleTimeString()}`;
    root.dataset.draftSaved = String(Date.now());
  } catch (err) {
    savedNode.textContent = `Draft not kept: ${err.message}`;
  }
}

async function confirmTriage(contactId, root, resultNode) {
  const data = collect(root);
  try {
    const result = await api("POST", `/api/contacts/${contactId}/triage`, data.triage);
    resultNode.textContent =
      `Track: ${trackLabel(result.track).toLowerCase()}` +
      (result.alerted ? " — the shift lead has been alerted." : result.urgent ? " — marked urgent." : "");
    root.closest(".contact")?.setAttribute("data-urgent", result.urgent ? "1" : "0");
  } catch (err) {
    resultNode.textContent = err.message;
  }
}

async function submit(contactId, body) {
  const state = cards.get(contactId);
  const root = state?.form;
  const error = root?.querySelector(".wrapup-error");
  if (error) error.textContent = "";
  try {
    await api("POST", `/api/contacts/${contactId}/wrap-up`, body);
    status("Wrapped up and closed.");
    window.helplineConsole?.refresh();
  } catch (err) {
    if (!error) return;
    error.textContent = err.message;
    if (err.code === "stale_taxonomy") {
      const reload = el("button", { type: "button", class: "reload-form" }, "Reload the form");
      reload.addEventListener("click", async () => {
        form = await api("GET", "/api/records/form");
        rebuild(contactId);
      });
      error.append(" ", reload);
    }
  }
}

// ---------------------------------------------------------------- consent and identity

function buildConsent(contact) {
  const box = el("details", { class: "consent-box" }, el("summary", {}, "Consent and identity"));
  const list = el("div", { class: "consents" });
  const scope = select("consent_scope", form.scopes.map((s) => ({ code: s, label: s.replace(/_/g, " ") })), { placeholder: "Scope…" });
  scope.setAttribute("aria-label", "Consent: what it covers");
  const method = select("consent_method", form.methods.map((m) => ({ code: m, label: m.replace(/_/g, " ") })), { placeholder: "How given…" });
  method.setAttribute("aria-label", "Consent: how it was given");
  const organisation = el("input", { name: "consent_organisation", placeholder: "Organisation (for a referral)", "aria-label": "Consent: the organisation referred to" });
  const record = el("button", { type: "button", class: "grant-consent" }, "Record consent");
  const message = el("p", { class: "form-error consent-error", role: "alert" });
  record.addEventListener("click", async () => {
    message.textContent = "";
    try {
      await api("POST", `/api/contacts/${contact.id}/consents`, {
        scope: scope.value,
        method: method.value,
        organisation: organisation.value || null,
      });
      await loadConsents(contact.id, list, message);
    } catch (err) {
      message.textContent = err.message;
    }
  });
  box.addEventListener("toggle", () => box.open && loadConsents(contact.id, list, message));
  box.append(
    el("p", { class: "muted" }, "Keep a name or number only with the person's consent, for its purpose and time."),
    list,
    el("div", { class: "inline-row" }, scope, method, organisation, record),
    message,
  );
  return box;
}

async function loadConsents(contactId, list, message) {
  try {
    const data = await api("GET", `/api/contacts/${contactId}/consents`);
    list.replaceChildren(...data.consents.map((c) => consentItem(c, () => loadConsents(contactId, list, message), message)));
  } catch (err) {
    message.textContent = err.message;
  }
}

function consentItem(c, reload, message) {
  const reasons = form.reasons;
  const fields = form.scope_fields[c.scope] || [];
  const item = el(
    "div",
    { class: "consent", "data-consent-id": c.id, "data-status": c.status },
    el("p", {}, `${c.scope.replace(/_/g, " ")} · ${c.method.replace(/_/g, " ")} · ${c.status} until ${new Date(c.expires_at).toLocaleDateString()}` + (c.fields.length ? ` · kept: ${c.fields.join(", ")}` : "")),
  );
  if (c.status !== "active") return item;
  const field = select("identity_field", fields.map((f) => ({ code: f, label: f })), { placeholder: "Field…" });
  field.setAttribute("aria-label", "Identity field");
  const value = el("input", { name: "identity_value", autocomplete: "off", placeholder: "Value (kept encrypted)", "aria-label": "Identity value, kept encrypted" });
  const store = el("button", { type: "button", class: "store-identity" }, "Keep");
  store.addEventListener("click", async () => {
    try {
      await api("POST", `/api/consents/${c.id}/identity`, { field: field.value, value: value.value });
      value.value = "";
      reload();
    } catch (err) {
      message.textContent = err.message;
    }
  });
  const reason = select("read_reason", reasons, { placeholder: "Why do you need it?" });
  reason.setAttribute("aria-label", "Why you need to read it");
  const readField = select("read_field", c.fields.map((f) => ({ code: f, label: f })), { placeholder: "Field…" });
  readField.setAttribute("aria-label", "Identity field to read");
  const shown = el("span", { class: "revealed", hidden: "" });
  const read = el("button", { type: "button", class: "read-identity" }, "Show");
  read.addEventListener("click", async () => {
    try {
      const data = await api("POST", `/api/consents/${c.id}/read`, { field: readField.value, reason: reason.value, scope: c.scope });
      shown.textContent = data.value;
      shown.hidden = false;
      // Shown for a minute, then gone from the page.
      setTimeout(() => { shown.textContent = ""; shown.hidden = true; }, 60000);
    } catch (err) {
      message.textContent = err.message;
    }
  });
  const withdraw = el("button", { type: "button", class: "withdraw-consent" }, "Consent withdrawn");
  withdraw.addEventListener("click", async () => {
    try {
      await api("POST", `/api/consents/${c.id}/withdraw`, { reason: "caller_request" });
      reload();
    } catch (err) {
      message.textContent = err.message;
    }
  });
  item.append(
    el("div", { class: "inline-row" }, field, value, store),
    el("div", { class: "inline-row" }, readField, reason, read),
    shown,
    withdraw,
  );
  return item;
}

// ---------------------------------------------------------------- cards

async function attach(contact, node) {
  if (!form || cards.has(contact.id)) return;
  const old = node.querySelector("form.wrapup");
  const root = buildForm({ ...contact, state: contact.state || node.dataset.state });
  if (old) old.replaceWith(root);
  else node.append(root);
  cards.set(contact.id, { form: root, node });
  if (contact.urgent) node.dataset.urgent = "1";
  try {
    const data = await api("GET", `/api/contacts/${contact.id}/draft`);
    fill(root, data.draft);
    root.dataset.ready = "1";
  } catch (err) {
    root.querySelector(".wrapup-error").textContent = err.message;
  }
}

function rebuild(contactId) {
  const state = cards.get(contactId);
  if (!state) return;
  cards.delete(contactId);
  const contact = window.helplineConsole?.mine.get(contactId) || { id: contactId };
  const fresh = el("form", { class: "wrapup" });
  state.form.replaceWith(fresh);
  attach(contact, state.node);
}

// Knowledge-base panels can add what the operator gave or referred to:
// document.dispatchEvent(new CustomEvent("helpline:referral", {detail: {contact_id, service_id, name}}))
document.addEventListener("helpline:referral", (event) => {
  const { contact_id: id, service_id: serviceId, name } = event.detail;
  const state = cards.get(id);
  if (!state || !serviceId) return;
  addReferralItem(state.form.querySelector(".referrals"), { service_id: serviceId, name });
  state.form.dispatchEvent(new Event("input"));
});
document.addEventListener("helpline:info-given", (event) => {
  const { contact_id: id, article_id: articleId } = event.detail;
  const state = cards.get(id);
  if (!state || !articleId) return;
  const input = state.form.querySelector('[name="information_given"]');
  const ids = new Set(input.value.split(",").map((s) => s.trim()).filter(Boolean));
  ids.add(String(articleId));
  input.value = [...ids].join(", ");
  state.form.dispatchEvent(new Event("input"));
});

const pending = [];
document.addEventListener("helpline:card", (event) => {
  if (form) attach(event.detail.contact, event.detail.node);
  else pending.push(event.detail);
});
document.addEventListener("helpline:contact", (event) => {
  const contact = event.detail;
  const state = cards.get(contact.id);
  if (state && !state.node.isConnected) cards.delete(contact.id);
  if (state && contact.urgent) state.node.dataset.urgent = "1";
  if (state && state.node.isConnected) showQuick(state.form, contact.state);
});

async function start() {
  try {
    form = await api("GET", "/api/records/form");
  } catch (err) {
    status(`The wrap-up form could not load: ${err.message}`);
    return;
  }
  for (const detail of pending.splice(0)) attach(detail.contact, detail.node);
  // Cards that console.js built before this module ran.
  for (const node of document.querySelectorAll("#mine-list .contact")) {
    const id = Number(node.dataset.contactId);
    const contact = window.helplineConsole?.mine.get(id);
    if (contact) attach(contact, node);
  }
  document.getElementById("console")?.setAttribute("data-records-ready", "1");
}

start();
