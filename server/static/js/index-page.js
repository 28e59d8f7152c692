// @ts-check
// anonballot: the front page (GET /), the rounds of this server with a link to each booth.
//
// GET api/rounds gives the round ids and states; each open round's signed manifest gives
// its title and windows (verified here, like the booth does, before it is shown).

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
    item.append(
      ht("p", "booth.window.voting", { opens: { $time: m.voting.opens }, closes: { $time: m.voting.closes } }, { class: "hint" }),
    );
  }
  if (entry.state === "open") {
    item.append(ht("a", "index.enter", undefined, { class: "button primary", href: booth }));
  } else {
    item.append(ht("p", `index.state.${entry.state}`, undefined, { class: "hint" }));
  }
  return item;
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
