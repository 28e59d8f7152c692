// @ts-check
// anonballot: the front page (GET /), the rounds of this server with a link to each booth.
//
// GET api/rounds gives the round ids and states; each open round's signed manifest gives
// its title and windows (verified here, like the booth does, before it is shown), and its
// status the server's time, by which the page says which window is open now (the server's
// clock decides, not the device's).

import { apply, initI18n, onLanguageChange } from "./i18n.js";
import { apiUrl, request } from "./api.js";
import { explain, h, ht } from "./page.js";
import { openSignedManifest } from "./manifest.js";

const root = new URL(".", new URL(location.pathname, location.origin));
/**
 * The element of the page with this id.
 * @param {string} id
 * @returns {HTMLElement}
 */
function $(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

/**
 * @param {{round_id: string, state: string}} entry a round of GET api/rounds
 * @returns {Promise<HTMLElement>}
 */
async function roundItem(entry) {
  const booth = new URL(`r/${encodeURIComponent(entry.round_id)}`, root).href;
  let round = null;
  try {
    round = await openSignedManifest(await request(apiUrl(root, `rounds/${encodeURIComponent(entry.round_id)}/manifest`)));
  } catch {
    // listed by its id only
  }
  const title = round ? h("span", { "data-label": JSON.stringify(round.manifest.title) }) : h("span", { text: entry.round_id });
  const item = h("li", { class: "round", "data-round": entry.round_id }, h("h3", {}, title));
  if (round) {
    const m = round.manifest;
    // Both windows, in a two-phase round the code is activated days before voting opens.
    item.append(
      ht("p", "booth.window.issuance", { opens: { $time: m.issuance.opens }, closes: { $time: m.issuance.closes } }, { class: "window" }),
      ht("p", "booth.window.voting", { opens: { $time: m.voting.opens }, closes: { $time: m.voting.closes } }, { class: "window" }),
    );
  }
  let now = "";
  if (round && entry.state === "open") {
    try {
      const status = await request(apiUrl(root, `rounds/${encodeURIComponent(entry.round_id)}/status`));
      const time = Date.parse(status?.now);
      if (Number.isFinite(time)) now = nowKey(round.manifest, time);
    } catch {
      // the windows above say it all
    }
    if (now) item.append(ht("p", now, undefined, { class: "now" }));
  }
  if (entry.state === "open") {
    // Before voting opens, the booth activates the code: the button says so.
    const enter = now === "index.now.issuance" ? "index.activate" : "index.enter";
    item.append(ht("a", enter, undefined, { class: "button primary", href: booth }));
  } else {
    item.append(ht("p", `index.state.${entry.state}`, undefined, { class: "hint" }));
  }
  return item;
}

/**
 * The catalog text of what a participant can do now in an open round.
 * @param {import("./manifest.js").Manifest} m
 * @param {number} now the server's time (ms)
 * @returns {string}
 */
function nowKey(m, now) {
  const inside = (/** @type {{opens: string, closes: string}} */ w) => Date.parse(w.opens) <= now && now < Date.parse(w.closes);
  if (now >= Date.parse(m.voting.closes)) return "index.now.over";
  if (inside(m.voting)) return inside(m.issuance) ? "index.now.voting" : "index.now.voting_only";
  if (inside(m.issuance)) return "index.now.issuance";
  return now < Date.parse(m.issuance.opens) ? "index.now.before" : "index.now.between";
}

async function main() {
  await initI18n();
  onLanguageChange(() => apply(document));
  const status = $("open-status");
  try {
    const rounds = await request(apiUrl(root, "rounds"));
    const list = Array.isArray(rounds) ? rounds.filter((r) => r && typeof r.round_id === "string") : [];
    const open = list.filter((r) => r.state === "open");
    const past = list.filter((r) => r.state === "closed" || r.state === "tallied");
    $("open-rounds").replaceChildren(...(await Promise.all(open.map(roundItem))));
    $("past-rounds").replaceChildren(...(await Promise.all(past.map(roundItem))));
    $("past").hidden = past.length === 0;
    if (open.length) status.hidden = true;
    else status.replaceChildren(ht("span", "index.none_open"));
  } catch (error) {
    status.replaceChildren(ht("span", explain(error).key));
    status.classList.add("field-error");
  }
  apply(document);
}

main();
