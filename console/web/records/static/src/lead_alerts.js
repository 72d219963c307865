// The shift lead's live alerts: a contact triaged very serious appears here at once.
import { connect, el } from "../../../../static/src/common.js";

const list = document.getElementById("alert-list");
const empty = document.getElementById("alert-empty");
const channels = { voice: "Call", chat: "Chat", callback: "Callback" };

function show(alert) {
  if (list.querySelector(`[data-contact-id="${alert.contact_id}"]`)) return;
  const when = new Date(alert.at).toLocaleTimeString();
  const who = alert.operator_name ? ` · with ${alert.operator_name}` : "";
  list.prepend(
    el(
      "li",
      { "data-contact-id": alert.contact_id, "data-track": alert.track },
      `Very serious · ${channels[alert.channel] || alert.channel} · ${alert.language} · ref ${alert.contact_ref}${who} · ${when}`,
    ),
  );
  empty.hidden = true;
}

if (list) {
  const socket = connect(() => {});
  socket.on("triage.alert", show);
  document.getElementById("lead-alerts").dataset.ready = "1";
}
