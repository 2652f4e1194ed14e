// Tiny DOM helpers shared by the two pages.

export const $ = (selector) => document.querySelector(selector);

/** Show or hide with the `hidden` attribute (the stylesheet makes it win over display rules). */
export function show(element, visible) {
  element.hidden = !visible;
}

/** A status pill: text plus a tone the stylesheet colours (neutral, ok, warn, error). */
export function setPill(element, text, tone) {
  element.textContent = text;
  element.dataset.tone = tone;
}
