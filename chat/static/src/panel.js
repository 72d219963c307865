// The operator's chat panel in the console: several chats at once, typing both ways, delivery
// marks, canned responses, end, transfer, block. It rides on the console's socket and helpers
// (window.helplineConsole, the helpline:* DOM events of console/static/src/console.js).
//
// Visitor text is only ever set with textContent, and nothing in it is turned into a link.
// Other panels may put text into a reply: dispatch
//   document.dispatchEvent(new CustomEvent("helpline:insert-reply", { detail: { contactId, text } }))
// or call window.helplineChat.insertReply(contactId, text).

const $ = (id) => document.getElementById(id);
const panel = $("chat-panel");
const chats = new Map(); // contact id → chat
const canned = new Map(); // language → [{key, title, text}]
let colleagues = [];
let blockDurations = [];
let selected = null;
let consoleApi = null;
const labels = JSON.parse(($("labels") || { textContent: "{}" }).textContent || "{}");

const TYPING_EVERY_MS = 2000;
const TYPING_IDLE_MS = 3000;
const HEARTBEAT_MS = 20000;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function showError(message) {
  const box = $("chat-error");
  box.textContent = message || "";
  box.hidden = !message;
}

const newId = () => {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
};

const api = (method, url, body) => consoleApi.api(method, url, body);
const visitorLabel = { online: "Visitor online", away: "Visitor connection lost", left: "Visitor left" };
// A quick exit may mean someone walked in on the visitor: writing on, or calling back, could
// put them in danger, so the operator is told more than "left".
const QUICK_EXIT_LABEL = "The visitor left with quick exit — they may not be safe to contact";

// ------------------------------------------------------------------ one chat's view

function createView(chat) {
  const template = $("chat-view-template");
  const view = template.content.firstElementChild.cloneNode(true);
  const id = chat.contact.id;
  // Hidden until selected: two transcripts and reply boxes in view invite a reply to the wrong
  // victim. select() shows the one chosen.
  view.hidden = true;
  view.id = `chat-view-${id}`;
  view.dataset.contactId = id;
  view.setAttribute("aria-labelledby", `chat-tab-${id}`);
  const tab = el(
    "button",
    { type: "button", role: "tab", id: `chat-tab-${id}`, class: "chat-tab", "aria-controls": view.id, "aria-selected": "false", "data-contact-id": id },
    el("span", { class: "chat-tab-title" }),
    " ",
    el("span", { class: "chat-unread count", hidden: true }),
  );
  tab.addEventListener("click", () => select(id, true));
  tab.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const ids = [...chats.keys()];
    const next = ids[(ids.indexOf(id) + (event.key === "ArrowRight" ? 1 : ids.length - 1)) % ids.length];
    select(next, true);
    $(`chat-tab-${next}`).focus();
  });
  const reply = view.querySelector(".chat-reply");
  reply.id = `chat-reply-${id}`;
  reply.addEventListener("input", () => {
    typing(chat, true);
    renderCount(chat);
  });
  reply.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      view.querySelector(".chat-compose").requestSubmit();
    }
  });
  view.querySelector(".chat-compose").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = reply.value;
    if (!text.trim()) return;
    reply.value = "";
    renderCount(chat);
    typing(chat, false);
    const item = { client_id: newId(), text, pending: true };
    chat.outbox.push(item);
    renderMessage(chat, { sender: "operator", text, client_id: item.client_id, pending: true });
    flush(chat);
  });
  const cannedSelect = view.querySelector(".chat-canned-select");
  view.querySelector(".chat-canned-insert").addEventListener("click", () => {
    const chosen = (canned.get(chat.language) || []).find((c) => c.key === cannedSelect.value);
    if (chosen) insertReply(id, chosen.text);
  });
  view.querySelector(".chat-end").addEventListener("click", () => act(chat, `/api/contacts/${id}/end`));
  view.querySelector(".chat-transfer").addEventListener("click", () => {
    const to = view.querySelector(".chat-transfer-to").value;
    act(chat, `/api/contacts/${id}/transfer`, to ? { to_operator_id: Number(to) } : {});
  });
  view.querySelector(".chat-block").addEventListener("click", () => {
    const minutes = Number(view.querySelector(".chat-block-minutes").value);
    act(chat, `/api/chat/contacts/${id}/block`, { minutes });
  });
  $("chat-tabs").append(tab);
  $("chat-views").append(view);
  chat.view = view;
  chat.tab = tab;
  fillCanned(chat);
  fillTransfer(chat);
  fillBlock(chat);
}

