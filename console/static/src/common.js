// Shared by the console pages: CSRF-protected requests, the live socket, and safe text output.
import { io } from "socket.io-client";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": csrfToken(),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  if (!response.ok) {
    throw new ApiError(response.status, data.error || "error", data.message || response.statusText);
  }
  return data;
}

// Builds an element whose text is always set as text, never parsed as HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function formatWait(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return m ? `${m}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

export function secondsSince(iso) {
  return (Date.now() - Date.parse(iso)) / 1000;
}

// One socket per page; `onSync` runs at first connect and after every reconnect, so a console
// that lost its connection reloads the snapshot instead of missing events.
export function connect(onSync) {
  const socket = io({ transports: ["websocket"], withCredentials: true });
  const badge = document.getElementById("connection");
  socket.on("connect", () => {
    if (badge) {
      badge.textContent = "live";
      badge.dataset.state = "live";
    }
    onSync();
  });
  socket.on("disconnect", () => {
    if (badge) {
      badge.textContent = "reconnecting…";
      badge.dataset.state = "down";
    }
  });
  socket.on("resync", onSync);
  return socket;
}
