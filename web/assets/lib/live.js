// Live progress over the WebSocket API (docs/clients.md): one socket per tab, subscriptions by (kind, id).
// Each follow() also polls the record now and then, so a missed push or a closed socket costs seconds, not the
// result; the poll stops at a final status or after its deadline.
import {idToken} from "./auth.js";
import {config} from "./config.js";

const FINAL = new Set(["COMPLETE", "FAILED", "READY"]);
const POLL_SECONDS = 4;
const DEADLINE_SECONDS = 20 * 60;
const followers = new Map(); // "kind:id" -> Set of callbacks
let socket = null;
let opening = null;
let retryMs = 500;

function key(kind, id) { return `${kind}:${id}`; }

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function connect() {
  if (opening || !config().wsUrl) return opening;
  const token = idToken();
  if (!token) return null;
  opening = new Promise((resolve) => {
    const ws = new WebSocket(`${config().wsUrl}?token=${encodeURIComponent(token)}`);
    ws.onopen = () => {
      socket = ws;
      retryMs = 500;
      for (const name of followers.keys()) {
        const [kind, id] = name.split(":");
        send({action: "subscribe", kind, id});
      }
      resolve(ws);
    };
    ws.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.action && message.action !== "subscribed") return;
      for (const callback of followers.get(key(message.kind, message.id)) || []) callback(message);
    };
    ws.onclose = () => {
      socket = null;
      opening = null;
      resolve(null);
      if (followers.size) setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30_000);
    };
    ws.onerror = () => {}; // onclose follows; polling covers the gap
  });
  return opening;
}

/**
 * Follow one record: onUpdate({status, stage, progress, ...}) on every push and every poll, until a final status.
 * poll() returns the record (the REST GET). Returns a function that stops following.
 */
export function follow(kind, id, {poll, onUpdate}) {
  const name = key(kind, id);
  let stopped = false;
  let last = "";
  const deliver = (update) => {
    if (stopped) return;
    const seen = `${update.status}|${update.stage}|${update.progress}`;
    if (seen === last && !FINAL.has(update.status)) return;
    last = seen;
    onUpdate(update);
    if (FINAL.has(update.status)) stop();
  };
  const callbacks = followers.get(name) || new Set();
  callbacks.add(deliver);
  followers.set(name, callbacks);
  connect();
  send({action: "subscribe", kind, id});
  const deadline = Date.now() + DEADLINE_SECONDS * 1000;
  let timer = 0;
  const tick = async () => {
    if (stopped) return;
    if (Date.now() > deadline) {
      onUpdate({status: "UNKNOWN", stage: "gave up waiting; reload to check again"});
      stop();
      return;
    }
    try { deliver(await poll()); } catch { /* the next tick tries again */ }
    if (!stopped) timer = setTimeout(tick, POLL_SECONDS * 1000);
  };
  timer = setTimeout(tick, POLL_SECONDS * 1000);
  function stop() {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    callbacks.delete(deliver);
    if (!callbacks.size) {
      followers.delete(name);
      send({action: "unsubscribe", kind, id});
    }
  }
  return stop;
}

export function closeLive() {
  followers.clear();
  if (socket) socket.close();
}
