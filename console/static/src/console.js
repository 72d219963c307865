// The operator's live console: queue, offers, own contacts, presence, wrap-up.
import { api, connect, el, formatWait, secondsSince } from "./common.js";

const root = document.getElementById("console");
const myId = Number(root.dataset.operatorId);
const labels = JSON.parse(document.getElementById("labels").textContent);
const waiting = new Map();
const mine = new Map();
let offer = null;
// The contact the operator has open: panels that act on "the" contact (referrals, inserting into a
// reply) act on this one, never on whichever was accepted last.
let selectedId = null;

const $ = (id) => document.getElementById(id);

function showError(message) {
  const box = $("console-error");
  box.textContent = message;
  box.hidden = !message;
}

const languageName = (code) => labels.languages[code] || code;
const topicName = (code) => (code ? labels.topics[code] || code : "—");
const channelName = (c) => ({ voice: "Call", chat: "Chat", callback: "Callback" })[c] || c;

function describe(contact) {
  return `${channelName(contact.channel)} · ${languageName(contact.language)} · ${topicName(contact.topic)}`;
}

function renderQueue() {
  const body = $("queue-body");
  // Rebuilding the rows would drop keyboard focus on the page's body at every queue change: the
  // focused Take button's contact is noted and its new button takes focus back.
  const focused = body.contains(document.activeElement) ? document.activeElement.dataset.contactId : null;
  const rows = [...waiting.values()].sort(
    (a, b) => b.priority - a.priority || Date.parse(a.enqueued_at) - Date.parse(b.enqueued_at),
  );
  body.replaceChildren(
    ...rows.map((c) => {
      const mark = c.state === "offered" ? (c.offered_to_id === myId ? " (offered to you)" : " (offered)") : "";
      // Every row's button says "Take"; a screen reader hears which contact it takes.
      const label = `Take ${channelName(c.channel)}${mark}, ${languageName(c.language)}, ${topicName(c.topic)}`;
      const button = el("button", { type: "button", class: "take", "data-contact-id": c.id, "aria-label": label }, "Take");
      button.addEventListener("click", () => accept(c.id));
      return el(
        "tr",
        { "data-contact-id": c.id, class: c.urgent ? "urgent" : "" },
        el("td", {}, channelName(c.channel) + mark),
        el("td", {}, languageName(c.language) + (c.overflowed ? " ↷" : "")),
        el("td", {}, topicName(c.topic)),
        el("td", { class: "wait", "data-since": c.enqueued_at }, formatWait(secondsSince(c.enqueued_at))),
        el("td", {}, button),
      );
    }),
  );
  $("queue-count").textContent = String(rows.length);
  $("queue-empty").hidden = rows.length > 0;
  if (focused) body.querySelector(`button.take[data-contact-id="${focused}"]`)?.focus();
}

// Existing cards are updated in place so a wrap-up form being filled in is never wiped.
function renderMine() {
  const list = $("mine-list");
  const template = $("mine-template");
  const cards = new Map([...list.children].map((node) => [Number(node.dataset.contactId), node]));
  for (const [id, node] of cards) if (!mine.has(id)) node.remove();
  for (const c of mine.values()) {
    let node = cards.get(c.id);
    if (!node) {
      node = template.content.firstElementChild.cloneNode(true);
      node.dataset.contactId = c.id;
      node.querySelector(".c-end").addEventListener("click", () => act(`/api/contacts/${c.id}/end`));
      node.querySelector(".c-transfer").addEventListener("click", () => act(`/api/contacts/${c.id}/transfer`, {}));
      node.querySelector(".wrapup").addEventListener("submit", (event) => {
        event.preventDefault();
        const form = new FormData(event.target);
        act(`/api/contacts/${c.id}/wrap-up`, { code: form.get("code"), note: form.get("note") });
      });
      node.addEventListener("click", () => selectContact(c.id));
      node.addEventListener("focusin", () => selectContact(c.id));
      list.append(node);
      announce("card", { contact: c, node });
    }
    node.classList.toggle("selected", c.id === selectedId);
    if (c.id === selectedId) node.setAttribute("aria-current", "true");
    else node.removeAttribute("aria-current");
    node.dataset.state = c.state;
    node.querySelector(".c-title").textContent = describe(c);
    node.querySelector(".c-state").textContent = c.state.replace("_", " ");
    node.querySelector(".c-since").textContent = c.accepted_at ? `since ${new Date(c.accepted_at).toLocaleTimeString()}` : "";
    node.querySelector(".c-end").hidden = c.state !== "active";
    node.querySelector(".c-transfer").hidden = c.state !== "active";
  }
  $("mine-empty").hidden = mine.size > 0;
  // One contact held is the one being worked on; with several, the operator chooses.
  if (!mine.has(selectedId)) selectContact(mine.size === 1 ? mine.keys().next().value : null);
}

