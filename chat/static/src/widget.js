// The visitor's chat widget. One <script src=".../chat/widget.js"> embeds it on any allowed site;
// the standalone /chat page loads the same script with data-mode="page".
//
// Safety rules kept throughout: every text is set with textContent (never parsed as HTML, never a
// link); the only storage is sessionStorage (the resume token, never a cookie), and quick exit wipes
// it; every request goes to the helpline's own origin, none to a third party.
import { io } from "socket.io-client";

const script = document.currentScript;
const BASE = new URL(script.src, location.href).origin;
const MODE = script.dataset.mode === "page" ? "page" : "embed";
const STORE = "helpline-chat:";
const ESC_PRESSES = 3;
const ESC_WINDOW_MS = 2000;
const TYPING_EVERY_MS = 2000;
const TYPING_IDLE_MS = 3000;
const ACK_TIMEOUT_MS = 10000;

// ------------------------------------------------------------------ storage (sessionStorage only)

const storage = {
  get(key) {
    try {
      return window.sessionStorage.getItem(STORE + key);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      if (value === null || value === undefined) window.sessionStorage.removeItem(STORE + key);
      else window.sessionStorage.setItem(STORE + key, value);
    } catch {
      /* storage refused: the chat still works, it just cannot resume after a reload */
    }
  },
  clear() {
    try {
      const keys = [];
      for (let i = 0; i < window.sessionStorage.length; i += 1) {
        const key = window.sessionStorage.key(i);
        if (key && key.startsWith(STORE)) keys.push(key);
      }
      keys.forEach((key) => window.sessionStorage.removeItem(key));
    } catch {
      /* nothing stored */
    }
  },
};

// ------------------------------------------------------------------ state

const state = {
  config: null,
  language: storage.get("lang") || script.dataset.language || navigator.language || "",
  token: storage.get("token"),
  view: "loading",
  status: null,
  messages: new Map(), // seq → message
  outbox: loadOutbox(),
  queue: null,
  socket: null,
  resumed: false,
  sending: false,
  pendingStart: null,
  endedByYou: false,
  survey: false,
};

function loadOutbox() {
  try {
    const items = JSON.parse(storage.get("outbox") || "[]");
    return Array.isArray(items) ? items.filter((m) => m && m.client_id && typeof m.text === "string") : [];
  } catch {
    return [];
  }
}

function saveOutbox() {
  storage.set("outbox", state.outbox.length ? JSON.stringify(state.outbox.map(({ client_id, text }) => ({ client_id, text }))) : null);
}

const t = (key, values = {}) => {
  const text = (state.config && state.config.strings[key]) || key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
};

const newId = () => {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
};

// ------------------------------------------------------------------ DOM helpers (text only)

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Elements whose text follows the language: data-t names the string.
const tr = (tag, key, attrs = {}) => h(tag, { ...attrs, "data-t": key });

// ------------------------------------------------------------------ the shell

const host = MODE === "page" ? document.getElementById(script.dataset.target || "") : null;
const mount = host || document.body.appendChild(h("div", { id: "helpline-chat-widget" }));
const shadow = mount.attachShadow({ mode: "open" });
const stylesheet = h("link", { rel: "stylesheet", href: `${BASE}/chat/static/css/widget.css` });
const root = h("div", { class: `hc-root hc-${MODE}`, hidden: true });
shadow.append(stylesheet, root);
stylesheet.addEventListener("load", () => { root.hidden = false; });
setTimeout(() => { root.hidden = false; }, 3000);

const ui = {};
const headingTag = MODE === "page" ? "h1" : "h2";

ui.launcher = MODE === "embed" ? tr("button", "launcher", { type: "button", class: "hc-launcher", "aria-expanded": "false", "aria-controls": "hc-panel" }) : null;
ui.title = h(headingTag, { id: "hc-title", class: "hc-title" });
ui.exit = tr("button", "quick_exit", { type: "button", class: "hc-exit" });
ui.minimise = MODE === "embed" ? h("button", { type: "button", class: "hc-minimise", "data-t-label": "minimise" }, "–") : null;
ui.conn = h("p", { class: "hc-conn", role: "status" });

