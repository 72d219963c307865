// The shift lead's live page: figures pushed over the socket, operators' presence as it changes.
import { api, connect, el, formatWait, secondsSince } from "./common.js";

const operators = new Map();
const $ = (id) => document.getElementById(id);

function renderStats(stats) {
  $("stat-waiting").textContent = String(stats.waiting);
  $("stat-longest").textContent = formatWait(stats.longest_wait_seconds);
  $("stat-handled").textContent = String(stats.handled_today);
  $("stat-at").textContent = `at ${new Date(stats.at).toLocaleTimeString()}`;
  $("stat-presence").replaceChildren(
    ...Object.entries(stats.presence).map(([state, count]) =>
      el("li", { "data-presence": state }, el("span", { class: "n" }, String(count)), " ", state.replace("_", " ")),
    ),
  );
}

function renderOperators() {
  $("operators-body").replaceChildren(
    ...[...operators.values()].map((op) =>
      el(
        "tr",
        { "data-operator-id": op.id },
        el("td", {}, op.display_name),
        el("td", { "data-presence": op.presence }, op.presence.replace("_", " ")),
        el("td", { class: "wait", "data-since": op.presence_since }, formatWait(secondsSince(op.presence_since))),
      ),
    ),
  );
}

async function sync() {
  const data = await api("GET", "/api/lead/stats");
  renderStats(data.stats);
  operators.clear();
  data.operators.forEach((op) => operators.set(op.id, op));
  renderOperators();
  document.getElementById("lead").dataset.ready = "1";
}

const socket = connect(sync);
socket.on("lead.stats", renderStats);
socket.on("operator.presence", (op) => { operators.set(op.id, op); renderOperators(); });
setInterval(() => {
  document.querySelectorAll("td.wait").forEach((cell) => {
    cell.textContent = formatWait(secondsSince(cell.dataset.since));
  });
}, 1000);
