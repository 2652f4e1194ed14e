// MediaPipe FaceLandmarker on a <video>, entirely in this browser: the WASM, the JS and the model come
// from our own server, and landmarks never leave the page.

import { boundingBox } from "./overlay.js";

const VENDOR = "/static/vendor/tasks-vision";
const FPS_WINDOW_MS = 1000;

export async function loadLandmarker({ modelUrl = "/static/models/face_landmarker.task", numFaces = 4 } = {}) {
  const vision = await import("/static/vendor/tasks-vision/vision_bundle.mjs");
  const fileset = await vision.FilesetResolver.forVisionTasks(new URL(`${VENDOR}/wasm`, location.href).href);
  const landmarker = await vision.FaceLandmarker.createFromOptions(fileset, {
    // CPU: works everywhere, headless included; ~25 ms per 512x512 frame on a laptop core.
    baseOptions: { modelAssetPath: new URL(modelUrl, location.href).href, delegate: "CPU" },
    runningMode: "VIDEO",
    numFaces,
  });
  const { FaceLandmarker } = vision;
  const connections = {
    tesselation: FaceLandmarker.FACE_LANDMARKS_TESSELATION,
    contours: FaceLandmarker.FACE_LANDMARKS_CONTOURS,
  };
  return { landmarker, connections };
}

/** Runs detection once per decoded video frame. Event "result": {faces, fps, inferenceMs}. */
export class FaceTracker extends EventTarget {
  constructor(video, landmarker) {
    super();
    this.video = video;
    this.landmarker = landmarker;
    this.running = false;
    this.lastTimestamp = -1;
    this.detectedAt = [];
    this.handle = null;
    this.faces = [];
    this.inferenceMs = 0;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stop before landmarker.close(): a detect call after close aborts the WASM module. */
  stop() {
    this.running = false;
    if (this.handle !== null) {
      if ("cancelVideoFrameCallback" in this.video) this.video.cancelVideoFrameCallback(this.handle);
      else cancelAnimationFrame(this.handle);
    }
    this.handle = null;
  }

  schedule() {
    if (!this.running) return;
    this.handle = "requestVideoFrameCallback" in this.video
      ? this.video.requestVideoFrameCallback(() => this.step())
      : requestAnimationFrame(() => this.step());
  }

  step() {
    this.handle = null;
    if (!this.running) return;
    const video = this.video;
    if (video.readyState >= 2 && video.videoWidth > 0) {
      const now = performance.now();
      const timestamp = Math.max(this.lastTimestamp + 1, Math.round(now)); // must strictly increase
      this.lastTimestamp = timestamp;
      try {
        const result = this.landmarker.detectForVideo(video, timestamp);
        this.inferenceMs = performance.now() - now;
        this.faces = result.faceLandmarks;
        this.detectedAt.push(now);
        this.dispatchEvent(new CustomEvent("result", { detail: this.summary() }));
      } catch (error) {
        this.dispatchEvent(new CustomEvent("error", { detail: error }));
      }
    }
    this.schedule();
  }

  /** Detections per second over the last second (decays to 0 when frames stop coming). */
  fps() {
    const cutoff = performance.now() - FPS_WINDOW_MS;
    while (this.detectedAt.length && this.detectedAt[0] < cutoff) this.detectedAt.shift();
    return this.detectedAt.length * (1000 / FPS_WINDOW_MS);
  }

  summary() {
    return {
      faces: this.faces,
      count: this.faces.length,
      boxes: this.faces.map(boundingBox),
      fps: this.fps(),
      inferenceMs: this.inferenceMs,
    };
  }
}