// Start: language, optional topic, the privacy notice. No name, e-mail or phone is ever asked.
ui.language = h("select", { id: "hc-language", name: "language" });
ui.topic = h("select", { id: "hc-topic", name: "topic" });
ui.startError = h("p", { class: "hc-error", role: "alert", hidden: true });
ui.startButton = tr("button", "start", { type: "submit", class: "hc-primary" });
ui.startForm = h(
  "form",
  { class: "hc-start", novalidate: true },
  tr("p", "intro", { class: "hc-intro" }),
  h("div", { class: "hc-field" }, tr("label", "language", { for: "hc-language" }), ui.language),
  h("div", { class: "hc-field" }, tr("label", "topic", { for: "hc-topic" }), ui.topic),
  h("section", { class: "hc-privacy", "aria-labelledby": "hc-privacy-h" }, tr("h3", "privacy_heading", { id: "hc-privacy-h" }), tr("p", "privacy")),
  ui.startError,
  ui.startButton,
  // Someone in danger may open the chat first: the emergency number is there from the start.
  tr("p", "emergency", { class: "hc-emergency hc-emergency-start" }),
);

// Out of hours: the hours, the emergency number and the alternatives, instead of the chat.
ui.hours = h("table", { class: "hc-hours" });
ui.emergency = h("p", { class: "hc-emergency" });
ui.alternatives = h("p", { class: "hc-alternatives" });
ui.closedView = h(
  "section",
  { class: "hc-view", "data-view": "closed", "aria-labelledby": "hc-closed-h", hidden: true },
  tr("h3", "closed_heading", { id: "hc-closed-h", tabindex: "-1" }),
  ui.emergency,
  ui.alternatives,
  tr("h4", "hours_heading"),
  ui.hours,
);

// The conversation.
ui.queueBox = h("div", { class: "hc-queue", role: "status", "aria-live": "polite" });
ui.log = h("ol", { class: "hc-log" });
// The live region wraps the list, so the messages keep their list semantics.
ui.logBox = h("div", { class: "hc-log-box", role: "log", "aria-live": "polite", "aria-relevant": "additions", "data-t-label": "log" }, ui.log);
ui.typing = h("p", { class: "hc-typing", "aria-live": "polite" });
ui.notice = h("p", { class: "hc-notice", role: "alert", hidden: true });
ui.input = h("textarea", { id: "hc-message", rows: "3", class: "hc-input" });
ui.counter = h("p", { class: "hc-counter", "aria-live": "polite", id: "hc-counter" });
ui.send = tr("button", "send", { type: "submit", class: "hc-primary" });
ui.end = tr("button", "end", { type: "button", class: "hc-secondary" });
ui.compose = h(
  "form",
  { class: "hc-compose", novalidate: true },
  tr("label", "message", { for: "hc-message" }),
  ui.input,
  ui.counter,
  h("div", { class: "hc-row" }, ui.send, ui.end),
);
ui.chatView = h(
  "section",
  { class: "hc-view", "data-view": "chat", hidden: true },
  ui.queueBox,
  ui.logBox,
  ui.typing,
  ui.notice,
  ui.compose,
);

// After the chat: an optional anonymous survey, and a case reference for those who want one.
ui.endedText = h("p", { class: "hc-ended-text" });
ui.surveyForm = h("form", { class: "hc-survey", novalidate: true });
ui.caseRef = h("input", { type: "checkbox", id: "hc-case-ref" });
ui.caseRefBox = h(
  "div",
  { class: "hc-case-ref" },
  h("div", { class: "hc-check" }, ui.caseRef, tr("label", "case_ref_label", { for: "hc-case-ref" })),
  tr("p", "case_ref_note", { class: "hc-small" }),
);
ui.caseRefResult = h("p", { class: "hc-case-ref-result", role: "status", hidden: true });
ui.thanks = tr("p", "thanks", { class: "hc-thanks", hidden: true, tabindex: "-1" });
ui.newChat = tr("button", "new_chat", { type: "button", class: "hc-secondary", hidden: true });
ui.endedHeading = tr("h3", "ended_heading", { id: "hc-ended-h", tabindex: "-1" });
ui.endedView = h(
  "section",
  { class: "hc-view", "data-view": "ended", "aria-labelledby": "hc-ended-h", hidden: true },
  ui.endedHeading,
  ui.endedText,
  ui.surveyForm,
  ui.caseRefResult,
  ui.thanks,
  ui.newChat,
);

