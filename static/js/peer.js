// One RTCPeerConnection to one remote peer, negotiated with the "perfect negotiation" pattern: either side
// may (re)negotiate at any time; on a collision the polite side (the viewer) yields. ICE candidates that
// arrive before the remote description are buffered. A failed connection restarts ICE by itself.

const DISCONNECTED_GRACE_MS = 4000;

/** The session id in an SDP's o= line: a new id means the other side started over with a new connection. */
export function sdpSessionId(sdp) {
  const match = /^o=\S+ (\d+) /m.exec(sdp || "");
  return match ? match[1] : null;
}

/**
 * Events: "track" (RTCTrackEvent), "state" {state} with the RTCPeerConnection connectionState, "error",
 * "control" (a message on the control data channel).
 * `send(frame)` hands a signaling frame (offer/answer/candidate, without `to`) to the caller.
 * The impolite side (the phone) opens a small "control" data channel: the two pages use it to find each
 * other again when the server forgot their room (an app restart), without stopping the video.
 */
export class PeerLink extends EventTarget {
  constructor({ peerId, polite, iceServers, send }) {
    super();
    this.peerId = peerId;
    this.polite = polite;
    this.sendFrame = send;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.pendingCandidates = [];
    this.restartTimer = null;
    this.closed = false;
    this.pc = new RTCPeerConnection({ iceServers: iceServers || [] });
    this.pc.onnegotiationneeded = () => this.negotiate();
    this.pc.onicecandidate = ({ candidate }) => {
      this.send({ type: "candidate", candidate: candidate && candidate.candidate ? candidate.toJSON() : null });
    };
    this.pc.ontrack = (event) => this.dispatchEvent(new CustomEvent("track", { detail: event }));
    this.pc.onconnectionstatechange = () => this.connectionChanged();
    this.pc.oniceconnectionstatechange = () => {
      if (this.pc.iceConnectionState === "failed") this.restartIce();
    };
    this.control = null;
    if (polite) this.pc.ondatachannel = ({ channel }) => this.attachControl(channel);
    else this.attachControl(this.pc.createDataChannel("control"));
  }

  attachControl(channel) {
    if (channel.label !== "control") return;
    this.control = channel;
    channel.onmessage = ({ data }) => {
      let message;
      try {
        message = JSON.parse(data);
      } catch {
        return;
      }
      if (message && typeof message.type === "string") {
        this.dispatchEvent(new CustomEvent("control", { detail: message }));
      }
    };
  }

  /** Send on the control channel; false when it is not open (yet, or any more). */
  sendControl(message) {
    if (this.closed || this.control?.readyState !== "open") return false;
    this.control.send(JSON.stringify(message));
    return true;
  }

  get state() {
    return this.pc.connectionState;
  }

  send(frame) {
    if (!this.closed) this.sendFrame({ ...frame, to: this.peerId });
  }

  addStream(stream) {
    for (const track of stream.getTracks()) this.pc.addTrack(track, stream);
  }

  /** Swap the camera (front/back, resolution) without renegotiating. */
  async replaceVideoTrack(track) {
    for (const sender of this.pc.getSenders()) {
      if (sender.track?.kind === "video" || (sender.track === null && track.kind === "video")) {
        await sender.replaceTrack(track);
      }
    }
  }

  async negotiate() {
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.send({ type: "offer", sdp: this.pc.localDescription.sdp });
    } catch (error) {
      this.report(error);
    } finally {
      this.makingOffer = false;
    }
  }

  /** An offer or answer from the peer. Returns false when it belongs to a connection we no longer have. */
  async receiveDescription(type, sdp) {
    const description = { type, sdp };
    const collision = type === "offer" && (this.makingOffer || this.pc.signalingState !== "stable");
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return true;
    try {
      await this.pc.setRemoteDescription(description);
      if (type === "offer") {
        await this.pc.setLocalDescription();
        this.send({ type: "answer", sdp: this.pc.localDescription.sdp });
      }
    } catch (error) {
      this.report(error);
      return false;
    }
    await this.flushCandidates();
    return true;
  }

  async receiveCandidate(candidate) {
    if (!this.pc.remoteDescription) {
      this.pendingCandidates.push(candidate);
      return;
    }
    await this.addCandidate(candidate);
  }

  async flushCandidates() {
    const pending = this.pendingCandidates.splice(0);
    for (const candidate of pending) await this.addCandidate(candidate);
  }

  async addCandidate(candidate) {
    try {
      // null = end of candidates; addIceCandidate() without an argument says the same.
      await (candidate ? this.pc.addIceCandidate(candidate) : this.pc.addIceCandidate());
    } catch (error) {
      if (!this.ignoreOffer) this.report(error);
    }
  }

  connectionChanged() {
    const state = this.pc.connectionState;
    clearTimeout(this.restartTimer);
    if (state === "failed") this.restartIce();
    if (state === "disconnected") {
      // Often a short Wi-Fi hiccup that heals by itself; restart ICE if it doesn't.
      this.restartTimer = setTimeout(() => {
        if (this.pc.connectionState === "disconnected") this.restartIce();
      }, DISCONNECTED_GRACE_MS);
    }
    this.dispatchEvent(new CustomEvent("state", { detail: { state } }));
  }

  /** New ICE credentials and candidates; negotiationneeded sends the offer. */
  restartIce() {
    if (this.closed) return;
    this.pc.restartIce();
  }

  /** After signaling reconnected: an offer or candidates may have been lost while it was down. */
  recoverAfterReconnect() {
    if (this.closed) return;
    if (this.pc.signalingState === "have-local-offer") {
      this.send({ type: "offer", sdp: this.pc.localDescription.sdp }); // its answer may never have come
      return;
    }
    const state = this.pc.connectionState;
    if (state === "failed" || state === "disconnected") this.restartIce();
  }

  async stats() {
    const report = await this.pc.getStats();
    let inbound = null;
    let outbound = null;
    report.forEach((entry) => {
      if (entry.type === "inbound-rtp" && entry.kind === "video") inbound = entry;
      if (entry.type === "outbound-rtp" && entry.kind === "video") outbound = entry;
    });
    return { inbound, outbound, report };
  }

  report(error) {
    this.dispatchEvent(new CustomEvent("error", { detail: error }));
  }

  close() {
    this.closed = true;
    clearTimeout(this.restartTimer);
    this.pc.onnegotiationneeded = this.pc.onicecandidate = this.pc.ontrack = null;
    this.pc.onconnectionstatechange = this.pc.oniceconnectionstatechange = this.pc.ondatachannel = null;
    if (this.control) this.control.onmessage = null;
    this.pc.close();
  }
}