function renderCount(chat) {
  const reply = chat.view.querySelector(".chat-reply");
  const left = 2000 - reply.value.length;
  chat.view.querySelector(".chat-count-left").textContent = left < 200 ? `${left} characters left` : "";
}

function renderHeader(chat) {
  const language = labels.languages ? labels.languages[chat.language] || chat.language : chat.language;
  const topic = chat.topic ? (labels.topics && labels.topics[chat.topic]) || chat.topic : "no topic";
  const title = `Chat · ${language} · ${topic}`;
  chat.view.querySelector(".chat-title").textContent = title;
  chat.tab.querySelector(".chat-tab-title").textContent = `${language} · ${topic}${chat.visitor === "left" ? " (left)" : ""}`;
  const status = chat.view.querySelector(".chat-visitor");
  const quickExit = chat.visitor === "left" && chat.quickExit;
  status.textContent = quickExit ? QUICK_EXIT_LABEL : visitorLabel[chat.visitor] || chat.visitor;
  status.dataset.state = quickExit ? "quick_exit" : chat.visitor;
  const active = chat.contact.state === "active";
  chat.view.dataset.state = chat.contact.state;
  chat.view.querySelector(".chat-compose").hidden = !active;
  chat.view.querySelectorAll(".chat-actions button, .chat-actions select").forEach((node) => { node.disabled = !active; });
  chat.view.querySelector(".chat-block").disabled = !active || !chat.can_block;
  const unread = chat.tab.querySelector(".chat-unread");
  unread.textContent = String(chat.unread);
  unread.hidden = chat.unread === 0;
}

