// A QR code for the camera link, drawn on a canvas (qrcode-generator from npm, installed by `make assets`).

import qrcode from "/static/vendor/qrcode/qrcode.mjs";

const QUIET_ZONE = 4; // modules of white border the spec asks for; phone scanners need it

/** Draw `text` as a QR code (error correction M) filling `canvas` at `cssSize` CSS pixels. */
export function drawQr(canvas, text, cssSize = 220) {
  const qr = qrcode(0, "M");
  qr.addData(text, "Byte");
  qr.make();
  const modules = qr.getModuleCount();
  const total = modules + 2 * QUIET_ZONE;
  const ratio = window.devicePixelRatio || 1;
  const scale = Math.max(1, Math.floor((cssSize * ratio) / total)); // whole pixels per module: crisp edges
  canvas.width = canvas.height = total * scale;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#000";
  for (let row = 0; row < modules; row++) {
    for (let col = 0; col < modules; col++) {
      if (qr.isDark(row, col)) ctx.fillRect((col + QUIET_ZONE) * scale, (row + QUIET_ZONE) * scale, scale, scale);
    }
  }
  canvas.dataset.text = text;
}