ui.blockedView = h(
  "section",
  { class: "hc-view", "data-view": "blocked", hidden: true },
  tr("p", "blocked", { class: "hc-blocked", tabindex: "-1" }),
  h("p", { class: "hc-emergency hc-emergency-blocked" }),
);

ui.startView = h("section", { class: "hc-view", "data-view": "start", hidden: true }, ui.startForm);
ui.loading = h("p", { class: "hc-view", "data-view": "loading" }, "…");

ui.panel = h(
  "section",
  { class: "hc-panel", id: "hc-panel", "aria-labelledby": "hc-title", hidden: MODE === "embed" },
  h(
    "header",
    { class: "hc-header" },
    ui.title,
    h("div", { class: "hc-header-buttons" }, ui.exit, ui.minimise),
  ),
  tr("p", "quick_exit_hint", { class: "hc-exit-hint" }),
  ui.conn,
  h("div", { class: "hc-body" }, ui.loading, ui.startView, ui.closedView, ui.chatView, ui.endedView, ui.blockedView),
);
root.append(...[ui.launcher, ui.panel].filter(Boolean));

// ------------------------------------------------------------------ texts and views

function applyTexts() {
  const cfg = state.config;
  root.setAttribute("lang", cfg.language);
  root.setAttribute("dir", cfg.dir);
  ui.title.textContent = t("title");
  if (MODE === "page") document.title = t("page_title");
  root.querySelectorAll("[data-t]").forEach((node) => { node.textContent = t(node.dataset.t); });
  root.querySelectorAll("[data-t-label]").forEach((node) => { node.setAttribute("aria-label", t(node.dataset.tLabel)); });
  ui.language.replaceChildren(
    ...cfg.languages.map((lang) => h("option", { value: lang.code, lang: lang.code, selected: lang.code === cfg.language }, lang.name)),
  );
  ui.topic.replaceChildren(
    h("option", { value: "" }, t("topic_none")),
    ...cfg.topics.map((topic) => h("option", { value: topic.code }, topic.label)),
  );
  ui.input.maxLength = cfg.max_length;
  ui.emergency.textContent = t("emergency");
  shadow.querySelector(".hc-emergency-blocked").textContent = t("emergency");
  ui.alternatives.textContent = cfg.alternatives || "";
  ui.hours.replaceChildren(
    ...cfg.hours.map((row) => h("tr", {}, h("th", { scope: "row" }, row.day), h("td", {}, row.hours))),
  );
  renderSurvey();
  renderQueue();
  renderCounter();
}

function showView(name, { focus = false } = {}) {
  state.view = name;
  shadow.querySelectorAll(".hc-view").forEach((node) => { node.hidden = node.dataset.view !== name; });
  if (focus && isOpen()) focusView();
}

function focusView() {
  const target = {
    start: ui.language,
    closed: shadow.getElementById("hc-closed-h"),
    chat: ui.input,
    ended: ui.endedHeading,
    blocked: shadow.querySelector(".hc-blocked"),
  }[state.view];
  if (target) target.focus();
}

function showConnection(down) {
  ui.conn.textContent = down ? t("reconnecting") : "";
  ui.conn.hidden = !down;
}

function showNotice(text) {
  ui.notice.textContent = text || "";
  ui.notice.hidden = !text;
}

// ------------------------------------------------------------------ the conversation's log

function formatTime(iso) {
  try {
    return new Date(iso).toLocaleTimeString(state.config.language, { hour: "2-digit", minute: "2-digit" });
  } catch {
    return "";
  }
}

function messageNode(message) {
  const mine = message.sender === "visitor";
  const mark = mine ? h("span", { class: "hc-mark" }) : null;
  const node = h(
    "li",
    { class: `hc-msg ${mine ? "hc-mine" : "hc-theirs"}`, "data-seq": message.seq ?? "", "data-client-id": message.client_id || "" },
    h("span", { class: "hc-who" }, `${mine ? t("you") : t("helpline")}: `),
    h("p", { class: "hc-text" }, message.text),
    h("span", { class: "hc-meta" }, h("time", {}, message.at ? formatTime(message.at) : ""), mark ? " " : "", mark),
  );
  updateMark(node, message);
  return node;
}