function messageNode(message) {
  const mine = message.sender === "operator";
  const mark = mine ? el("span", { class: "chat-mark" }) : null;
  const node = el(
    "li",
    { class: `chat-msg ${mine ? "chat-mine" : "chat-theirs"}`, "data-seq": message.seq ?? "", "data-client-id": message.client_id || "" },
    el("span", { class: "chat-who" }, mine ? "You: " : "Visitor: "),
    // Plain text: a URL the visitor writes stays text the operator can read, never a link.
    el("span", { class: "chat-text" }, message.text),
    " ",
    el("time", { class: "muted" }, message.at ? new Date(message.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : ""),
  );
  if (mark) {
    node.append(" ", mark);
    mark.textContent = message.pending ? "sending…" : message.delivered ? "delivered" : "sent";
    mark.dataset.state = message.pending ? "sending" : message.delivered ? "delivered" : "sent";
  }
  return node;
}

function renderMessage(chat, message) {
  const log = chat.view.querySelector(".chat-log");
  if (message.seq !== undefined) {
    if (chat.messages.has(message.seq)) return;
    chat.messages.set(message.seq, message);
    const pending = message.client_id ? log.querySelector(`li[data-client-id="${CSS.escape(message.client_id)}"][data-seq=""]`) : null;
    if (pending) pending.remove();
    chat.outbox = chat.outbox.filter((m) => m.client_id !== message.client_id);
  }
  const node = messageNode(message);
  const later = message.seq === undefined ? null : [...log.querySelectorAll("li[data-seq]")].find((li) => li.dataset.seq !== "" && Number(li.dataset.seq) > message.seq);
  const firstPending = message.seq === undefined ? null : log.querySelector('li[data-seq=""]');
  log.insertBefore(node, later || firstPending || null);
  const box = chat.view.querySelector(".chat-log-box");
  box.scrollTop = box.scrollHeight;
  if (message.sender === "visitor" && message.seq !== undefined) {
    chat.view.querySelector(".chat-typing").textContent = "";
    if (!message.delivered) deliver(chat, message.seq);
    if (selected !== chat.contact.id || document.hidden) {
      chat.unread += 1;
      renderHeader(chat);
    }
  }
}

function markDelivered(chat, seqs) {
  const log = chat.view.querySelector(".chat-log");
  for (const seq of seqs) {
    const message = chat.messages.get(seq);
    if (message) message.delivered = true;
    const mark = log.querySelector(`li[data-seq="${seq}"] .chat-mark`);
    if (mark) {
      mark.textContent = "delivered";
      mark.dataset.state = "delivered";
    }
  }
}

// ------------------------------------------------------------------ talking to the server

async function flush(chat) {
  if (chat.sending) return;
  const item = chat.outbox[0];
  if (!item) return;
  chat.sending = true;
  try {
    const data = await api("POST", `/api/chat/contacts/${chat.contact.id}/messages`, { client_id: item.client_id, text: item.text });
    chat.sending = false;
    renderMessage(chat, data.message);
    flush(chat);
  } catch (err) {
    chat.sending = false;
    if (err.status && err.status < 500 && err.status !== 429) {
      // Refused for good (the chat ended, too long): say so and drop it.
      chat.outbox.shift();
      const node = chat.view.querySelector(`li[data-client-id="${CSS.escape(item.client_id)}"][data-seq=""]`);
      if (node) node.remove();
      showError(err.message);
      flush(chat);
    } else {
      // Not stored: keep it and try again (the same client_id is never stored twice).
      setTimeout(() => flush(chat), 2000);
    }
  }
}

async function deliver(chat, seq) {
  chat.toDeliver.push(seq);
  if (chat.toDeliver.length > 1) return;
  await Promise.resolve();
  const seqs = chat.toDeliver;
  chat.toDeliver = [];
  try {
    await api("POST", `/api/chat/contacts/${chat.contact.id}/delivered`, { seqs });
  } catch {
    /* marks are a courtesy; the next message carries on */
  }
}

function typing(chat, on) {
  const now = Date.now();
  if (on) {
    if (now - chat.lastTyping > TYPING_EVERY_MS) {
      chat.lastTyping = now;
      api("POST", `/api/chat/contacts/${chat.contact.id}/typing`, { typing: true }).catch(() => {});
    }
    clearTimeout(chat.typingTimer);
    chat.typingTimer = setTimeout(() => typing(chat, false), TYPING_IDLE_MS);
  } else {
    clearTimeout(chat.typingTimer);
    if (chat.lastTyping) api("POST", `/api/chat/contacts/${chat.contact.id}/typing`, { typing: false }).catch(() => {});
    chat.lastTyping = 0;
  }
}

async function act(chat, url, body) {
  try {
    showError("");
    const data = await api("POST", url, body);
    consoleApi.refresh();
    return data;
  } catch (err) {
    showError(err.message);
    return null;
  }
}

// ------------------------------------------------------------------ the list of chats

function upsertChat(state) {
  const id = state.contact.id;
  let chat = chats.get(id);
  if (!chat) {
    chat = { contact: state.contact, messages: new Map(), outbox: [], unread: 0, toDeliver: [], lastTyping: 0, sending: false };
    chats.set(id, chat);
    chat.language = state.language;
    chat.topic = state.topic;
    chat.visitor = state.visitor;
    chat.can_block = state.can_block;
    createView(chat);
    loadCanned(chat);
  }
  chat.contact = state.contact;
  chat.visitor = state.visitor;
  chat.can_block = state.can_block;
  if (state.left_reason === "quick_exit") chat.quickExit = true;
  for (const message of state.messages || []) renderMessage(chat, message);
  renderHeader(chat);
  if (selected === null || !chats.has(selected)) select(id, false);
  renderList();
  return chat;
}

function removeChat(id) {
  const chat = chats.get(id);
  if (!chat) return;
  chat.view.remove();
  chat.tab.remove();
  chats.delete(id);
  if (selected === id) {
    selected = null;
    const first = chats.keys().next();
    if (!first.done) select(first.value, false);
  }
  renderList();
}

function renderList() {
  $("chat-count").textContent = String(chats.size);
  $("chat-empty").hidden = chats.size > 0;
  panel.dataset.chats = String(chats.size);
}

function select(id, focus) {
  selected = id;
  // The console's other panels (knowledge base, referrals) follow the chat in view.
  if (consoleApi) consoleApi.select(id);
  for (const [cid, chat] of chats) {
    const on = cid === id;
    chat.view.hidden = !on;
    chat.tab.setAttribute("aria-selected", String(on));
    chat.tab.tabIndex = on ? 0 : -1;
    if (on) {
      chat.unread = 0;
      renderHeader(chat);
    }
  }
  if (focus) {
    const chat = chats.get(id);
    const reply = chat && chat.view.querySelector(".chat-reply");
    if (reply && !chat.view.querySelector(".chat-compose").hidden) reply.focus();
  }
}

async function loadChat(contactId) {
  try {
    const state = await api("GET", `/api/chat/contacts/${contactId}`);
    upsertChat(state);
  } catch (err) {
    if (err.status !== 403 && err.status !== 404) showError(err.message);
  }
}

async function syncAll() {
  try {
    const data = await api("GET", "/api/chat/conversations");
    blockDurations = data.block_durations || blockDurations;
    const seen = new Set();
    for (const state of data.chats) {
      seen.add(state.contact.id);
      upsertChat(state);
    }
    for (const id of [...chats.keys()]) if (!seen.has(id)) removeChat(id);
    for (const chat of chats.values()) fillBlock(chat);
    panel.dataset.ready = "1";
  } catch (err) {
    showError(err.message);
  }
  loadColleagues();
  heartbeat();
}

async function loadCanned(chat) {
  if (!canned.has(chat.language)) {
    canned.set(chat.language, []);
    try {
      const data = await api("GET", `/api/chat/canned?language=${encodeURIComponent(chat.language)}`);
      canned.set(chat.language, data.responses);
    } catch {
      canned.delete(chat.language);
    }
  }
  for (const other of chats.values()) if (other.language === chat.language) fillCanned(other);
}

function fillCanned(chat) {
  const select = chat.view.querySelector(".chat-canned-select");
  const items = canned.get(chat.language) || [];
  select.replaceChildren(el("option", { value: "" }, "Choose…"), ...items.map((c) => el("option", { value: c.key }, c.title)));
}

async function loadColleagues() {
  try {
    const data = await api("GET", "/api/chat/colleagues");
    colleagues = data.colleagues;
  } catch {
    colleagues = [];
  }
  for (const chat of chats.values()) fillTransfer(chat);
}

function fillTransfer(chat) {
  const select = chat.view.querySelector(".chat-transfer-to");
  select.replaceChildren(el("option", { value: "" }, "the queue"), ...colleagues.map((c) => el("option", { value: c.id }, c.display_name)));
}

function fillBlock(chat) {
  const select = chat.view.querySelector(".chat-block-minutes");
  const options = blockDurations.map((m) => el("option", { value: m }, m % 60 === 0 ? `${m / 60} h` : `${m} min`));
  select.replaceChildren(...options);
}

function heartbeat() {
  if (consoleApi && consoleApi.socket.connected && chats.size > 0) consoleApi.socket.emit("chat.heartbeat");
}

// Text from elsewhere (the knowledge base's referral details) goes into a reply, for the
// operator to read and send; it is never sent on its own.
function insertReply(contactId, text) {
  const chat = chats.get(Number(contactId));
  if (!chat || typeof text !== "string") return false;
  select(chat.contact.id, false);
  const reply = chat.view.querySelector(".chat-reply");
  const start = reply.selectionStart ?? reply.value.length;
  const end = reply.selectionEnd ?? reply.value.length;
  reply.value = reply.value.slice(0, start) + text + reply.value.slice(end);
  reply.focus();
  reply.selectionStart = reply.selectionEnd = start + text.length;
  renderCount(chat);
  return true;
}

// ------------------------------------------------------------------ wiring to the console

function attach(handle) {
  if (consoleApi) return;
  consoleApi = handle;
  const socket = handle.socket;
  socket.on("connect", syncAll);
  socket.on("chat.message", (m) => {
    const chat = chats.get(m.contact_id);
    if (chat) renderMessage(chat, m);
    else loadChat(m.contact_id);
  });
  socket.on("chat.typing", (data) => {
    const chat = chats.get(data.contact_id);
    if (!chat) return;
    const line = chat.view.querySelector(".chat-typing");
    line.textContent = data.typing ? "Visitor is typing…" : "";
    clearTimeout(chat.theirTyping);
    if (data.typing) chat.theirTyping = setTimeout(() => { line.textContent = ""; }, 6000);
  });
  socket.on("chat.delivered", (data) => {
    const chat = chats.get(data.contact_id);
    if (chat) markDelivered(chat, data.seqs);
  });
  socket.on("chat.visitor", (data) => {
    const chat = chats.get(data.contact_id);
    if (!chat) return;
    chat.visitor = data.status;
    if (data.reason === "quick_exit") chat.quickExit = true;
    if (data.status === "left") chat.view.querySelector(".chat-typing").textContent = "";
    renderHeader(chat);
  });
  if (socket.connected) syncAll();
  setInterval(heartbeat, HEARTBEAT_MS);
}

document.addEventListener("helpline:contact", (event) => {
  const contact = event.detail;
  if (!consoleApi || contact.channel !== "chat") return;
  const held = contact.operator_id === consoleApi.myId && (contact.state === "active" || contact.state === "wrap_up");
  const chat = chats.get(contact.id);
  if (held && !chat) loadChat(contact.id);
  else if (held && chat) {
    chat.contact = contact;
    renderHeader(chat);
  } else if (!held && chat) removeChat(contact.id);
});

document.addEventListener("helpline:selected", (event) => {
  const contact = event.detail;
  if (contact && chats.has(contact.id) && selected !== contact.id) select(contact.id, false);
});

document.addEventListener("helpline:insert-reply", (event) => {
  const detail = event.detail || {};
  insertReply(detail.contactId, detail.text);
});

window.helplineChat = { insertReply, chats };
if (window.helplineConsole) attach(window.helplineConsole);
else document.addEventListener("helpline:ready", (event) => attach(event.detail), { once: true });
