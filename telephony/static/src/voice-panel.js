// The console's phone: the Twilio Voice SDK in the browser, registered as operator_<id>.
// Accepting a call in the console makes the server bridge it here; that call is answered at once.
import { Device } from "@twilio/voice-sdk";

const panel = document.getElementById("voice-panel");
const $ = (id) => document.getElementById(id);
let device = null;
let current = null; // { call, contactId }
let hc = null;

function setStatus(text, state) {
  $("voice-status").textContent = text;
  panel.dataset.state = state;
}

function hint(text) {
  const node = $("voice-hint");
  node.textContent = text || "";
  node.hidden = !text;
}

function showError(message) {
  const box = $("voice-error");
  box.textContent = message || "";
  box.hidden = !message;
}

function option(value, text) {
  const node = document.createElement("option");
  node.value = String(value);
  node.textContent = text;
  return node;
}

async function act(method, url, body) {
  try {
    showError("");
    return await hc.api(method, url, body);
  } catch (err) {
    showError(err.message);
    return null;
  }
}

function ordinal(n) {
  return n === 1 ? "first call today" : `call ${n} today from this number`;
}

async function showFacts(contactId) {
  const facts = await act("GET", `/api/voice/calls/${contactId}`);
  if (!facts) return;
  const parts = [];
  parts.push(facts.withheld ? "number withheld" : facts.country ? `from ${facts.country}` : "country unknown");
  if (!facts.withheld) parts.push(ordinal(facts.calls_today));
  if (facts.callback) parts.push(`callback, attempt ${facts.callback.attempt} of ${facts.callback.max_attempts}`);
  if (facts.block_pending) parts.push("block requested");
  $("voice-call-facts").textContent = parts.join(" · ");
  const select = $("voice-block-hours");
  if (!select.options.length) facts.block_hours.forEach((h) => select.append(option(h, `${h} h`)));
}

async function loadColleagues() {
  const data = await act("GET", "/api/voice/colleagues");
  const select = $("voice-transfer-to");
  select.replaceChildren(option("", "the queue"));
  if (!data) return;
  for (const c of data.colleagues) {
    const label = `${c.display_name}${c.lead ? " (shift lead)" : ""}${c.available ? "" : ` — ${c.presence.replace("_", " ")}`}`;
    select.append(option(c.id, label));
  }
}

function showCall(call, contactId) {
  current = { call, contactId };
  $("voice-incoming").hidden = true;
  $("voice-call").hidden = false;
  $("voice-hand-over").hidden = true;
  $("voice-call-text").textContent = contactId ? `On a call (contact ${contactId})` : "On a call";
  setStatus("on a call", "call");
  if (contactId) showFacts(contactId);
  loadColleagues();
}

function clearCall() {
  current = null;
  $("voice-call").hidden = true;
  $("voice-incoming").hidden = true;
  $("voice-mute").setAttribute("aria-pressed", "false");
  if (device) setStatus(device.state === "registered" ? "ready" : device.state, device.state === "registered" ? "ready" : "offline");
}

function onIncoming(call) {
  const contactId = Number(call.customParameters.get("contact_id")) || null;
  call.on("accept", () => showCall(call, contactId));
  for (const ended of ["disconnect", "cancel", "reject", "error"]) call.on(ended, clearCall);
  // The operator accepted this contact in the console a moment ago: no second click.
  if (contactId && hc.mine.has(contactId)) {
    call.accept();
    return;
  }
  $("voice-incoming-text").textContent = "A call is ringing";
  $("voice-incoming").hidden = false;
  $("voice-answer").onclick = () => call.accept();
  $("voice-decline").onclick = () => call.reject();
}

async function refreshToken(url) {
  const data = await act("GET", url);
  if (data && data.token && device) device.updateToken(data.token);
}

// Where the server says this operator's call stands (the only news a desk phone gets here).
const CALL_STATES = {
  bridging: "connecting the caller…",
  ringing: "ringing",
  connected: "on a call",
  missed: "a call rang unanswered: you are on break now",
  transferring: "handing the call over…",
  ended: "the call ended",
};

function follow(socket) {
  socket.on("voice.call", (update) => {
    const text = CALL_STATES[update.state];
    if (text && !(current && update.state === "connected")) hint(text);
  });
}

async function start(handle) {
  hc = handle;
  follow(hc.socket);
  const url = panel.dataset.tokenUrl;
  let data;
  try {
    data = await hc.api("GET", url);
  } catch (err) {
    setStatus("not available", "unavailable");
    hint(err.message);
    return;
  }
  const select = $("voice-block-hours");
  select.replaceChildren(...data.block_hours.map((h) => option(h, `${h} h`)));
  if (data.mode === "desk_phone") {
    setStatus("calls ring your desk phone", "desk");
    return;
  }
  if (data.mode === "simulated") {
    setStatus("simulated calls (demo): an accepted call answers by itself", "desk");
    return;
  }
  panel.dataset.identity = data.identity;
  device = new Device(data.token, {
    logLevel: "error",
    closeProtection: "A call is in progress.",
    codecPreferences: ["opus", "pcmu"],
  });
  window.helplineVoice = { device, identity: data.identity };
  setStatus("connecting to Twilio…", "token");
  device.on("registered", () => setStatus("ready", "ready"));
  device.on("unregistered", () => setStatus("offline", "offline"));
  device.on("error", (error) => {
    setStatus("cannot reach Twilio", "error");
    hint(error && error.message ? error.message : "");
  });
  device.on("tokenWillExpire", () => refreshToken(url));
  device.on("incoming", onIncoming);
  device.register().catch((error) => {
    setStatus("cannot reach Twilio", "error");
    hint(error && error.message ? error.message : "");
  });
}

$("voice-hangup").addEventListener("click", () => current && current.call.disconnect());
$("voice-mute").addEventListener("click", () => {
  if (!current) return;
  const muted = !current.call.isMuted();
  current.call.mute(muted);
  $("voice-mute").setAttribute("aria-pressed", String(muted));
});
$("voice-transfer-cold").addEventListener("click", async () => {
  if (!current || !current.contactId) return;
  const to = $("voice-transfer-to").value;
  await act("POST", `/api/contacts/${current.contactId}/transfer`, to ? { to_operator_id: Number(to) } : {});
});
$("voice-transfer-warm").addEventListener("click", async () => {
  if (!current || !current.contactId) return;
  const to = $("voice-transfer-to").value;
  if (!to) {
    showError("Choose a colleague to talk to first.");
    return;
  }
  const done = await act("POST", `/api/voice/calls/${current.contactId}/warm-transfer`, { to_operator_id: Number(to) });
  if (done) $("voice-hand-over").hidden = false;
});
$("voice-hand-over").addEventListener("click", async () => {
  if (!current || !current.contactId) return;
  await act("POST", `/api/voice/calls/${current.contactId}/hand-over`);
});
$("voice-block").addEventListener("click", async () => {
  if (!current || !current.contactId) return;
  const hours = Number($("voice-block-hours").value);
  const done = await act("POST", `/api/voice/calls/${current.contactId}/block`, { hours });
  if (done) showFacts(current.contactId);
});

if (window.helplineConsole) start(window.helplineConsole);
else document.addEventListener("helpline:ready", (event) => start(event.detail), { once: true });
