// @ts-check
// anonballot pages: the message catalogs (static/i18n/vi.json, static/i18n/en.json).
//
// Every text of the pages comes from a catalog or from a label of the signed manifest
// ({"vi": ..., "en": ...}). Vietnamese is the default; the choice of English is remembered in
// localStorage. Elements remember what they show, so a language switch re-translates the page
// in place, without losing what the participant typed or where the focus was:
//
//   tr(element, "ballot.remaining", {n: 3})     text from the catalog, with parameters
//   lbl(element, {"vi": "Tốt", "en": "Good"})   a manifest label
//   attr(element, "aria-label", "key", params)  an attribute from the catalog
//
// Parameters may themselves be labels (objects), which are shown in the current language, or
// {"$time": "<RFC 3339 time>"}, shown as a local date and time in the current language, or
// {"$key": "<catalog key>"}, another catalog text.
// A key with a number parameter `n` uses "key.one" / "key.other" when the catalog has them.

export const LANGUAGES = ["vi", "en"];
const STORAGE_KEY = "anonballot:lang";
/** @typedef {Record<string, string>} Catalog flat: "area.key" -> text with {name} placeholders */
/** @typedef {Record<string, unknown>} Params */
/** @type {Record<string, Catalog>} */
const catalogs = {};
let current = "vi";
/** @type {((lang: string) => void)[]} */
const listeners = [];

/**
 * @returns {string | null}
 */
function stored() {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value !== null && LANGUAGES.includes(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * @param {string} lang
 * @returns {Promise<Catalog>}
 */
async function load(lang) {
  if (!catalogs[lang]) {
    // The server's Cache-Control decides: immutable under the versioned static folder, no-cache
    // (revalidated) elsewhere. The page's <link rel="preload"> of vi.json is this very request.
    const response = await fetch(new URL(`../i18n/${lang}.json`, import.meta.url));
    if (!response.ok) throw new Error(`the ${lang} message catalog did not load (${response.status})`);
    catalogs[lang] = await response.json();
  }
  return catalogs[lang];
}

/**
 * The current language: "vi" or "en".
 * @returns {string}
 */
export function lang() {
  return current;
}

/**
 * A manifest label ({"vi": ..., "en": ...}) in the current language (Vietnamese if missing).
 * @param {unknown} value
 * @returns {string}
 */
export function label(value) {
  if (value === null || typeof value !== "object") return String(value ?? "");
  const texts = /** @type {Record<string, unknown>} */ (value);
  return String(texts[current] ?? texts.vi ?? Object.values(texts)[0] ?? "");
}

/**
 * @param {string} key
 * @param {Params} params
 * @returns {string | undefined}
 */
function lookup(key, params) {
  const catalog = catalogs[current] ?? {};
  const fallback = catalogs.vi ?? {};
  if (typeof params.n === "number") {
    const form = `${key}.${new Intl.PluralRules(current).select(params.n)}`;
    const text = catalog[form] ?? catalog[`${key}.other`];
    if (text !== undefined) return text;
  }
  return catalog[key] ?? fallback[key] ?? fallback[`${key}.other`];
}

/**
 * Whether the catalog has `key`.
 * @param {string} key
 * @returns {boolean}
 */
export function has(key) {
  return lookup(key, {}) !== undefined;
}

/**
 * The catalog text of `key` with its {parameters} filled in.
 * @param {string} key
 * @param {Params} [params]
 * @returns {string}
 */
export function t(key, params = {}) {
  const text = lookup(key, params) ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in params)) return whole;
    const value = params[name];
    if (typeof value === "number") return value.toLocaleString(current === "vi" ? "vi-VN" : "en-GB");
    if (value !== null && typeof value === "object" && "$time" in value) return formatTime(String(value.$time));
    if (value !== null && typeof value === "object" && "$key" in value) return t(String(value.$key));
    return label(value);
  });
}

/**
 * Show the catalog text of `key` in `element` (and keep showing it in the current language).
 * @template {HTMLElement} E
 * @param {E} element
 * @param {string} key
 * @param {Params} [params]
 * @returns {E}
 */
