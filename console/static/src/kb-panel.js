// Knowledge-base panel: search as you type, read out a service's details, give a referral once,
// and in a chat insert a service's public details into the reply.
import { api, el } from "./common.js";

const $ = (id) => document.getElementById(id);
const given = new Map(); // contactId -> Set(serviceId)
let timer = null;
let lastQuery = "";

function consoleHandle() {
  return window.helplineConsole;
}

// The contact the operator has selected in the console (its card, or its chat tab), never a guess
// such as the last one accepted: with two chats open a guess gives a referral to the wrong victim.
function currentContact() {
  const handle = consoleHandle();
  return handle && handle.selected ? handle.selected() : null;
}

function contactName(contact) {
  const handle = consoleHandle();
  return handle && handle.describe ? handle.describe(contact) : `contact ${contact.id}`;
}

function renderTarget() {
  const contact = currentContact();
  const node = $("kb-target");
  node.textContent = contact
    ? `Referrals and replies go to: ${contactName(contact)}`
    : "Select one of your contacts to give a referral or insert details into a reply.";
  node.dataset.contactId = contact ? String(contact.id) : "";
}

function status(text) {
  $("kb-status").textContent = text;
}

function detail(label, value) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return null;
  return el("div", { class: "kb-detail" }, el("dt", {}, label), el("dd", {}, Array.isArray(value) ? value.join(", ") : String(value)));
}

async function giveReferral(result, button) {
  const contact = currentContact();
  if (!contact) {
    status("Select one of your contacts before giving a referral.");
    return;
  }
  button.disabled = true;
  try {
    await api("POST", `/api/contacts/${contact.id}/referrals`, { service_id: result.id });
    if (!given.has(contact.id)) given.set(contact.id, new Set());
    given.get(contact.id).add(result.id);
    button.textContent = "Referral logged";
    status(`Referral to ${result.title} logged on ${contactName(contact)}.`);
    // The wrap-up form lists it under "Referrals made", so it is not logged a second time there.
    document.dispatchEvent(new CustomEvent("helpline:referral", {
      detail: { contact_id: contact.id, service_id: result.id, name: result.title },
    }));
  } catch (err) {
    button.disabled = err.code === "duplicate_referral";
    if (err.code === "duplicate_referral") button.textContent = "Referral logged";
    status(err.message);
  }
}

async function insertIntoReply(result) {
  const contact = currentContact();
  if (!contact || contact.channel !== "chat") {
    status("Select the chat to insert the details into.");
    return;
  }
  try {
    const data = await api("GET", `/api/kb/services/${encodeURIComponent(result.id)}`);
    document.dispatchEvent(
      new CustomEvent("helpline:insert-reply", { detail: { contactId: contact.id, text: data.service.text } }),
    );
    status(`Details inserted into the reply to ${contactName(contact)}.`);
  } catch (err) {
    status(err.message);
  }
}

function renderResults(results) {
  const contact = currentContact();
  const done = contact ? given.get(contact.id) || new Set() : new Set();
  $("kb-results").replaceChildren(
    ...results.map((r) => {
      const item = el("li", { class: `kb-result kb-${r.kind}`, "data-id": r.id });
      item.append(el("h4", {}, el("span", { class: "pill" }, r.kind === "service" ? "Service" : "Article"), " ", r.title));
      if (r.snippet) item.append(el("p", { class: "muted" }, r.snippet));
      if (r.kind === "service") {
        const openLabel = r.open_now === true ? "open now" : r.open_now === false ? "closed now" : null;
        const list = el("dl", { class: "kb-details" });
        for (const row of [
          detail("Phone", r.phone),
          detail("Hours", [r.hours, openLabel].filter(Boolean).join(" · ")),
          detail("Languages", r.languages),
          detail("Eligibility", r.eligibility),
          detail("How to refer", r.how_to_refer),
          detail("Organisation", r.organization),
        ]) {
          if (row) list.append(row);
        }
        item.append(list);
        const buttons = el("div", { class: "buttons" });
        const give = el("button", { type: "button", class: "kb-give" }, done.has(r.id) ? "Referral logged" : "Give referral");
        give.disabled = !contact || done.has(r.id);
        give.addEventListener("click", () => giveReferral(r, give));
        buttons.append(give);
        if (contact && contact.channel === "chat") {
          const insert = el("button", { type: "button", class: "kb-insert" }, "Insert into reply");
          insert.addEventListener("click", () => insertIntoReply(r));
          buttons.append(insert);
        }
        item.append(buttons);
      }
      return item;
    }),
  );
}

async function search() {
  const q = $("kb-q").value.trim();
  if (!q) {
    $("kb-results").replaceChildren();
    status("");
    return;
  }
  const params = new URLSearchParams({ q, limit: "8" });
  const contact = currentContact();
  if ($("kb-caller-lang").checked && contact) params.set("lang", contact.language);
  if ($("kb-open-now").checked) params.set("open_now", "1");
  lastQuery = params.toString();
  try {
    const data = await api("GET", `/api/kb/search?${params}`);
    if (params.toString() !== lastQuery) return; // a newer search is on its way
    renderResults(data.results);
    status(data.results.length ? `${data.results.length} results` : "Nothing found.");
  } catch (err) {
    status(err.message);
  }
}

async function refreshRecent() {
  try {
    const data = await api("GET", "/api/me/recent");
    $("kb-recent").replaceChildren(
      ...data.records.map((r) =>
        el(
          "li",
          { "data-contact-id": r.contact.id },
          `${r.contact.ref} · ${r.outcome}`,
          r.referrals.length ? ` · referred to ${r.referrals.map((x) => x.name).join(", ")}` : "",
        ),
      ),
    );
  } catch {
    // The list is a convenience; the console's own error line reports real failures.
  }
}

$("kb-form").addEventListener("submit", (event) => {
  event.preventDefault();
  search();
});
$("kb-q").addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(search, 150);
});
$("kb-open-now").addEventListener("change", search);
$("kb-caller-lang").addEventListener("change", search);
document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
  if (event.key === "/" && !typing) {
    event.preventDefault();
    $("kb-q").focus();
  }
});
document.addEventListener("helpline:selected", () => {
  renderTarget();
  // The buttons of the results belong to the contact: redraw them for the one now selected.
  if ($("kb-q").value.trim()) search();
});
document.addEventListener("helpline:contact", (event) => {
  const contact = event.detail;
  if (contact.state === "closed" && consoleHandle() && contact.operator_id === consoleHandle().myId) {
    renderTarget();
refreshRecent();
  }
  if ($("kb-q").value.trim()) search();
});
renderTarget();
refreshRecent();
