// The camera page (`/camera`, on a phone): opened from the viewer's QR code, whose URL fragment carries the
// room and the camera join key. Streams the camera to every viewer in the room, one peer connection each.

import { PeerLink } from "./peer.js";
import { ID_PATTERN, Signaling } from "./signaling.js";
import { $, setPill, show } from "./ui.js";

const RESOLUTIONS = { 480: [640, 480], 720: [1280, 720], 1080: [1920, 1080] };
const CONFLICT_RETRIES = 8; // a previous camera may hold the room for the server's resume grace window
const REHOME_TIMEOUT_MS = 15000;
const PEER_JOINED_DELAY_MS = 3000;

const preview = $("#preview");
const links = new Map(); // viewer peer id -> PeerLink

const status = (window.frontdesk = {
  state: "starting",
  signaling: "idle",
  room: null,
  peerId: null,
  joins: 0, // joined frames so far (reconnects included)
  resumed: false, // whether the last join kept our identity
  viewers: 0,
  live: 0,
  facing: "environment",
  lastError: null,
  outboundStats: async () => Promise.all([...links.values()].map(async (l) => (await l.stats()).outbound)),
});

let stream = null;
let signaling = null;
let iceServers = [];
let wakeLock = null;
let conflictRetries = 0;
let stopped = false;
// Moving to a new room after the server forgot ours (an app restart), keeping the video running:
let rehome = null; // {hostId, timer}: a viewer was asked to open a new room for us
let carried = new Set(); // the links that keep streaming across the move, until their viewers follow
let carriedTimer = null;

function setState(state) {
  status.state = state;
  document.body.dataset.state = state;
}

function fragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { room: params.get("room"), key: params.get("key") };
}

/** A full-screen message instead of the preview: what went wrong and what to do. */
function problem(title, body, { retry = null } = {}) {
  setState("error");
  setPill($("#status"), title, "error");
  $("#message-title").textContent = title;
  $("#message-body").textContent = body;
  const button = $("#retry");
  show(button, Boolean(retry));
  button.onclick = retry;
  show($("#message"), true);
  show($("#controls"), false);
}

function clearProblem() {
  show($("#message"), false);
  show($("#controls"), true);
}

// ---- the camera ---------------------------------------------------------------------------------------

function constraints() {
  const [width, height] = RESOLUTIONS[$("#resolution").value] || RESOLUTIONS[720];
  return {
    audio: false,
    video: { facingMode: { ideal: status.facing }, width: { ideal: width }, height: { ideal: height },
      frameRate: { ideal: 30, max: 30 } },
  };
}

const CAMERA_ERRORS = {
  NotAllowedError: ["Camera access is blocked",
    "Allow the camera for this site in the browser's settings (the camera icon in the address bar), then try again."],
  SecurityError: ["Camera access is blocked", "This browser does not allow the camera on this page."],
  NotFoundError: ["No camera found", "This device has no camera that the browser can use."],
  OverconstrainedError: ["No matching camera", "Try another resolution or the other camera."],
  NotReadableError: ["The camera is busy",
    "Another app is using the camera. Close it (video calls, the camera app), then try again."],
  AbortError: ["The camera did not start", "Try again; restarting the browser helps if it keeps failing."],
};

async function openCamera() {
  if (!navigator.mediaDevices?.getUserMedia) {
    problem("This page needs HTTPS",
      "Browsers only give the camera to secure pages. Open the link from the viewer's QR code (it starts with https://).");
    return false;
  }
  setPill($("#status"), "Waiting for camera permission…", "neutral");
  show($("#permission-hint"), true);
  try {
    const next = await navigator.mediaDevices.getUserMedia(constraints());
    useStream(next);
    return true;
  } catch (error) {
    const [title, body] = CAMERA_ERRORS[error.name] || ["The camera did not start", error.message || String(error)];
    problem(title, body, { retry: () => location.reload() });
    return false;
  } finally {
    show($("#permission-hint"), false);
  }
}