export function tr(element, key, params = undefined) {
  element.dataset.i18n = key;
  if (params) element.dataset.i18nArgs = JSON.stringify(params);
  else delete element.dataset.i18nArgs;
  delete element.dataset.label;
  element.textContent = t(key, params ?? {});
  return element;
}

/**
 * Show a manifest label in `element`.
 * @template {HTMLElement} E
 * @param {E} element
 * @param {unknown} value
 * @returns {E}
 */
export function lbl(element, value) {
  element.dataset.label = JSON.stringify(value);
  delete element.dataset.i18n;
  delete element.dataset.i18nArgs;
  element.textContent = label(value);
  return element;
}

/**
 * Set an attribute (aria-label, title, placeholder ...) from the catalog.
 * @template {HTMLElement} E
 * @param {E} element
 * @param {string} name
 * @param {string} key
 * @param {Params} [params]
 * @returns {E}
 */
export function attr(element, name, key, params = undefined) {
  const all = JSON.parse(element.dataset.i18nAttrs ?? "{}");
  all[name] = [key, params ?? {}];
  element.dataset.i18nAttrs = JSON.stringify(all);
  element.setAttribute(name, t(key, params ?? {}));
  return element;
}

/**
 * Re-translate everything under `root` that tr, lbl and attr marked.
 * @param {ParentNode} [root]
 */
export function apply(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    if (!(element instanceof HTMLElement)) continue;
    element.textContent = t(element.dataset.i18n ?? "", element.dataset.i18nArgs ? JSON.parse(element.dataset.i18nArgs) : {});
  }
  for (const element of root.querySelectorAll("[data-label]")) {
    if (element instanceof HTMLElement) element.textContent = label(JSON.parse(element.dataset.label ?? "null"));
  }
  for (const element of root.querySelectorAll("[data-i18n-attrs]")) {
    if (!(element instanceof HTMLElement)) continue;
    for (const [name, [key, params]] of Object.entries(JSON.parse(element.dataset.i18nAttrs ?? "{}"))) element.setAttribute(name, t(key, params));
  }
}

function updateSwitches() {
  const other = current === "vi" ? "en" : "vi";
  for (const button of document.querySelectorAll("[data-lang-switch]")) {
    if (!(button instanceof HTMLElement)) continue;
    button.lang = other; // the button's text is in the other language
    button.textContent = t("lang.switch");
    button.setAttribute("aria-label", t("lang.switch_label"));
  }
}

/**
 * Switch the language of the page (and remember it).
 * @param {string} value
 */
export async function setLanguage(value) {
  if (!LANGUAGES.includes(value)) return;
  await load(value);
  current = value;
  try {
    localStorage.setItem(STORAGE_KEY, value);
  } catch {
    // a browser without storage simply forgets the choice
  }
  document.documentElement.lang = value;
  apply(document);
  updateSwitches();
  for (const fn of listeners) fn(value);
}

/**
 * Call `fn(lang)` after every language switch.
 * @param {(lang: string) => void} fn
 */
export function onLanguageChange(fn) {
  listeners.push(fn);
}

/** Load the catalogs, translate the page and wire the language switch buttons. */
export async function initI18n() {
  await load("vi");
  const wanted = stored() ?? "vi";
  if (wanted !== "vi") await load(wanted);
  current = wanted;
  document.documentElement.lang = current;
  apply(document);
  updateSwitches();
  for (const button of document.querySelectorAll("[data-lang-switch]")) {
    button.addEventListener("click", () => setLanguage(current === "vi" ? "en" : "vi"));
  }
}

/**
 * The district's time zone: the times of a round are shown as its invitation slips print
 * them (server/slips.py), whatever zone the device is set to (a borrowed laptop set to UTC
 * must not tell a participant that voting opens at 01:00). Viet Nam keeps UTC+7 all year.
 */
export const DISTRICT_TIME_ZONE = "Asia/Ho_Chi_Minh";

/**
 * A date-time of the manifest (RFC 3339) for people, in the current language and the
 * district's time zone.
 * @param {string} text
 * @returns {string}
 */
export function formatTime(text) {
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return new Intl.DateTimeFormat(current === "vi" ? "vi-VN" : "en-GB", { dateStyle: "full", timeStyle: "short", timeZone: DISTRICT_TIME_ZONE }).format(date);
}
