// The /api/signaling websocket client: join, keepalive, and reconnect with backoff + jitter, resuming the
// same peer identity with the server's resume token so a network blip causes no peer churn.
// Protocol: docs/signaling.md.

// Close codes after which retrying cannot help; each maps to what the person should be told.
export const FATAL_CLOSES = {
  4401: "unauthorized",
  4404: "room_not_found",
  4409: "conflict",
  4410: "replaced",
};

// Room and peer ids as the server makes them; anything else from a peer is ignored.
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15000;
const JOIN_TIMEOUT_MS = 10000;

/** Exponential backoff with "equal jitter": half fixed, half random, so many clients spread out. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export function signalingUrl(location = window.location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/signaling`;
}

/**
 * Events: "state" {state, attempt?, delayMs?, code?}, "joined" (the joined frame), "message" (every other
 * server frame), "fatal" {code, reason, message}. States: connecting, joined, reconnecting, closed, failed.
 */
export class Signaling extends EventTarget {
  constructor(joinFrame, { url = signalingUrl() } = {}) {
    super();
    this.joinFrame = joinFrame; // {role, room, token|key}; resume is added here
    this.url = url;
    this.state = "idle";
    this.peerId = null;
    this.room = null;
    this.resumeToken = null;
    this.attempt = 0;
    this.socket = null;
    this.retryTimer = null;
    this.keepaliveTimer = null;
    this.joinTimer = null;
    this.lastHeard = 0;
    this.pingIntervalMs = 15000;
    this.lastError = null;
    this.onWake = () => this.reconnectNow();
  }

  start() {
    window.addEventListener("online", this.onWake);
    document.addEventListener("visibilitychange", this.onWake);
    this.connect();
  }

  /** Leave the room for good (page closing, or a new room): the server frees our identity at once. */
  stop() {
    window.removeEventListener("online", this.onWake);
    document.removeEventListener("visibilitychange", this.onWake);
    clearTimeout(this.retryTimer);
    this.stopTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "leave" }));
      socket.close(1000, "leave");
    } else if (socket) {
      socket.close();
    }
    this.setState("closed");
  }

  send(frame) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN || this.state !== "joined") return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Woken by the network coming back or the screen unlocking: don't sit out the backoff delay. */
  reconnectNow() {
    if (document.visibilityState === "hidden") return;
    if (this.state === "reconnecting" && this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.connect();
    } else if (this.state === "joined" && Date.now() - this.lastHeard > this.pingIntervalMs * 2) {
      this.socket?.close(4000, "stale"); // a locked phone's socket may be dead without knowing it
    }
  }

  connect() {
    this.retryTimer = null;
    this.setState(this.attempt === 0 && !this.peerId ? "connecting" : "reconnecting", { attempt: this.attempt });
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.fail(0, "bad_url", String(error));
      return;
    }
    this.socket = socket;
    this.joinTimer = setTimeout(() => socket.close(4000, "join timeout"), JOIN_TIMEOUT_MS);
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "join", ...this.joinFrame, resume: this.resumeToken }));
    };
    socket.onmessage = (event) => this.receive(socket, event.data);
    socket.onclose = (event) => this.closed(socket, event.code, event.reason);
  }

  receive(socket, data) {
    if (socket !== this.socket) return;
    this.lastHeard = Date.now();
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame.type === "joined") {
      clearTimeout(this.joinTimer);
      const samePeer = frame.peer_id === this.peerId;
      this.peerId = frame.peer_id;
      this.room = frame.room;
      this.joinFrame = { ...this.joinFrame, room: frame.room }; // a reconnect rejoins this room, not a new one
      this.resumeToken = frame.resume_token;
      this.attempt = 0;
      this.lastError = null;
      this.pingIntervalMs = Math.max(1000, (frame.ping_interval || 15) * 1000);
      this.startKeepalive(socket);
      this.setState("joined");
      this.dispatchEvent(new CustomEvent("joined", { detail: { ...frame, resumed: frame.resumed && samePeer } }));
      return;
    }
    if (frame.type === "pong") return;
    if (frame.type === "error") this.lastError = frame;
    this.dispatchEvent(new CustomEvent("message", { detail: frame }));
  }

  startKeepalive(socket) {
    this.stopTimers();
    this.keepaliveTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > this.pingIntervalMs * 2.5) {
        socket.close(4000, "no pong"); // half-open connection: the server is gone or unreachable
        return;
      }
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
    }, this.pingIntervalMs);
  }

  stopTimers() {
    clearInterval(this.keepaliveTimer);
    clearTimeout(this.joinTimer);
    this.keepaliveTimer = null;
  }

  closed(socket, code, reason) {
    if (socket !== this.socket) return;
    this.stopTimers();
    this.socket = null;
    if (code in FATAL_CLOSES) {
      this.fail(code, FATAL_CLOSES[code], this.lastError?.message || reason);
      return;
    }
    if (code === 4429) this.attempt = Math.max(this.attempt, 4); // rate limited: back off harder
    // A restarting server (1001/1012) comes back within a second or two: retry soon, still jittered.
    const delayMs = code === 1001 || code === 1012 ? backoffDelay(0) : backoffDelay(this.attempt);
    this.attempt += 1;
    this.setState("reconnecting", { attempt: this.attempt, delayMs, code });
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }

  fail(code, reason, message) {
    window.removeEventListener("online", this.onWake);
    document.removeEventListener("visibilitychange", this.onWake);
    this.setState("failed", { code, reason });
    this.dispatchEvent(new CustomEvent("fatal", { detail: { code, reason, message } }));
  }

  setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...extra } }));
  }
}
