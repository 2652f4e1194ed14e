// The viewer page (`/`, on a laptop): sign in with the API token, open a room, show the phone link as a QR
// code, receive the phone's video and draw face landmarks over it.

import { FaceTracker, loadLandmarker } from "./faces.js";
import { Overlay } from "./overlay.js";
import { PeerLink, sdpSessionId } from "./peer.js";
import { drawQr } from "./qr.js";
import { ID_PATTERN, Signaling } from "./signaling.js";
import { $, setPill, show } from "./ui.js";

const TOKEN_KEY = "frontdesk.token"; // localStorage: this laptop stays signed in
const ROOM_KEY = "frontdesk.room"; // sessionStorage: a reload of this tab rejoins the same room
const BASE_KEY = "frontdesk.cameraBase";

const video = $("#video");
const overlay = new Overlay($("#overlay"), video, null);

// Read-only status for people debugging from the console, and for the browser tests.
const status = (window.frontdesk = {
  state: "starting",
  room: null,
  peerId: null,
  signaling: "idle",
  joins: 0, // joined frames so far (reconnects included)
  resumed: false, // whether the last join kept our identity
  peer: "none",
  cameraLink: null,
  model: "loading",
  faces: [],
  detectionFps: 0,
  lastError: null,
  videoStats: async () => (link ? (await link.stats()).inbound : null),
});

let token = null;
let config = null;
let signaling = null;
let link = null;
let linkSession = null;
let tracker = null;
let landmarker = null;
let lastStats = null;
let roomKey = null;
let iceServers = [];
let awaitingMove = null; // timer: our room is gone, the phone (still streaming to us) is finding a new one

/** `#token=...&room=...` is read once, stored, and removed from the address bar and the history entry. */
function takeFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has("token")) localStorage.setItem(TOKEN_KEY, params.get("token"));
  if (params.has("room")) sessionStorage.setItem(ROOM_KEY, params.get("room"));
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
}

function setState(state) {
  status.state = state;
  document.body.dataset.state = state;
}

// ---- sign-in ------------------------------------------------------------------------------------------

function showSignIn(message) {
  setState("signed-out");
  show($("#app"), false);
  show($("#sign-out"), false);
  show($("#sign-in"), true);
  setPill($("#connection"), "Signed out", "neutral");
  const error = $("#sign-in-error");
  error.textContent = message || "";
  show(error, Boolean(message));
  $("#token-input").focus();
}

$("#sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("#token-input").value.trim();
  if (!value) return;
  localStorage.setItem(TOKEN_KEY, value);
  $("#token-input").value = "";
  start();
});

$("#sign-out").addEventListener("click", () => {
  localStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ROOM_KEY);
  leaveRoom();
  showSignIn();
});

async function fetchConfig() {
  const response = await fetch("/api/pages/config", { headers: { Authorization: `Bearer ${token}` } });
  if (response.status === 401) return null;
  if (!response.ok) throw new Error(`the server answered ${response.status}`);
  return response.json();
}

async function start() {
  token = localStorage.getItem(TOKEN_KEY);
  if (!token) {
    showSignIn();
    return;
  }
  setPill($("#connection"), "Signing in…", "neutral");
  try {
    config = await fetchConfig();
  } catch (error) {
    showSignIn(`Could not reach the server (${error.message}). Is frontdesk running?`);
    return;
  }
  if (!config) {
    localStorage.removeItem(TOKEN_KEY);
    showSignIn("That token was not accepted. Check it and try again.");
    return;
  }
  show($("#sign-in"), false);
  show($("#app"), true);
  show($("#sign-out"), true);
  fillCameraBases(config.camera_base_urls);
  show($("#https-warning"), !config.secure && !["localhost", "127.0.0.1", "[::1]"].includes(location.hostname));
  startDetection();
  joinRoom(sessionStorage.getItem(ROOM_KEY));
}

// ---- the room and the phone link ----------------------------------------------------------------------