function useStream(next) {
  const previous = stream;
  stream = next;
  preview.srcObject = stream;
  preview.play().catch(() => {});
  const track = stream.getVideoTracks()[0];
  const settings = track.getSettings();
  if (settings.facingMode) status.facing = settings.facingMode;
  document.body.dataset.facing = status.facing; // mirror the preview of a selfie camera
  track.addEventListener("ended", () => {
    if (track === stream?.getVideoTracks()[0] && !stopped) {
      problem("The camera stopped", "Another app may have taken the camera.", { retry: () => restartCamera() });
    }
  });
  for (const link of links.values()) link.replaceVideoTrack(track);
  if (previous && previous !== next) previous.getTracks().forEach((t) => t.stop());
  setupTorch(track);
}

/** Phones cannot open two cameras at once: stop the old one, then open the new one. */
async function restartCamera() {
  stream?.getTracks().forEach((t) => t.stop());
  clearProblem();
  try {
    useStream(await navigator.mediaDevices.getUserMedia(constraints()));
    updateState();
  } catch (error) {
    const [title, body] = CAMERA_ERRORS[error.name] || ["The camera did not start", error.message || String(error)];
    problem(title, body, { retry: () => restartCamera() });
  }
}

$("#switch-camera").addEventListener("click", () => {
  status.facing = status.facing === "user" ? "environment" : "user";
  restartCamera();
});

$("#resolution").addEventListener("change", async () => {
  const track = stream?.getVideoTracks()[0];
  const [width, height] = RESOLUTIONS[$("#resolution").value];
  try {
    await track.applyConstraints({ width: { ideal: width }, height: { ideal: height } });
  } catch {
    await restartCamera();
  }
});

function setupTorch(track) {
  const capable = Boolean(track.getCapabilities?.().torch);
  const button = $("#torch");
  show(button, capable);
  button.setAttribute("aria-pressed", "false");
  button.onclick = async () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    try {
      await track.applyConstraints({ advanced: [{ torch: on }] });
      button.setAttribute("aria-pressed", String(on));
    } catch {
      show(button, false);
    }
  };
}

async function showCameraSwitch() {
  const devices = await navigator.mediaDevices.enumerateDevices().catch(() => []);
  show($("#switch-camera"), devices.filter((d) => d.kind === "videoinput").length > 1);
}

// ---- keeping the screen on ----------------------------------------------------------------------------

async function keepAwake() {
  if (!("wakeLock" in navigator) || document.visibilityState !== "visible" || wakeLock) return;
  try {
    wakeLock = await navigator.wakeLock.request("screen");
    wakeLock.addEventListener("release", () => {
      wakeLock = null;
      $("#wake").textContent = "The screen may turn off: keep this page open and in front.";
    });
    $("#wake").textContent = "The screen stays on while this page is open.";
  } catch {
    $("#wake").textContent = "Keep the screen on: this browser does not allow it automatically.";
  }
}

// Back from a locked screen or another app: the wake lock was released, and some phones end the camera.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible" || !stream || stopped) return;
  keepAwake();
  if (stream.getVideoTracks()[0]?.readyState === "ended") restartCamera();
});

// ---- signaling and one peer connection per viewer -----------------------------------------------------

function openLink(viewerId) {
  links.get(viewerId)?.close();
  const link = new PeerLink({ peerId: viewerId, polite: false, iceServers, send: (f) => signaling?.send(f) });
  link.addEventListener("state", updateState);
  link.addEventListener("control", ({ detail }) => control(link, detail));
  link.addStream(stream); // negotiationneeded sends the offer
  links.set(viewerId, link);
}

/** A link's viewer got a new peer id in the new room: same connection, new address. */
function rekey(link, peerId) {
  if (!ID_PATTERN.test(peerId || "") || links.get(link.peerId) !== link) return;
  links.delete(link.peerId);
  links.get(peerId)?.close();
  link.peerId = peerId;
  links.set(peerId, link);
}