function updateMark(node, message) {
  const mark = node.querySelector(".hc-mark");
  if (!mark) return;
  let key = "sent";
  if (message.pending === "queued") key = "queued_offline";
  else if (message.pending) key = "sending";
  else if (message.delivered) key = "delivered";
  mark.textContent = t(key);
  mark.dataset.state = key;
}

function systemLine(key) {
  ui.log.append(h("li", { class: "hc-system" }, t(key)));
}

function addMessage(message) {
  if (state.messages.has(message.seq)) return;
  const pendingIndex = message.client_id ? state.outbox.findIndex((m) => m.client_id === message.client_id) : -1;
  if (pendingIndex >= 0) {
    state.outbox.splice(pendingIndex, 1);
    saveOutbox();
    const pendingNode = ui.log.querySelector(`li[data-client-id="${CSS.escape(message.client_id)}"][data-seq=""]`);
    if (pendingNode) pendingNode.remove();
  }
  state.messages.set(message.seq, message);
  const node = messageNode(message);
  // Keep the log in the conversation's order; messages almost always arrive in it.
  const later = [...ui.log.querySelectorAll("li.hc-msg[data-seq]")].find((li) => li.dataset.seq !== "" && Number(li.dataset.seq) > message.seq);
  const firstPending = ui.log.querySelector('li.hc-msg[data-seq=""]');
  ui.log.insertBefore(node, later || firstPending || null);
  if (message.sender === "operator") {
    ui.typing.textContent = "";
    acknowledge(message.seq);
  }
  scrollLog();
}

function renderPending(item) {
  let node = ui.log.querySelector(`li[data-client-id="${CSS.escape(item.client_id)}"][data-seq=""]`);
  if (!node) {
    node = messageNode({ sender: "visitor", text: item.text, client_id: item.client_id, pending: item.state || true });
    ui.log.append(node);
  }
  updateMark(node, { pending: item.state === "queued" ? "queued" : true });
  scrollLog();
}

function scrollLog() {
  ui.logBox.scrollTop = ui.logBox.scrollHeight;
}

let toAcknowledge = [];
function acknowledge(seq) {
  toAcknowledge.push(seq);
  if (toAcknowledge.length > 1) return;
  queueMicrotask(() => {
    const seqs = toAcknowledge;
    toAcknowledge = [];
    if (state.socket && state.socket.connected) state.socket.emit("delivered", { seqs });
  });
}

function markDelivered(seqs) {
  for (const seq of seqs) {
    const message = state.messages.get(seq);
    if (!message) continue;
    message.delivered = true;
    const node = ui.log.querySelector(`li[data-seq="${seq}"]`);
    if (node) updateMark(node, message);
  }
}

function renderQueue() {
  if (!state.config) return;
  const waiting = state.status === "waiting" && state.queue;
  ui.queueBox.hidden = state.status !== "waiting";
  if (state.status !== "waiting") return;
  const lines = [h("strong", {}, t("waiting_heading"))];
  if (waiting) {
    lines.push(h("span", { class: "hc-position" }, t("position", { position: state.queue.position })));
    const minutes = Math.ceil(state.queue.estimated_wait_seconds / 60);
    lines.push(h("span", { class: "hc-estimate" }, minutes <= 1 ? t("wait_soon") : t("wait_minutes", { minutes })));
  }
  lines.push(h("span", { class: "hc-small" }, t("wait_note")));
  lines.push(h("span", { class: "hc-emergency hc-emergency-waiting" }, t("emergency")));
  ui.queueBox.replaceChildren(...lines.map((line) => h("p", {}, line)));
}

function renderCounter() {
  if (!state.config) return;
  const left = state.config.max_length - ui.input.value.length;
  ui.counter.textContent = left <= 200 ? t("chars_left", { count: left }) : "";
}

// ------------------------------------------------------------------ status changes

function setStatus(status, { transferred = false, survey = false } = {}) {
  const previous = state.status;
  state.status = status;
  if (status === "waiting" || status === "active") {
    if (state.view !== "chat") showView("chat", { focus: true });
    if (status === "active" && previous !== "active") {
      systemLine("connected");
      ui.input.focus();
    }
    if (status === "waiting" && transferred) systemLine("transferred");
    ui.compose.hidden = false;
    renderQueue();
    return;
  }
  if (status === "ended" || status === "closed") {
    state.survey = survey;
    showEnded(state.endedByYou ? "ended_by_you" : "ended_by_operator");
    return;
  }
  if (status === "blocked") {
    forget();
    showView("blocked", { focus: true });
  }
}

