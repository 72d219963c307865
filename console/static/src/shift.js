// The console's shift panel: the lead's broadcasts, the operator's own wellbeing figures and, for
// shift leads, an alert when a wallboard tile turns red. Everything arrives over the socket.
import { api, el } from "./common.js";

const panel = document.getElementById("shift-panel");
const $ = (id) => document.getElementById(id);
const isLead = panel?.dataset.lead === "1";
let redBefore = new Set();

function minutes(value) {
  return value === null || value === undefined ? "–" : `${Math.round(value)} min`;
}

function showWellbeing(w) {
  // A sentence either way: "on a break now", or "25 min without a break".
  const since = w.minutes_without_break;
  let stint = `${minutes(since)} without a break`;
  if (w.on_break) stint = "on a break now";
  else if (since === null || since === undefined) stint = "not on shift yet";
  $("shift-without-break").textContent = stint;
  $("shift-heavy").textContent = minutes(w.heavy_minutes_since_break);
  $("shift-very-serious").textContent = minutes(w.very_serious_minutes);
  $("shift-break").hidden = !w.suggest_break;
  panel.dataset.suggestBreak = w.suggest_break ? "1" : "0";
}

function showBroadcast(message) {
  $("shift-broadcast-from").textContent = message.from;
  $("shift-broadcast-at").textContent = new Date(message.at).toLocaleTimeString();
  $("shift-broadcast-text").textContent = message.message;
  $("shift-broadcast").hidden = false;
  $("shift-broadcast").dataset.id = message.id;
}

function showRed(snapshot) {
  const box = $("shift-lead-alert");
  if (!box) return;
  const red = snapshot.tiles.filter((t) => t.level === "red");
  const keys = new Set(red.map((t) => t.key));
  const fresh = [...keys].some((k) => !redBefore.has(k));
  redBefore = keys;
  if (!red.length) {
    box.hidden = true;
    return;
  }
  $("shift-lead-alert-text").replaceChildren(
    ...red.map((t, i) => el("span", {}, (i ? " · " : "") + t.label + (t.detail ? ` (${t.detail})` : ""))),
  );
  if (fresh || box.hidden) box.hidden = false;
}

function start(consoleHandle) {
  const { socket } = consoleHandle;
  socket.on("lead.broadcast", showBroadcast);
  socket.on("lead.wellbeing", showWellbeing);
  if (isLead) socket.on("wallboard.snapshot", showRed);
  api("GET", "/api/wellbeing/me").then((data) => showWellbeing(data.wellbeing)).catch(() => {});
}

if (panel) {
  $("shift-broadcast-close").addEventListener("click", () => {
    $("shift-broadcast").hidden = true;
  });
  if (window.helplineConsole) start(window.helplineConsole);
  else document.addEventListener("helpline:ready", (event) => start(event.detail), { once: true });
}