// ---- surviving an app restart -------------------------------------------------------------------------
// The server keeps rooms in memory, so a restart forgets them, while the video itself flows peer to peer
// and keeps going. The phone asks one of its viewers, over their control channel, to open a new room, joins
// it with the new key, and tells the other viewers to follow; no page reload and no new QR scan.

function control(link, message) {
  if (message.type === "room-lost") startRehome();
  if (message.type === "room-opened" && rehome?.hostId === link.peerId) finishRehome(link, message);
  if (message.type === "moved") rekey(link, message.peer_id);
}

function startRehome() {
  if (rehome) return true;
  const host = [...links.values()].find((l) => l.state === "connected" && l.sendControl({ type: "open-room" }));
  if (!host) return false;
  signaling?.stop();
  signaling = null;
  status.signaling = "rehoming";
  carried = new Set(links.values());
  rehome = { hostId: host.peerId, timer: setTimeout(() => fatal({ code: 4404, message: "no viewer answered" }), REHOME_TIMEOUT_MS) };
  setPill($("#status"), "The server restarted: moving to a new room…", "warn");
  return true;
}

function finishRehome(host, { room, key, peer_id }) {
  if (!ID_PATTERN.test(room || "") || typeof key !== "string") return;
  clearTimeout(rehome.timer);
  rehome = null;
  rekey(host, peer_id);
  history.replaceState(null, "", `${location.pathname}${location.search}#${new URLSearchParams({ room, key })}`);
  connect();
}

/** After joining the new room: tell every carried viewer where to go; drop those that never follow. */
function announceMove(room, peerId) {
  for (const link of carried) link.sendControl({ type: "move", room, peer_id: peerId });
  clearTimeout(carriedTimer);
  carriedTimer = setTimeout(() => {
    for (const link of carried) if (links.get(link.peerId) === link && !signalingPeers.has(link.peerId)) closeLink(link.peerId);
    carried = new Set();
    updateState();
  }, REHOME_TIMEOUT_MS);
}

let signalingPeers = new Set(); // viewer ids the server says are in our room

function closeLink(viewerId) {
  links.get(viewerId)?.close();
  links.delete(viewerId);
}

function connect() {
  const { room, key } = fragment();
  const client = new Signaling({ role: "streamer", room, key });
  signaling = client;
  client.addEventListener("state", ({ detail }) => {
    if (client !== signaling) return;
    status.signaling = detail.state;
    updateState(detail);
  });
  client.addEventListener("joined", ({ detail }) => {
    if (client !== signaling) return;
    conflictRetries = 0;
    iceServers = detail.ice_servers;
    status.room = detail.room;
    status.peerId = detail.peer_id;
    status.joins += 1;
    status.resumed = detail.resumed;
    const viewers = detail.peers.filter((p) => p.role === "viewer").map((p) => p.peer_id);
    signalingPeers = new Set(viewers);
    if (detail.resumed) {
      // Same identity: keep working connections, repair the others, add any viewer we missed.
      for (const [id, link] of links) if (!viewers.includes(id)) closeLink(id); else link.recoverAfterReconnect();
      for (const id of viewers) if (!links.has(id)) openLink(id);
    } else {
      // A new identity: viewers saw us leave, so they need new connections; except those carried across a
      // move to a new room, which keep theirs.
      for (const [id, link] of [...links]) if (!carried.has(link)) closeLink(id);
      for (const id of viewers) if (!links.has(id)) openLink(id);
      if (carried.size) announceMove(detail.room, detail.peer_id);
    }
    updateState();
  });
  client.addEventListener("message", ({ detail }) => {
    if (client === signaling) receive(detail);
  });
  client.addEventListener("fatal", ({ detail }) => {
    if (client === signaling) fatal(detail);
  });
  client.start();
}