function showEnded(reasonKey) {
  ui.typing.textContent = "";
  ui.endedText.textContent = t(reasonKey);
  const hasSurvey = state.survey && state.config.survey.length > 0;
  ui.surveyForm.hidden = !hasSurvey;
  ui.thanks.hidden = hasSurvey;
  ui.newChat.hidden = hasSurvey;
  if (!hasSurvey) forget();
  if (state.view !== "ended") showView("ended", { focus: true });
}

function renderSurvey() {
  const cfg = state.config;
  const groups = cfg.survey.map((question, index) =>
    h(
      "fieldset",
      { class: "hc-question" },
      h("legend", {}, question.question),
      ...question.answers.map((answer) =>
        h(
          "div",
          { class: "hc-check" },
          h("input", { type: "radio", name: question.key, value: answer.code, id: `hc-q${index}-${answer.code}` }),
          h("label", { for: `hc-q${index}-${answer.code}` }, answer.label),
        ),
      ),
    ),
  );
  ui.surveyForm.replaceChildren(
    tr("h4", "survey_heading", { text: t("survey_heading") }),
    tr("p", "survey_note", { class: "hc-small", text: t("survey_note") }),
    ...groups,
    ...(cfg.case_reference ? [ui.caseRefBox] : []),
    h(
      "div",
      { class: "hc-row" },
      tr("button", "survey_send", { type: "submit", class: "hc-primary", text: t("survey_send") }),
      tr("button", "survey_skip", { type: "button", class: "hc-secondary hc-skip", text: t("survey_skip"), onclick: finishSurvey }),
    ),
  );
}

function finishSurvey() {
  ui.surveyForm.hidden = true;
  ui.thanks.hidden = false;
  ui.newChat.hidden = false;
  forget();
  ui.thanks.focus();
}

ui.surveyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const answers = {};
  for (const question of state.config.survey) {
    const chosen = ui.surveyForm.querySelector(`input[name="${CSS.escape(question.key)}"]:checked`);
    if (chosen) answers[question.key] = chosen.value;
  }
  const wantsReference = ui.caseRef.checked;
  const socket = connect();
  socket.timeout(ACK_TIMEOUT_MS).emit("survey", { answers, token: state.token, case_reference: wantsReference }, (err, answer) => {
    if (wantsReference) {
      const ref = !err && answer && answer.case_reference;
      ui.caseRefResult.textContent = ref ? t("case_ref_given", { ref }) : t("case_ref_unavailable");
      ui.caseRefResult.hidden = false;
    }
    finishSurvey();
  });
});

ui.newChat.addEventListener("click", () => {
  state.messages.clear();
  state.outbox = [];
  state.status = null;
  state.endedByYou = false;
  state.resumed = false;
  ui.log.replaceChildren();
  ui.caseRefResult.hidden = true;
  if (state.socket) {
    state.socket.disconnect();
    state.socket = null;
  }
  showView(state.config.open ? "start" : "closed", { focus: true });
});

// Drop what this device knows of the chat (the conversation itself is the server's to delete).
function forget() {
  state.token = null;
  state.outbox = [];
  storage.set("token", null);
  storage.set("outbox", null);
}

// ------------------------------------------------------------------ the socket

function connect() {
  if (state.socket) return state.socket;
  const socket = io(`${BASE}/chat`, {
    transports: ["websocket"],
    withCredentials: false,
    reconnectionDelay: 500,
    reconnectionDelayMax: 3000,
  });
  state.socket = socket;
  socket.on("connect", onConnect);
  socket.on("disconnect", () => {
    state.resumed = false;
    state.sending = false;
    showConnection(true);
  });
  socket.on("connect_error", (err) => {
    const code = err && (err.data && err.data.code ? err.data.code : err.message);
    if (code === "blocked") {
      socket.disconnect();
      state.socket = null;
      setStatus("blocked");
    } else {
      showConnection(true);
    }
  });
  socket.on("chat.widget.message", addMessage);
  socket.on("chat.widget.delivered", (data) => markDelivered(data.seqs));
  socket.on("chat.widget.typing", (data) => {
    ui.typing.textContent = data.typing ? t("typing") : "";
    clearTimeout(state.typingTimer);
    if (data.typing) state.typingTimer = setTimeout(() => { ui.typing.textContent = ""; }, 6000);
  });
  socket.on("chat.widget.queue", (data) => {
    state.queue = data;
    renderQueue();
  });
  socket.on("chat.widget.status", (data) => setStatus(data.status, data));
  return socket;
}

