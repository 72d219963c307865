// The shift lead's wallboard: everything is pushed over the socket (no polling); waits and times in
// state tick locally from the server's timestamps; a tile that turns red raises an alert.
import { api, connect, el, formatWait, secondsSince } from "./common.js";

const root = document.getElementById("lead");
const config = JSON.parse(document.getElementById("lead-config").textContent);
const tv = root.dataset.tv === "1";
const $ = (id) => document.getElementById(id);
const queue = new Map();
const operators = new Map();
let snapshot = null;
let redBefore = new Set();
let dismissed = new Set();

const LEVEL_WORD = { ok: "OK", amber: "Amber", red: "RED" };
const channelName = (c) => ({ voice: "Call", chat: "Chat", callback: "Callback" })[c] || c;
const languageName = (code) => config.languages[code] || code;
const percent = (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 100)}%`);

function formatValue(tile) {
  const v = tile.value;
  if (v === null || v === undefined) return "–";
  switch (tile.unit) {
    case "seconds": return formatWait(v);
    case "rate": return percent(v);
    case "minutes": return `${Math.round(v)} min`;
    default: return String(v);
  }
}

function levelOf(seconds, band) {
  if (seconds >= band.red) return "red";
  if (seconds >= band.amber) return "amber";
  return "ok";
}

function setTile(key, level, valueText, detail) {
  const node = root.querySelector(`[data-tile="${key}"]`);
  if (!node) return;
  node.dataset.level = level;
  const big = node.querySelector(".big");
  if (big && valueText !== undefined) big.textContent = valueText;
  const small = node.querySelector(".detail");
  if (small && detail !== undefined) small.textContent = detail;
  const h2 = node.querySelector("h2");
  if (h2) h2.dataset.levelWord = LEVEL_WORD[level];
}

// The longest wait grows between pushes, so its threshold is judged here every second too.
function longestWaitNow() {
  if (!snapshot) return 0;
  return snapshot.waiting.reduce((max, w) => Math.max(max, secondsSince(w.oldest_at)), 0);
}

function currentTiles() {
  if (!snapshot) return [];
  const band = snapshot.thresholds.longest_wait;
  return snapshot.tiles.map((tile) => {
    if (tile.key !== "longest_wait") return tile;
    const wait = longestWaitNow();
    return { ...tile, value: wait, level: levelOf(wait, band) };
  });
}

function languagesText() {
  const short = snapshot.languages.filter((l) => l.level !== "ok").map((l) => languageName(l.language));
  return short.length ? `Short: ${short.join(", ")}` : "All covered";
}

function renderTiles() {
  const tiles = currentTiles();
  for (const tile of tiles) {
    const value = tile.key === "languages" ? languagesText() : formatValue(tile);
    setTile(tile.key, tile.level, value, tile.detail ?? "");
  }
  const longest = tiles.find((t) => t.key === "longest_wait");
  if (longest) {
    root.querySelector('[data-tile="longest_wait"] .detail').textContent =
      `amber ${formatWait(snapshot.thresholds.longest_wait.amber)} · red ${formatWait(snapshot.thresholds.longest_wait.red)}`;
  }
  const worst = tiles.some((t) => t.level === "red") ? "red" : tiles.some((t) => t.level === "amber") ? "amber" : "ok";
  root.dataset.level = worst;
  const badge = $("wb-level");
  badge.dataset.level = worst;
  badge.textContent = { ok: "All clear", amber: "Attention", red: "Act now" }[worst];
  alertOnRed(tiles);
}

function alertOnRed(tiles) {
  const red = tiles.filter((t) => t.level === "red");
  const keys = new Set(red.map((t) => t.key));
  const fresh = [...keys].some((k) => !redBefore.has(k));
  for (const k of [...dismissed]) if (!keys.has(k)) dismissed.delete(k);
  redBefore = keys;
  const box = $("wallboard-alert");
  const shown = red.filter((t) => !dismissed.has(t.key));
  if (!shown.length) {
    box.hidden = true;
    document.title = document.title.replace(/^⚠ /, "");
    return;
  }
  $("wallboard-alert-text").textContent = shown
    .map((t) => `${t.label}: ${formatValue(t)}${t.detail ? ` (${t.detail})` : ""}`)
    .join(" · ");
  box.hidden = false;
  if (fresh) {
    box.dataset.fresh = String(Date.now());
    if (!document.title.startsWith("⚠ ")) document.title = `⚠ ${document.title}`;
  }
}

function renderWaiting() {
  const rows = snapshot.waiting.map((w) =>
    el(
      "tr",
      { "data-channel": w.channel, "data-language": w.language, "data-level": w.level },
      el("td", {}, channelName(w.channel)),
      el("td", {}, languageName(w.language)),
      el("td", { class: "num" }, String(w.count)),
      el("td", { class: "wait num", "data-since": w.oldest_at }, formatWait(secondsSince(w.oldest_at))),
    ),
  );
  $("waiting-body").replaceChildren(...rows);
  $("waiting-empty").hidden = rows.length > 0;
  // <bdi> keeps a right-to-left language name from reordering the figures around it.
  $("detail-waiting").replaceChildren(
    ...snapshot.languages.flatMap((l, i) => [
      ...(i ? [" · "] : []),
      el("bdi", {}, languageName(l.language)),
      `: ${l.free} free of ${l.taking}`,
    ]),
  );
}

function presenceSelect(op) {
  const select = el("select", { "aria-label": `Status of ${op.display_name}`, "data-operator-id": op.id });
  for (const value of ["available", "break", "offline"]) {
    const option = el("option", { value }, value);
    if (op.presence === value || (value === "available" && ["busy", "wrap_up"].includes(op.presence))) option.selected = true;
    select.append(option);
  }
  select.addEventListener("change", () =>
    act(`/api/lead/operators/${op.id}/presence`, { presence: select.value }, `${op.display_name}: ${select.value}`),
  );
  return select;
}

function renderOperators() {
  const order = ["available", "busy", "wrap_up", "break", "offline"];
  const counts = Object.entries(snapshot.presence).sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
  $("stat-presence").replaceChildren(
    ...counts.map(([state, n]) =>
      el("li", { "data-presence": state }, el("span", { class: "n" }, String(n)), " ", state.replace("_", " ")),
    ),
  );
  $("operators-body").replaceChildren(
    ...snapshot.operators.map((op) => {
      const cells = [
        el("td", {}, op.display_name),
        el("td", { "data-presence": op.presence }, op.presence.replace("_", " ")),
        el("td", { class: "wait num", "data-since": op.presence_since }, formatWait(secondsSince(op.presence_since))),
        el("td", { class: "num" }, String(op.holding ?? 0)),
      ];
      if (!tv) cells.push(el("td", {}, presenceSelect(op)));
      return el("tr", { "data-operator-id": op.id, "data-presence": op.presence }, ...cells);
    }),
  );
}

function renderUrgent() {
  const rows = snapshot.urgent.map((c) =>
    el(
      "tr",
      { "data-contact-id": c.id },
      el("td", {}, c.ref),
      el("td", {}, channelName(c.channel)),
      el("td", {}, languageName(c.language)),
      el("td", {}, c.state.replace("_", " ")),
      el("td", {}, c.operator || "—"),
      el("td", { class: "wait num", "data-since": c.enqueued_at }, formatWait(secondsSince(c.enqueued_at))),
    ),
  );
  $("urgent-body").replaceChildren(...rows);
  $("urgent-empty").hidden = rows.length > 0;
}

function renderBreaks() {
  const rows = snapshot.wellbeing.map((w) =>
    el(
      "tr",
      { "data-operator-id": w.operator_id, "data-level": w.level },
      el("td", {}, (w.display_name || String(w.operator_id)) + (w.suggest_break ? " — break suggested" : "")),
      el("td", { class: "num" }, w.on_break ? "on a break" : `${Math.round(w.minutes_without_break ?? 0)} min`),
      el("td", { class: "num" }, `${Math.round(w.heavy_minutes_since_break)} min`),
      el("td", { class: "num" }, String(w.consecutive_heavy)),
      el("td", { class: "num" }, `${Math.round(w.very_serious_minutes)} min`),
    ),
  );
  $("breaks-body").replaceChildren(...rows);
  $("breaks-empty").hidden = rows.length > 0;
}

function renderOverflows() {
  const list = $("overflow-list");
  if (!list) return;
  list.replaceChildren(
    ...snapshot.overflows.map((o) => {
      const target = o.target.startsWith("partner:")
        ? `partner line ${o.target.slice(8)}`
        : o.target === "any" ? "any language" : languageName(o.target);
      const close = el("button", { type: "button" }, "Close");
      close.addEventListener("click", () => act(`/api/lead/overflows/${o.id}/close`, {}, "Overflow closed"));
      return el("li", { "data-overflow-id": o.id }, `${languageName(o.language)} → ${target} `, close);
    }),
  );
}

function renderSnapshot(data) {
  snapshot = data;
  $("stat-at").textContent = `at ${new Date(data.at).toLocaleTimeString()}`;
  $("stat-handled").textContent = String(data.handled_today);
  const today = data.service.today.all;
  $("detail-answered").textContent = today ? `${today.answered} answered of ${today.offered} offered` : "";
  renderTiles();
  renderWaiting();
  renderOperators();
  renderUrgent();
  renderBreaks();
  renderOverflows();
}

// The spine's figures: the same numbers, kept for pages and tests that read them.
function renderStats(stats) {
  $("stat-waiting").textContent = String(stats.waiting);
  $("stat-handled").textContent = String(stats.handled_today);
}

function renderQueue() {
  const body = $("queue-body");
  if (!body) return;
  const onShift = [...operators.values()].filter((op) => op.presence !== "offline");
  const rows = [...queue.values()]
    .sort((a, b) => b.priority - a.priority || Date.parse(a.enqueued_at) - Date.parse(b.enqueued_at))
    .map((c) => {
      const select = el("select", { "aria-label": `Give contact ${c.ref} to` });
      select.append(el("option", { value: "" }, "Whole queue"));
      for (const op of onShift) select.append(el("option", { value: String(op.id) }, `${op.display_name} (${op.presence.replace("_", " ")})`));
      const button = el("button", { type: "button", class: "reassign" }, "Reassign");
      button.addEventListener("click", () =>
        act(
          `/api/lead/contacts/${c.id}/reassign`,
          { to_operator_id: select.value ? Number(select.value) : null },
          `Contact ${c.ref} reassigned`,
        ),
      );
      return el(
        "tr",
        { "data-contact-id": c.id },
        el("td", {}, c.ref),
        el("td", {}, channelName(c.channel)),
        el("td", {}, languageName(c.language)),
        el("td", {}, c.state),
        el("td", { class: "wait num", "data-since": c.enqueued_at }, formatWait(secondsSince(c.enqueued_at))),
        el("td", {}, select, " ", button),
      );
    });
  body.replaceChildren(...rows);
  $("queue-empty").hidden = rows.length > 0;
}

function upsertContact(c) {
  if (c.state === "waiting" || c.state === "offered") queue.set(c.id, c);
  else queue.delete(c.id);
  renderQueue();
}

function showError(message) {
  const box = $("action-error");
  if (!box) return;
  box.textContent = message;
  box.hidden = !message;
}

async function act(url, body, done) {
  try {
    showError("");
    await api("POST", url, body);
    const status = $("action-done");
    if (status) status.textContent = done;
  } catch (err) {
    showError(err.message);
  }
}

async function sync() {
  const data = await api("GET", "/api/lead/wallboard");
  queue.clear();
  data.queue.forEach((c) => queue.set(c.id, c));
  operators.clear();
  data.operators.forEach((op) => operators.set(op.id, op));
  renderSnapshot(data.snapshot);
  renderStats(data.stats);
  renderQueue();
  root.dataset.ready = "1";
}

const socket = connect(sync);
socket.on("wallboard.snapshot", renderSnapshot);
socket.on("lead.stats", renderStats);
socket.on("contact.queued", upsertContact);
socket.on("contact.updated", upsertContact);
socket.on("operator.presence", (op) => {
  operators.set(op.id, op);
  renderQueue();
});

$("broadcast-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("broadcast-message");
  await act("/api/lead/broadcast", { message: input.value }, "Message sent to every console");
  input.value = "";
});
$("overflow-form")?.addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  act("/api/lead/overflows", { language: form.get("language"), target: form.get("target") }, "Overflow opened");
});
$("wallboard-alert-dismiss")?.addEventListener("click", () => {
  for (const key of redBefore) dismissed.add(key);
  $("wallboard-alert").hidden = true;
});
$("fullscreen")?.addEventListener("click", () => document.documentElement.requestFullscreen?.());
document.addEventListener("keydown", (event) => {
  if (tv && event.key === "f") document.documentElement.requestFullscreen?.();
});

setInterval(() => {
  document.querySelectorAll("td.wait").forEach((cell) => {
    cell.textContent = formatWait(secondsSince(cell.dataset.since));
  });
  if (snapshot) renderTiles();
}, 1000);