async function receive(frame) {
  switch (frame.type) {
    case "peer-joined": {
      const id = frame.peer.peer_id;
      if (frame.peer.role !== "viewer") break;
      signalingPeers.add(id);
      // A viewer following us to a new room says so on its control channel; give that a moment to arrive.
      const following = [...carried].some((l) => links.get(l.peerId) === l && !signalingPeers.has(l.peerId));
      if (following) setTimeout(() => links.has(id) || openLink(id), PEER_JOINED_DELAY_MS);
      else if (!links.has(id)) openLink(id);
      break;
    }
    case "peer-left":
      signalingPeers.delete(frame.peer_id);
      closeLink(frame.peer_id);
      break;
    case "offer":
    case "answer":
      await links.get(frame.from)?.receiveDescription(frame.type, frame.sdp);
      break;
    case "candidate":
      await links.get(frame.from)?.receiveCandidate(frame.candidate);
      break;
    case "error":
      status.lastError = { code: frame.code, message: frame.message };
      break;
  }
  updateState();
}

function fatal({ code, message }) {
  status.lastError = { code, message };
  if (code === 4404 && !rehome && startRehome()) return; // the server forgot the room: move, keep streaming
  rehome = null;
  for (const id of [...links.keys()]) closeLink(id);
  if (code === 4409 && conflictRetries < CONFLICT_RETRIES) {
    // Usually this phone's own previous connection, which the server forgets within seconds.
    conflictRetries += 1;
    setPill($("#status"), "Another camera is connected to this room; retrying…", "warn");
    setTimeout(connect, 3000);
    return;
  }
  stopStreaming();
  if (code === 4401) {
    problem("This camera link is not valid",
      "The room's key does not match. Open the viewer on the laptop and scan its QR code again.");
  } else if (code === 4404) {
    problem("This room no longer exists",
      "The viewer closed it or opened a new one. Scan the QR code shown on the viewer again.");
  } else if (code === 4409) {
    problem("Another camera is streaming", "This room already has a camera. Open a new room on the viewer.");
  } else if (code === 4410) {
    problem("Streaming continued elsewhere", "This camera was taken over by another tab or device.");
  } else {
    problem("Disconnected", message || "The server closed the connection.", { retry: () => location.reload() });
  }
}

function stopStreaming() {
  stopped = true;
  stream?.getTracks().forEach((t) => t.stop());
  preview.srcObject = null;
  wakeLock?.release().catch(() => {});
}

function updateState(detail = {}) {
  if (status.state === "error") return;
  const all = [...links.values()];
  const live = all.filter((l) => l.state === "connected").length;
  status.viewers = all.length;
  status.live = live;
  const plural = (n) => `${n} viewer${n === 1 ? "" : "s"}`;
  if (status.signaling === "rehoming") {
    setState(live ? "live" : "reconnecting");
    setPill($("#status"), "The server restarted: moving to a new room…", "warn");
  } else if (status.signaling === "reconnecting") {
    const wait = detail.delayMs ? ` in ${Math.ceil(detail.delayMs / 1000)} s` : "";
    setState(live ? "live" : "reconnecting");
    setPill($("#status"), live ? `Live to ${plural(live)} · reconnecting${wait}…` : `Reconnecting${wait}…`, "warn");
  } else if (status.signaling === "connecting" || status.signaling === "idle") {
    setState("connecting");
    setPill($("#status"), "Connecting…", "neutral");
  } else if (live) {
    setState("live");
    setPill($("#status"), `Live to ${plural(live)}`, "live");
  } else if (all.length) {
    setState("connecting");
    setPill($("#status"), `Connecting to ${plural(all.length)}…`, "neutral");
  } else {
    setState("waiting");
    setPill($("#status"), "Waiting for a viewer", "neutral");
  }
}

// Leaving (reload, close, navigating away): free the room's camera slot at once.
window.addEventListener("pagehide", () => signaling?.stop());

async function main() {
  const { room, key } = fragment();
  if (!room || !key) {
    problem("Open this page from the viewer",
      "On the laptop, open frontdesk and scan its QR code with this phone. The code carries the room and its key.");
    return;
  }
  if (!(await openCamera())) return;
  showCameraSwitch();
  keepAwake();
  connect();
}

main();
