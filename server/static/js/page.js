// @ts-check
// anonballot pages: what the booth, the receipt checker and the list of rounds share.
//
// - h: builds DOM elements without innerHTML (no markup is ever parsed from data).
// - explain: the catalog's friendly text for an error, by its code (error-codes.js).
// The server's API (ApiError, request) is api.js, which has no DOM.

import { ApiError, messageOf } from "./api.js";
import { CryptoError } from "./errors.js";
import { isApiError } from "./error-codes.js";
import { has, tr } from "./i18n.js";

/**
 * @typedef {string | number | boolean | null | undefined | ((event: Event) => void) | Record<string, (event: Event) => void>} AttributeValue
 * @typedef {Record<string, AttributeValue>} Attributes
 * @typedef {Node | string | number | null | undefined | false} Leaf
 * @typedef {Leaf | Leaf[] | (Leaf | Leaf[])[]} Child
 */

/**
 * A DOM element: h("p", {class: "x", "data-y": 1}, "text", child, ...). Attributes `text`
 * (textContent) and `on` ({event: handler}) are special; null/false attributes are skipped.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attributes} [attributes]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") element.textContent = String(value);
    else if (name === "on" && typeof value === "object") for (const [event, fn] of Object.entries(value)) element.addEventListener(event, fn);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/**
 * An element whose text is the catalog's `key` (kept translated).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} key
 * @param {Record<string, unknown>} [params]
 * @param {Attributes} [attributes]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function ht(tag, key, params = undefined, attributes = {}) {
  return tr(h(tag, attributes), key, params);
}

/**
 * The catalog keys that explain `error` to people: {key, detail}. The server's refusals map
 * to "error.<code>" (every code of error-codes.js's API_ERRORS and LOCAL_ERRORS has one),
 * CryptoErrors to "error.crypto.<stage>" (the server answered something that does not
 * verify), anything else to "error.unexpected".
 * @param {unknown} error
 * @param {string} [stage]
 * @returns {{key: string, detail: string}}
 */
export function explain(error, stage = "generic") {
  if (error instanceof ApiError) {
    let key = isApiError(error.code) || has(`error.${error.code}`) ? `error.${error.code}` : "error.unexpected";
    if (/^http_5/.test(error.code)) key = "error.server_unavailable";
    return { key, detail: error.detail ? `${error.code}: ${error.detail}` : error.code };
  }
  if (error instanceof CryptoError) {
    const key = has(`error.crypto.${stage}`) ? `error.crypto.${stage}` : "error.crypto.generic";
    return { key, detail: `${error.code}: ${error.message}` };
  }
  return { key: "error.unexpected", detail: messageOf(error) };
}

/**
 * Show `element` and hide its siblings marked .view.
 * @param {HTMLElement} element
 */
export function showOnly(element) {
  for (const view of element.parentElement?.querySelectorAll(":scope > .view") ?? []) {
    if (view instanceof HTMLElement) view.hidden = view !== element;
  }
}

/**
 * Move the focus to `element` (a heading, say) for keyboard and screen reader users; with
 * `top`, show the page from its top (a new step), else scroll the element into view.
 * @param {HTMLElement | null} element
 * @param {{top?: boolean}} [options]
 */
export function focusOn(element, { top = false } = {}) {
  if (!element) return;
  if (!element.hasAttribute("tabindex")) element.setAttribute("tabindex", "-1");
  element.focus({ preventScroll: true });
  if (top) window.scrollTo(0, 0);
  else element.scrollIntoView({ block: "start" });
}