function fillCameraBases(urls) {
  const select = $("#camera-base");
  select.replaceChildren(...urls.map((url) => new Option(url.replace(/^https?:\/\//, ""), url)));
  const remembered = sessionStorage.getItem(BASE_KEY);
  if (remembered && urls.includes(remembered)) select.value = remembered;
  show($("#camera-base-row"), urls.length > 1);
}

$("#camera-base").addEventListener("change", () => {
  sessionStorage.setItem(BASE_KEY, $("#camera-base").value);
  renderCameraLink();
});

function renderCameraLink() {
  if (!status.room || !roomKey) return;
  const base = $("#camera-base").value || location.origin;
  const params = new URLSearchParams({ room: status.room, key: roomKey });
  const url = `${base}/camera#${params}`; // the fragment never reaches a server or its logs
  status.cameraLink = url;
  $("#camera-link").value = url;
  drawQr($("#qr"), url, 216);
  show($("#qr-placeholder"), false);
  show($("#qr"), true);
}

$("#copy-link").addEventListener("click", async () => {
  const input = $("#camera-link");
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select(); // insecure origins have no clipboard API: leave it selected for Ctrl+C
    document.execCommand?.("copy");
  }
  $("#copy-link").textContent = "Copied";
  setTimeout(() => ($("#copy-link").textContent = "Copy"), 1500);
});

$("#new-room").addEventListener("click", () => {
  sessionStorage.removeItem(ROOM_KEY);
  leaveRoom();
  joinRoom(null);
});

function leaveRoom() {
  signaling?.stop();
  signaling = null;
  closeLink();
  roomKey = null;
  status.room = null;
  show($("#qr"), false);
  show($("#qr-placeholder"), true);
  $("#camera-link").value = "";
}

/** `announce`: tell the phone on the control channel once we are in ("room-opened" or "moved"). */
function joinRoom(room, announce = null) {
  const client = new Signaling({ role: "viewer", token, room: room || null });
  signaling = client;
  client.addEventListener("state", ({ detail }) => {
    if (client !== signaling) return;
    status.signaling = detail.state;
    if (detail.state === "reconnecting") {
      const wait = detail.delayMs ? ` in ${Math.ceil(detail.delayMs / 1000)} s` : "";
      setPill($("#connection"), `Reconnecting${wait}…`, "warn");
    } else if (detail.state === "connecting") {
      setPill($("#connection"), "Connecting…", "neutral");
    }
    updateStage();
  });
  client.addEventListener("joined", ({ detail }) => {
    if (client !== signaling) return;
    status.room = detail.room;
    status.peerId = detail.peer_id;
    status.joins += 1;
    status.resumed = detail.resumed;
    sessionStorage.setItem(ROOM_KEY, detail.room);
    roomKey = detail.key;
    iceServers = detail.ice_servers;
    renderCameraLink();
    setPill($("#connection"), "Connected", "ok");
    if (detail.resumed) link?.recoverAfterReconnect();
    if (announce === "room-opened") {
      link?.sendControl({ type: "room-opened", room: detail.room, key: detail.key, peer_id: detail.peer_id });
    } else if (announce === "moved") {
      link?.sendControl({ type: "moved", peer_id: detail.peer_id });
    }
    announce = null;
    updateStage();
  });
  client.addEventListener("message", ({ detail }) => {
    if (client === signaling) receive(detail);
  });
  client.addEventListener("fatal", ({ detail }) => {
    if (client !== signaling) return;
    fatal(detail);
  });
  client.start();
}

function fatal({ code, message }) {
  status.lastError = { code, message };
  if (code === 4404 && !awaitingMove && link?.state === "connected" && link.sendControl({ type: "room-lost" })) {
    // The server forgot the room (an app restart) but the video still flows: the phone moves us both.
    signaling = null;
    status.signaling = "rehoming";
    setPill($("#connection"), "Server restarted: reconnecting…", "warn");
    awaitingMove = setTimeout(() => fatal({ code, message }), 10000);
    return;
  }
  clearTimeout(awaitingMove);
  awaitingMove = null;
  closeLink();
  if (code === 4401) {
    localStorage.removeItem(TOKEN_KEY);
    showSignIn("The server no longer accepts this token. Sign in again.");
  } else if (code === 4404) {
    // The room expired or the server forgot it: open a fresh one, and say the old phone link is void.
    sessionStorage.removeItem(ROOM_KEY);
    notice("The previous room has expired. A new room is open: scan the new code with the phone.");
    joinRoom(null);
  } else if (code === 4409) {
    setPill($("#connection"), "Room full", "error");
    notice("This room already has as many viewers as it allows. Close another viewer, or open a new room.");
  } else if (code === 4410) {
    setPill($("#connection"), "Opened elsewhere", "error");
    notice("This room was taken over by another tab. Reload to rejoin.");
  } else {
    setPill($("#connection"), "Disconnected", "error");
    notice(message || "The connection to the server was closed.");
  }
  updateStage();
}

function notice(text) {
  const box = $("#notice");
  box.textContent = text;
  show(box, Boolean(text));
}

// ---- the peer connection to the phone -----------------------------------------------------------------

async function receive(frame) {
  switch (frame.type) {
    case "offer": {
      const session = sdpSessionId(frame.sdp);
      // A different phone, or the same phone after it started over: replace the connection.
      if (link && (link.peerId !== frame.from || (linkSession && session !== linkSession))) closeLink();
      if (!link) openLink(frame.from);
      linkSession = session;
      await link.receiveDescription("offer", frame.sdp);
      break;
    }
    case "answer":
      if (link?.peerId === frame.from) await link.receiveDescription("answer", frame.sdp);
      break;
    case "candidate":
      if (link?.peerId === frame.from) await link.receiveCandidate(frame.candidate);
      break;
    case "peer-left":
      if (link?.peerId === frame.peer_id) closeLink();
      break;
    case "peer-joined":
      updateStage();
      break;
    case "error":
      status.lastError = { code: frame.code, message: frame.message };
      break;
  }
  updateStage();
}

function openLink(peerId) {
  link = new PeerLink({ peerId, polite: true, iceServers, send: (frame) => signaling?.send(frame) });
  const mine = link;
  mine.addEventListener("control", ({ detail }) => {
    if (link === mine) control(detail);
  });
  status.peer = "new";
  link.addEventListener("track", ({ detail }) => {
    const stream = detail.streams[0] || new MediaStream([detail.track]);
    if (video.srcObject !== stream) video.srcObject = stream;
    video.play().catch(() => {}); // muted autoplay is allowed; a failure here only delays the picture
  });
  link.addEventListener("state", ({ detail }) => {
    status.peer = detail.state;
    updateStage();
  });
}

/** Messages from the phone on the control channel, when the server forgot our room. */
function control(message) {
  if (message.type === "open-room") {
    clearTimeout(awaitingMove);
    awaitingMove = null;
    signaling?.stop();
    joinRoom(null, "room-opened");
  } else if (message.type === "move" && ID_PATTERN.test(message.room || "") && ID_PATTERN.test(message.peer_id || "")) {
    clearTimeout(awaitingMove);
    awaitingMove = null;
    link.peerId = message.peer_id; // the phone's id in the new room; same connection
    if (status.room !== message.room || !signaling) {
      signaling?.stop();
      joinRoom(message.room, "moved");
    }
  }
}

function closeLink() {
  link?.close();
  link = null;
  linkSession = null;
  lastStats = null;
  status.peer = "none";
  video.srcObject = null;
  overlay.clear();
  status.faces = [];
}

video.addEventListener("playing", updateStage);
video.addEventListener("resize", () => overlay.draw(tracker?.faces || []));

function updateStage() {
  const live = Boolean(link && video.srcObject && status.peer === "connected");
  const reconnecting = link && (status.peer === "disconnected" || status.peer === "failed");
  let title = "Waiting for the camera";
  let hint = "Scan the QR code with the phone you want to use as a camera.";
  if (status.signaling === "reconnecting") {
    title = "Reconnecting to the server…";
    hint = live ? "" : "The video comes back by itself when the connection returns.";
  } else if (reconnecting) {
    title = "Reconnecting to the camera…";
    hint = "The phone may have changed networks or locked its screen.";
  } else if (link && !live) {
    title = "Camera found, connecting…";
    hint = "";
  }
  if (status.state !== "signed-out") setState(live ? "live" : "waiting");
  show($("#stage-empty"), !live || reconnecting);
  $("#stage-title").textContent = title;
  $("#stage-hint").textContent = hint;
  if (live && status.signaling === "joined") setPill($("#connection"), "Live", "ok");
}

// ---- face detection -----------------------------------------------------------------------------------

async function startDetection() {
  if (landmarker) return;
  $("#model-status").textContent = "Loading the face model…";
  try {
    const loaded = await loadLandmarker();
    landmarker = loaded.landmarker;
    overlay.setConnections(loaded.connections);
  } catch (error) {
    status.model = "error";
    $("#model-status").textContent = `Face detection is unavailable: ${error.message || error}`;
    return;
  }
  status.model = "ready";
  $("#model-status").textContent = "Runs in this browser; landmarks never leave this page.";
  tracker = new FaceTracker(video, landmarker);
  tracker.addEventListener("result", ({ detail }) => {
    overlay.draw(detail.faces);
    status.faces = detail.faces.map((landmarks, index) => ({ landmarks: landmarks.length, box: detail.boxes[index] }));
  });
  tracker.start();
}

$("#overlay-toggle").addEventListener("change", (event) => {
  overlay.visible = event.target.checked;
  overlay.draw(tracker?.faces || []);
});
for (const radio of document.querySelectorAll("input[name=overlay-mode]")) {
  radio.addEventListener("change", (event) => {
    overlay.mode = event.target.value;
    overlay.draw(tracker?.faces || []);
  });
}
new ResizeObserver(() => overlay.draw(tracker?.faces || [])).observe($("#stage"));

// ---- numbers on screen, twice a second ----------------------------------------------------------------

async function refreshNumbers() {
  const live = status.state === "live";
  const fps = tracker ? tracker.fps() : 0;
  status.detectionFps = fps;
  $("#face-count").textContent = live && tracker ? String(tracker.faces.length) : "–";
  $("#detect-fps").textContent = live && tracker ? `${fps.toFixed(0)} fps` : "–";
  $("#inference-ms").textContent = live && tracker ? `${tracker.inferenceMs.toFixed(0)} ms` : "–";
  $("#hud-faces").textContent = live && tracker ? `${tracker.faces.length} ${tracker.faces.length === 1 ? "face" : "faces"}` : "";
  $("#hud-fps").textContent = live && tracker ? `${fps.toFixed(0)} fps` : "";
  const { inbound, report } = link && live ? await link.stats() : { inbound: null, report: null };
  if (inbound) {
    $("#video-size").textContent = inbound.frameWidth ? `${inbound.frameWidth}×${inbound.frameHeight}` : "–";
    $("#video-fps").textContent = inbound.framesPerSecond ? `${Math.round(inbound.framesPerSecond)} fps` : "–";
    if (lastStats) {
      const seconds = (inbound.timestamp - lastStats.timestamp) / 1000;
      const kbps = seconds > 0 ? ((inbound.bytesReceived - lastStats.bytesReceived) * 8) / seconds / 1000 : 0;
      $("#video-bitrate").textContent = kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${kbps.toFixed(0)} kbit/s`;
    }
    $("#video-codec").textContent = codecName(report, inbound.codecId);
    lastStats = inbound;
  } else {
    for (const id of ["#video-size", "#video-fps", "#video-bitrate", "#video-codec"]) $(id).textContent = "–";
  }
}

function codecName(report, codecId) {
  const codec = codecId && report.get(codecId);
  return codec ? codec.mimeType.replace(/^video\//, "") : "–";
}

setInterval(() => refreshNumbers().catch(() => {}), 500);

// Leaving (reload, close): tell the server now, so the phone drops our connection at once.
window.addEventListener("pagehide", () => signaling?.stop());

takeFragment();
start();