function onConnect() {
  showConnection(false);
  const socket = state.socket;
  if (state.token) {
    socket.timeout(ACK_TIMEOUT_MS).emit("resume", { token: state.token }, (err, answer) => {
      if (err) return; // the reconnect will try again
      if (!answer.ok) {
        if (answer.survey) {
          state.survey = true;
          showEnded("ended_by_you");
        } else {
          forget();
          showView(state.config.open ? "start" : "closed", { focus: true });
          showStartError(t("expired"));
        }
        return;
      }
      state.resumed = true;
      (answer.messages || []).forEach((m) => addMessage(m));
      state.outbox.forEach((item) => renderPending(item));
      if (answer.queue) state.queue = answer.queue;
      setStatus(answer.status, { survey: answer.survey });
      flush();
    });
  } else if (state.pendingStart) {
    const request = state.pendingStart;
    socket.timeout(ACK_TIMEOUT_MS).emit("start", request, (err, answer) => {
      ui.startButton.disabled = false;
      if (err) {
        showStartError(t("error"));
        return;
      }
      if (!answer.ok) {
        state.pendingStart = null;
        if (answer.error === "out_of_hours") showView("closed", { focus: true });
        else showStartError(answer.error === "rate_limited" ? t("rate_limited") : answer.message || t("error"));
        return;
      }
      state.pendingStart = null;
      state.token = answer.token;
      storage.set("token", answer.token);
      state.resumed = true;
      state.queue = answer.queue || null;
      setStatus("waiting");
      flush();
    });
  }
}

function showStartError(text) {
  ui.startError.textContent = text;
  ui.startError.hidden = !text;
}

// Messages go one at a time, each only counted as sent once the server has stored it.
function flush() {
  const socket = state.socket;
  if (state.sending || !socket || !socket.connected || !state.resumed) return;
  // Strictly first in, first out: a message held back by the rate limit holds back the rest.
  const item = state.outbox[0];
  if (!item || item.state === "slowed") return;
  state.sending = true;
  item.state = undefined;
  renderPending(item);
  socket.timeout(ACK_TIMEOUT_MS).emit("message", { client_id: item.client_id, text: item.text }, (err, answer) => {
    state.sending = false;
    if (err) {
      item.state = "queued";
      renderPending(item);
      return; // resent after the reconnect
    }
    if (answer.ok) {
      showNotice("");
      addMessage({ seq: answer.seq, sender: "visitor", text: item.text, at: answer.at, client_id: item.client_id });
      flush();
      return;
    }
    if (answer.error === "rate_limited") {
      item.state = "slowed";
      showNotice(t("rate_limited"));
      setTimeout(() => {
        item.state = undefined;
        flush();
      }, Math.max(500, answer.retry_after * 1000));
      return;
    }
    // Refused for good (too long, chat over): take it out of the queue and say why.
    state.outbox = state.outbox.filter((m) => m !== item);
    saveOutbox();
    const node = ui.log.querySelector(`li[data-client-id="${CSS.escape(item.client_id)}"][data-seq=""]`);
    if (node) node.remove();
    showNotice(answer.error === "validation_failed" ? t("too_long") : answer.message || t("error"));
    flush();
  });
}

// ------------------------------------------------------------------ user actions

ui.startForm.addEventListener("submit", (event) => {
  event.preventDefault();
  showStartError("");
  ui.startButton.disabled = true;
  state.pendingStart = { language: ui.language.value, topic: ui.topic.value || null };
  storage.set("lang", ui.language.value);
  const socket = connect();
  if (socket.connected) onConnect();
});

ui.language.addEventListener("change", async () => {
  storage.set("lang", ui.language.value);
  state.language = ui.language.value;
  await loadConfig();
  ui.language.focus();
});

