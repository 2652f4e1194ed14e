// Draws face landmarks on a canvas laid exactly over a <video> shown with `object-fit: contain`: the picture
// is scaled to fit and centred, so normalized landmark coordinates map into that letterboxed rectangle.

/** The rectangle a srcW x srcH picture occupies inside a boxW x boxH box under object-fit: contain. */
export function containRect(boxW, boxH, srcW, srcH) {
  if (!boxW || !boxH || !srcW || !srcH) return { x: 0, y: 0, width: 0, height: 0 };
  const scale = Math.min(boxW / srcW, boxH / srcH);
  const width = srcW * scale;
  const height = srcH * scale;
  return { x: (boxW - width) / 2, y: (boxH - height) / 2, width, height };
}

/** Normalized (0..1) bounding box of one face's landmarks. */
export function boundingBox(landmarks) {
  let xMin = Infinity, yMin = Infinity, xMax = -Infinity, yMax = -Infinity;
  for (const p of landmarks) {
    if (p.x < xMin) xMin = p.x;
    if (p.x > xMax) xMax = p.x;
    if (p.y < yMin) yMin = p.y;
    if (p.y > yMax) yMax = p.y;
  }
  return { xMin, yMin, xMax, yMax };
}

const STYLE = {
  mesh: "rgba(226, 232, 240, 0.28)",
  contour: "rgba(45, 212, 191, 0.95)",
  box: "rgba(45, 212, 191, 1)",
  label: "#04201c",
};

export class Overlay {
  /** connections: {tesselation, contours} as [{start, end}] lists from FaceLandmarker. */
  constructor(canvas, video, connections) {
    this.canvas = canvas;
    this.video = video;
    this.connections = connections;
    this.ctx = canvas.getContext("2d");
    this.mode = "mesh"; // "mesh" | "contours"
    this.visible = true;
  }

  setConnections(connections) {
    this.connections = connections;
  }

  /** Match the canvas backing store to its on-screen size (CSS pixels x devicePixelRatio). */
  fitCanvas() {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.round(this.canvas.clientWidth * ratio);
    const height = Math.round(this.canvas.clientHeight * ratio);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    return ratio;
  }

  clear() {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  draw(faces) {
    const ratio = this.fitCanvas();
    this.clear();
    if (!this.visible || !faces.length) return;
    const rect = containRect(this.canvas.width, this.canvas.height, this.video.videoWidth, this.video.videoHeight);
    const ctx = this.ctx;
    const toX = (p) => rect.x + p.x * rect.width;
    const toY = (p) => rect.y + p.y * rect.height;
    const lines = (landmarks, list, color, width) => {
      if (!list) return;
      ctx.beginPath();
      for (const { start, end } of list) {
        const a = landmarks[start], b = landmarks[end];
        if (!a || !b) continue;
        ctx.moveTo(toX(a), toY(a));
        ctx.lineTo(toX(b), toY(b));
      }
      ctx.strokeStyle = color;
      ctx.lineWidth = width * ratio;
      ctx.stroke();
    };
    faces.forEach((landmarks, index) => {
      if (this.mode === "mesh") lines(landmarks, this.connections?.tesselation, STYLE.mesh, 0.6);
      lines(landmarks, this.connections?.contours, STYLE.contour, this.mode === "mesh" ? 1.2 : 1.8);
      const box = boundingBox(landmarks);
      const x = toX({ x: box.xMin }), y = toY({ y: box.yMin });
      const w = (box.xMax - box.xMin) * rect.width, h = (box.yMax - box.yMin) * rect.height;
      ctx.strokeStyle = STYLE.box;
      ctx.lineWidth = 2 * ratio;
      ctx.strokeRect(x, y, w, h);
      const label = `Face ${index + 1}`;
      ctx.font = `600 ${12 * ratio}px system-ui, sans-serif`;
      const pad = 4 * ratio;
      const labelW = ctx.measureText(label).width + 2 * pad;
      const labelH = 18 * ratio;
      const labelY = y - labelH >= 0 ? y - labelH : y;
      ctx.fillStyle = STYLE.box;
      ctx.fillRect(x - ctx.lineWidth / 2, labelY, labelW, labelH);
      ctx.fillStyle = STYLE.label;
      ctx.textBaseline = "middle";
      ctx.fillText(label, x + pad, labelY + labelH / 2);
    });
  }
}