function selectContact(id) {
  const next = id !== null && mine.has(id) ? id : null;
  if (next === selectedId) return;
  selectedId = next;
  for (const node of $("mine-list").children) {
    const on = Number(node.dataset.contactId) === selectedId;
    node.classList.toggle("selected", on);
    if (on) node.setAttribute("aria-current", "true");
    else node.removeAttribute("aria-current");
  }
  announce("selected", selectedId === null ? null : mine.get(selectedId));
}

function renderPresence(me) {
  const node = $("my-presence");
  node.textContent = me.presence.replace("_", " ");
  node.dataset.presence = me.presence;
}

const pageTitle = document.title;

function renderOffer() {
  const box = $("offer");
  if (!offer) {
    box.hidden = true;
    $("offer-text").textContent = "";
    document.title = pageTitle;
    return;
  }
  box.hidden = false;
  // Set once per offer: this runs every second, and a live region re-announces rewritten text.
  const text = describe(offer.contact);
  if ($("offer-text").textContent !== text) $("offer-text").textContent = text;
  // Seen from another tab (a knowledge-base page, a chat) too.
  document.title = `Offer waiting · ${pageTitle}`;
  const left = Math.max(0, Math.ceil((Date.parse(offer.expires_at) - Date.now()) / 1000));
  $("offer-countdown").textContent = String(left);
}

// Panels (chat, knowledge base, wrap-up, voice) listen to these DOM events and use this handle.
function announce(type, detail) {
  document.dispatchEvent(new CustomEvent(`helpline:${type}`, { detail }));
}

function upsert(contact) {
  if (contact.state === "waiting" || contact.state === "offered") waiting.set(contact.id, contact);
  else waiting.delete(contact.id);
  if (contact.operator_id === myId && (contact.state === "active" || contact.state === "wrap_up")) {
    mine.set(contact.id, contact);
  } else {
    mine.delete(contact.id);
  }
  if (offer && offer.contact.id === contact.id && contact.state !== "offered") offer = null;
  announce("contact", contact);
  if (contact.state === "offered" && contact.offered_to_id !== myId && offer && offer.contact.id === contact.id) offer = null;
}

async function act(url, body) {
  try {
    showError("");
    const data = await api("POST", url, body);
    if (data.contact) upsert(data.contact);
    if (data.me) renderPresence(data.me);
    renderQueue();
    renderMine();
    renderOffer();
    return data;
  } catch (err) {
    showError(err.message);
    return null;
  }
}

async function accept(id) {
  const data = await act(`/api/contacts/${id}/accept`);
  if (data) offer = null;
  renderOffer();
}

async function sync() {
  try {
    const data = await api("GET", "/api/queue");
    waiting.clear();
    mine.clear();
    data.waiting.forEach(upsert);
    data.mine.forEach(upsert);
    renderPresence(data.me);
    const mineOffer = data.waiting.find((c) => c.state === "offered" && c.offered_to_id === myId);
    offer = mineOffer ? { contact: mineOffer, expires_at: new Date(Date.now() + Number(root.dataset.reservationTimeout) * 1000).toISOString() } : null;
    renderQueue();
    renderMine();
    renderOffer();
    root.dataset.ready = "1";
  } catch (err) {
    showError(err.message);
  }
}

const socket = connect(sync);
window.helplineConsole = {
  socket,
  api,
  myId,
  mine,
  waiting,
  refresh: sync,
  describe,
  select: selectContact,
  selected: () => (selectedId === null ? null : mine.get(selectedId) || null),
};
announce("ready", window.helplineConsole);
socket.on("contact.queued", (c) => { upsert(c); renderQueue(); });
socket.on("contact.updated", (c) => { upsert(c); renderQueue(); renderMine(); renderOffer(); });
socket.on("offer.created", (o) => { offer = o; renderOffer(); });
socket.on("offer.ended", (o) => { if (offer && offer.offer_id === o.offer_id) { offer = null; renderOffer(); } });
socket.on("operator.presence", (op) => { if (op.id === myId) renderPresence(op); });

$("offer-accept").addEventListener("click", () => offer && accept(offer.contact.id));
$("offer-reject").addEventListener("click", async () => {
  if (!offer) return;
  const id = offer.contact.id;
  offer = null;
  renderOffer();
  await act(`/api/contacts/${id}/reject`);
});
document.querySelectorAll("[data-presence-set]").forEach((button) =>
  button.addEventListener("click", () => act("/api/presence", { presence: button.dataset.presenceSet })),
);

// Wait times tick locally from the server's timestamps: no polling.
setInterval(() => {
  document.querySelectorAll("td.wait").forEach((cell) => {
    cell.textContent = formatWait(secondsSince(cell.dataset.since));
  });
  if (offer) renderOffer();
}, 1000);
