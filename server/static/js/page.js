// anonballot pages: what the booth, the receipt checker and the list of rounds share.
//
// - apiUrl / request: the server's JSON API, relative to the page (so the pages also work
//   under a reverse proxy's path prefix). Every refusal of the server is a JSON body
//   {"error": code, "detail": sentence}; request() turns it into an ApiError with that code,
//   and a lost answer (no connection, a cut body) into an ApiError with the code "network".
// - h: builds DOM elements without innerHTML (no markup is ever parsed from data).
// - explain: the catalog's friendly text for an error, by its code.

import { CryptoError } from "./errors.js";
import { parse } from "./jcs.js";
import { has, t, tr } from "./i18n.js";

/** A refusal of the server ({"error", "detail"}) or a lost answer (code "network"). */
export class ApiError extends Error {
  constructor(status, code, detail) {
    super(`${code}: ${detail}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** The address of an API path, relative to the site's root `root` (a URL). */
export function apiUrl(root, path) {
  return new URL(`api/${path}`, root);
}

/**
 * Send a request and read the whole answer. `as` is "json" (strict JSON, protocol section
 * 2.1), "bytes" or "text". Throws ApiError on a refusal or a lost answer.
 */
export async function request(url, { method = "GET", json = undefined, body = undefined, as = "json" } = {}) {
  const init = { method, cache: "no-store", credentials: "same-origin", headers: {} };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["content-type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
    init.headers["content-type"] = "application/json";
  }
  let response;
  let data;
  try {
    response = await fetch(url, init);
    data = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    throw new ApiError(0, "network", String(error?.message ?? error));
  }
  if (!response.ok) {
    let code = `http_${response.status}`;
    let detail = "";
    try {
      const value = JSON.parse(new TextDecoder().decode(data));
      if (typeof value?.error === "string") code = value.error;
      if (typeof value?.detail === "string") detail = value.detail;
    } catch {
      // not the server's JSON error (a proxy's page, say)
    }
    throw new ApiError(response.status, code, detail);
  }
  if (as === "bytes") return data;
  if (as === "text") return new TextDecoder("utf-8", { fatal: false }).decode(data);
  try {
    return parse(data);
  } catch (error) {
    throw new ApiError(response.status, "bad_answer", String(error?.message ?? error));
  }
}

/**
 * A DOM element: h("p", {class: "x", "data-y": 1}, "text", child, ...). Attributes `text`
 * (textContent) and `on` ({event: handler}) are special; null/false attributes are skipped.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") element.textContent = value;
    else if (name === "on") for (const [event, fn] of Object.entries(value)) element.addEventListener(event, fn);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An element whose text is the catalog's `key` (kept translated). */
export function ht(tag, key, params = undefined, attributes = {}) {
  return tr(h(tag, attributes), key, params);
}

/**
 * The catalog keys that explain `error` to people: {key, params, detail}. ApiError codes map
 * to "error.<code>", CryptoErrors to "error.crypto.<stage>" (the server answered something
 * that does not verify), anything else to "error.unexpected".
 */
export function explain(error, stage = "generic") {
  if (error instanceof ApiError) {
    let key = has(`error.${error.code}`) ? `error.${error.code}` : "error.unexpected";
    if (/^http_5/.test(error.code)) key = "error.server_unavailable";
    return { key, detail: error.detail ? `${error.code}: ${error.detail}` : error.code };
  }
  if (error instanceof CryptoError) {
    const key = has(`error.crypto.${stage}`) ? `error.crypto.${stage}` : "error.crypto.generic";
    return { key, detail: `${error.code}: ${error.message}` };
  }
  return { key: "error.unexpected", detail: String(error?.message ?? error) };
}

/** Show `element` and hide its siblings marked .view. */
export function showOnly(element) {
  for (const view of element.parentElement.querySelectorAll(":scope > .view")) view.hidden = view !== element;
}

/**
 * Move the focus to `element` (a heading, say) for keyboard and screen reader users; with
 * `top`, show the page from its top (a new step), else scroll the element into view.
 */
export function focusOn(element, { top = false } = {}) {
  if (!element) return;
  if (!element.hasAttribute("tabindex")) element.setAttribute("tabindex", "-1");
  element.focus({ preventScroll: true });
  if (top) window.scrollTo(0, 0);
  else element.scrollIntoView({ block: "start" });
}