ui.compose.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.input.value;
  if (!text.trim()) return;
  if (text.length > state.config.max_length) {
    showNotice(t("too_long"));
    return;
  }
  const item = { client_id: newId(), text };
  state.outbox.push(item);
  saveOutbox();
  ui.input.value = "";
  renderCounter();
  sendTyping(false);
  renderPending(item);
  if (!state.socket || !state.socket.connected) {
    item.state = "queued";
    renderPending(item);
  }
  flush();
  ui.input.focus();
});

ui.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.compose.requestSubmit();
  }
});

let lastTyping = 0;
let typingTimer = null;
function sendTyping(typing) {
  const socket = state.socket;
  if (!socket || !socket.connected || state.status !== "active") return;
  if (typing) {
    const now = Date.now();
    if (now - lastTyping > TYPING_EVERY_MS) {
      lastTyping = now;
      socket.emit("typing", { typing: true });
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => sendTyping(false), TYPING_IDLE_MS);
  } else {
    clearTimeout(typingTimer);
    if (lastTyping) socket.emit("typing", { typing: false });
    lastTyping = 0;
  }
}

ui.input.addEventListener("input", () => {
  renderCounter();
  sendTyping(true);
});

ui.end.addEventListener("click", () => {
  state.endedByYou = true;
  const socket = state.socket;
  if (!socket || !socket.connected) {
    forget();
    showEnded("ended_by_you");
    return;
  }
  socket.timeout(ACK_TIMEOUT_MS).emit("leave", {}, (err, answer) => {
    state.survey = !err && answer && answer.survey;
    showEnded("ended_by_you");
  });
});

// Quick exit: tell the helpline (best effort, never waited for), wipe this tab's traces, and
// replace the page so that Back does not come back here.
function quickExit() {
  const token = state.token;
  try {
    if (token) navigator.sendBeacon(`${BASE}/chat/api/leave`, token);
  } catch {
    /* the page goes anyway */
  }
  try {
    // The reason tells the operator the visitor fled, whichever of the two arrives first.
    if (state.socket) state.socket.emit("leave", { reason: "quick_exit" });
  } catch {
    /* the page goes anyway */
  }
  storage.clear();
  const target = (state.config && state.config.helpline.quick_exit_url) || "about:blank";
  window.location.replace(target);
}

ui.exit.addEventListener("click", quickExit);
let escapes = [];
window.addEventListener(
  "keydown",
  (event) => {
    if (event.key !== "Escape") return;
    const now = Date.now();
    escapes = escapes.filter((at) => now - at < ESC_WINDOW_MS);
    escapes.push(now);
    if (escapes.length >= ESC_PRESSES) quickExit();
  },
  true,
);

function isOpen() {
  return MODE === "page" || !ui.panel.hidden;
}

function setOpen(open) {
  if (MODE === "page") return;
  ui.panel.hidden = !open;
  ui.launcher.hidden = open;
  ui.launcher.setAttribute("aria-expanded", String(open));
  storage.set("open", open ? "1" : null);
  if (open) focusView();
  else ui.launcher.focus();
}

if (ui.launcher) ui.launcher.addEventListener("click", () => setOpen(true));
if (ui.minimise) ui.minimise.addEventListener("click", () => setOpen(false));

// ------------------------------------------------------------------ start-up

async function loadConfig() {
  const url = `${BASE}/chat/api/config?lang=${encodeURIComponent(state.language)}`;
  const response = await fetch(url, { credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store" });
  if (!response.ok) throw new Error(`config ${response.status}`);
  state.config = await response.json();
  state.language = state.config.language;
  applyTexts();
}

async function boot() {
  try {
    await loadConfig();
  } catch {
    ui.loading.textContent = "The chat cannot be reached right now. In an emergency, call 112.";
    root.hidden = false;
    return;
  }
  if (state.token) {
    // A chat in progress in this tab: open it again and resume.
    showView("chat");
    state.outbox.forEach((item) => renderPending({ ...item, state: "queued" }));
    connect();
    setOpen(true);
  } else {
    showView(state.config.open ? "start" : "closed");
    if (storage.get("open")) setOpen(true);
  }
  root.dataset.ready = "1";
  mount.dataset.ready = "1";
}

boot();
