// @ts-check
// anonballot: the receipt checker (GET /verify), every check in the browser.
//
// A receipt {round, leaf_index, leaf_hash, checkpoint, inclusion} (protocol 6.7) is checked
// against the server that holds its round, as `anonballot receipt verify` does:
//   1. the round: the server's round whose mid is the receipt's, its signed manifest;
//   2. inclusion: the checkpoint is signed by the round's log key and the inclusion proof
//      leads from the leaf hash to its root (receipt.js);
//   3. consistency: the latest checkpoint (the final one once the round is closed) extends
//      the receipt's, by the server's consistency proof (merkle.js), and agrees with the
//      signed close statement;
//   4. after the tally, how the ballot was counted: the leaf from the board (its hash is the
//      receipt's), the trustees' published releases (releases.js, protocol 7.2), the leaf
//      opened here (opening.js, protocol 7.3), and the signed results, whose list of invalid
//      ballots must agree with what the opening found.
//
// A participant who wrote down only the receipt code (20 hex digits) finds the ballot without
// naming the code to anyone: the page reads the round's whole board from its C2SP tlog-tiles
// log (/log/{round_id}/: the signed checkpoint, then every level-0 tile, tiles.js), checks
// that the leaf hashes rebuild the checkpoint's root, looks for the leaf hash whose receipt
// code it is, builds that leaf's inclusion proof itself (merkle.js) and hands the receipt so
// made to the receipt check above: one code path from there on, the tally's part included.
// The code arrives typed, or as /verify#receipt=...&round=... (taken out of the address).
//
// And whether an invitation code was used to take a ballot (a token): once the round is
// closed, its issuance ledger (protocol section 8, ledger.js) lists the pseudonym of every
// code that was, bound by the signed close statement. The page computes the code's pseudonym
// itself (codes.js) and looks it up: the code never leaves the device, not even in the
// address (arriving as /verify#code=...&round=..., the fragment is taken out at once).

import { apply, attr, initI18n, label, onLanguageChange, tr } from "./i18n.js";
import { ApiError, apiUrl, messageOf, request } from "./api.js";
import { explain, focusOn, h, ht } from "./page.js";
import { CryptoError } from "./errors.js";
import { b64uDecode, b64uEncode } from "./b64u.js";
import { equal, fromHex } from "./bytes.js";
import { parse, parseCanonical } from "./jcs.js";
import { openSignedManifest } from "./manifest.js";
import { verifySignedObject } from "./signing.js";
import { parseCheckpoint } from "./checkpoint.js";
import { HASH_SIZE, leafHash, rootAndInclusion, verifyConsistency } from "./merkle.js";
import { normalizeReceiptCode, parseReceipt, receiptCode, verifyReceipt } from "./receipt.js";
import { vouchers, witnessPolicy } from "./witness.js";
import { MAX_LEAVES, TILE_WIDTH, entryBundleOf, parseEntryBundle, readLeafHashes } from "./tiles.js";
import { countedReleases } from "./releases.js";
import { openLeaf } from "./opening.js";
import { stripWhiteSpace } from "./ballot.js";
import { PREFIX, sweepExpired } from "./booth-state.js";
import { formatCode, normalizeCode, pseudonym } from "./codes.js";
import { openLedger, wardOf } from "./ledger.js";

const root = new URL(".", new URL(location.pathname, location.origin));
/**
 * @typedef {import("./manifest.js").Manifest} Manifest
 * @typedef {import("./manifest.js").Round} Round
 * @typedef {Record<string, unknown>} Params
 * @typedef {{ok: (key?: string, params?: Params) => void, info: (key: string, params?: Params) => void, update: (key: string, params?: Params) => void, fail: (error: unknown) => void}} CheckItem
 */

/**
 * @template T
 * @typedef {{value: T, key?: string, params?: Params, skipOk?: boolean}} StepResult
 */

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

/** A check that failed: the catalog's key for it, and the technical detail. */
class CheckFailed extends Error {
  /**
   * @param {string} key
   * @param {string} [detail]
   * @param {Params} [params]
   */
  constructor(key, detail = "", params = {}) {
    super(detail || key);
    this.key = key;
    this.params = params;
    this.detail = detail;
  }
}

/**
 * @param {unknown} v
 * @returns {v is Record<string, any>}
 */
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// ------------------------------------------------------------------ the checks, one by one

/**
 * A list item that shows a check while it runs, then passed / failed / for information.
 * @param {HTMLElement} list
 * @param {string} key
 * @param {Params} [params]
 * @returns {CheckItem}
 */
function checkItem(list, key, params) {
  const item = h("li", { class: "pending" }, ht("span", key, params, { class: "check-text" }));
  list.append(item);
  const text = /** @type {HTMLElement} */ (item.querySelector(".check-text"));
  return {
    ok(newKey = key, newParams = params) {
      item.className = "ok";
      tr(text, newKey, newParams);
    },
    info(newKey, newParams) {
      item.className = "info";
      tr(text, newKey, newParams);
    },
    update(newKey, newParams) {
      tr(text, newKey, newParams); // still running
    },
    fail(error) {
      item.className = "fail";
      const reason = h("span", { class: "check-reason" });
      if (error instanceof CheckFailed) tr(reason, error.key, error.params);
      else tr(reason, explain(error, "verify").key);
      const detail = error instanceof CheckFailed ? error.detail : explain(error, "verify").detail;
      item.append(" ", reason, detail ? h("code", { class: "check-detail", text: detail }) : "");
    },
  };
}

/**
 * Run one check shown as `key`; its value, or the error it failed with (shown, and thrown).
 * @param {HTMLElement} list
 * @param {string} key
 * @param {Params | undefined} params
 * @template T
 * @param {(item: CheckItem) => Promise<StepResult<T>>} fn
 * @returns {Promise<T>}
 */
async function step(list, key, params, fn) {
  const item = checkItem(list, key, params);
  try {
    const out = await fn(item);
    if (!out.skipOk) item.ok(out.key ?? key, out.params ?? params);
    return out.value;
  } catch (error) {
    item.fail(error);
    throw error;
  }
}

/**
 * @param {string} mid
 * @returns {Promise<string>} the id of the server's round with this mid
 */
async function findRound(mid) {
  const rounds = await request(apiUrl(root, "rounds"));
  const entry = Array.isArray(rounds) ? rounds.find((/** @type {any} */ r) => r?.mid === mid) : undefined;
  if (!entry) throw new CheckFailed("verify.fail.no_round", mid);
  return entry.round_id;
}

/**
 * A document of the server that may not exist yet (null then).
 * @param {URL} url
 * @param {"json" | "text"} [as]
 * @returns {Promise<any>}
 */
async function optional(url, as = "json") {
  try {
    return await request(url, { as });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/**
 * The opened ballot as the review step showed it: every rating and comment given.
 * @param {Manifest} manifest
 * @param {string} ward
 * @param {import("./ballot.js").Ballot} ballot
 * @returns {HTMLElement}
 */
function countedView(manifest, ward, ballot) {
  const q = manifest.questionnaire;
  const levels = new Map([...q.scale, ...(q.abstain ? [q.abstain] : [])].map((l) => [l.id, l]));
  const wardInfo = manifest.wards.find((w) => w.id === ward);
  const parts = manifest.subjects
    .filter((s) => s.ward === ward)
    .map((subject) => {
      const answer = ballot.answers[subject.id];
      const role = manifest.roles.find((r) => r.id === subject.role);
      const comments = q.comments
        .map((f) => /** @type {[import("./manifest.js").CommentField, string]} */ ([f, stripWhiteSpace(answer.comments[f.id] ?? "")]))
        .filter(([, text]) => text !== "");
      return h(
        "section",
        { class: "review-subject counted-subject", "data-subject": subject.id },
        h("h3", {}, h("span", { "data-label": JSON.stringify(subject.name), text: label(subject.name) }), role ? h("span", { class: "subject-role", "data-label": JSON.stringify(role.title), text: label(role.title) }) : null),
        h(
          "table",
          { class: "review-table" },
          h("thead", {}, h("tr", {}, ht("th", "review.criterion", undefined, { scope: "col" }), ht("th", "review.rating", undefined, { scope: "col" }))),
          h(
            "tbody",
            {},
            q.criteria.map((c) => {
              const level = levels.get(answer.ratings[c.id]);
              if (!level) throw new Error(`${subject.id}.${c.id}: not a level of the scale`); // validateBallot checked it
              return h(
                "tr",
                { "data-criterion": c.id, "data-level": level.id },
                h("th", { scope: "row", "data-label": JSON.stringify(c.label), text: label(c.label) }),
                h("td", { "data-label": JSON.stringify(level.label), text: label(level.label) }),
              );
            }),
          ),
        ),
        comments.length
          ? h("dl", { class: "review-comments" }, comments.map(([f, text]) => [h("dt", { "data-label": JSON.stringify(f.label), text: label(f.label) }), h("dd", { text })]))
          : ht("p", "review.no_comments", undefined, { class: "hint" }),
      );
    });
  return h("div", { class: "counted" }, wardInfo ? ht("p", "verify.counted_ward", { ward: wardInfo.name }) : null, ...parts);
}

/**
 * Check a receipt (parsed JSON) step by step, each shown as it runs in `section` (the page's
 * #result, or the receipt-code lookup's) under a heading `headingTag`.
 * @param {unknown} value
 * @param {HTMLElement} [section]
 * @param {"h2" | "h3" | "h4"} [headingTag]
 */
async function check(value, section = $("result"), headingTag = "h2") {
  section.hidden = false;
  const list = h("ul", { class: "checks" });
  const heading = ht(headingTag, "verify.result_heading", undefined, { id: `${section.id}-heading` });
  const summary = h("p", { class: "summary", role: "status" });
  const codeLine = h("p", { class: "receipt-code small", id: section.id === "result" ? "checked-code" : `${section.id}-code` });
  section.replaceChildren(heading, codeLine, list, summary);
  section.setAttribute("aria-busy", "true");
  focusOn(heading);
  try {
    const receipt = await step(list, "verify.check.format", undefined, async () => {
      try {
        return { value: parseReceipt(value), key: "verify.ok.format" };
      } catch (error) {
        throw new CheckFailed("verify.fail.format", messageOf(error));
      }
    });
    codeLine.textContent = receiptCode(receipt.leafHash);
    const { roundId, round } = await step(list, "verify.check.round", undefined, async () => {
      const roundId = await findRound(receipt.round);
      const signed = await request(apiUrl(root, `rounds/${roundId}/manifest`));
      let round;
      try {
        round = await openSignedManifest(signed);
      } catch (error) {
        throw new CheckFailed("verify.fail.manifest", messageOf(error));
      }
      if (round.mid !== receipt.round) throw new CheckFailed("verify.fail.manifest", "the server's manifest is not the receipt's round");
      return { value: { roundId, round }, key: "verify.ok.round", params: { title: round.manifest.title } };
    });
    const api = (/** @type {string} */ path) => apiUrl(root, `rounds/${roundId}/${path}`);
    const mine = await step(list, "verify.check.inclusion", undefined, async () => {
      try {
        const { checkpoint } = await verifyReceipt(value, round);
        return { value: checkpoint, key: "verify.ok.inclusion", params: { n: receipt.leafIndex + 1, size: Number(checkpoint.size) } };
      } catch (error) {
        throw new CheckFailed("verify.fail.inclusion", messageOf(error));
      }
    });
    const organizerKey = b64uDecode(round.manifest.organizer_key, 32);
    /** @type {any} the signed close statement's value, once the round is closed */
    let close = null;
    const latest = await step(list, "verify.check.consistency", undefined, async () => {
      const signedClose = await optional(api("close"));
      if (signedClose !== null) {
        try {
          close = await verifySignedObject(signedClose, "close", organizerKey);
        } catch (error) {
          throw new CheckFailed("verify.fail.close", messageOf(error));
        }
      }
      const note = await request(api("checkpoint"), { as: "text" });
      let cp;
      try {
        cp = await parseCheckpoint(note, round.origin, round.logKey);
      } catch (error) {
        throw new CheckFailed("verify.fail.consistency", messageOf(error));
      }
      if (cp.size < mine.size) throw new CheckFailed("verify.fail.cut", `${cp.size} < ${mine.size}`);
      const answer = await request(api(`proof/consistency?old=${mine.size}&new=${cp.size}`));
      try {
        const proof = (answer?.proof ?? null).map((/** @type {unknown} */ p) => b64uDecode(p, 32, "proof"));
        await verifyConsistency(mine.size, cp.size, proof, mine.root, cp.root);
      } catch (error) {
        throw new CheckFailed("verify.fail.consistency", messageOf(error));
      }
      if (close !== null && (close.round !== round.mid || BigInt(close.tree_size) !== cp.size || close.root !== b64uEncode(cp.root))) {
        throw new CheckFailed("verify.fail.close", "the close statement is not the final checkpoint's");
      }
      return { value: { cp, note }, key: close ? "verify.ok.final" : "verify.ok.latest", params: { size: Number(cp.size) } };
    });
    // which of the round's witnesses vouch for that board (protocol section 6.9)
    const policy = await witnessPolicy(round.manifest.witnesses);
    if (policy !== null) {
      const names = (await vouchers(latest.note, policy.witnesses)).map((w) => w.name);
      const params = { count: names.length, total: policy.witnesses.length, quorum: policy.quorum, names: names.join(", ") || "—" };
      const item = checkItem(list, "verify.check.witnesses");
      if (names.length >= policy.quorum) item.ok("verify.ok.witnesses", params);
      else item.info("verify.witnesses_pending", params);
    }
    /** @type {unknown} */
    let signedResults;
    try {
      signedResults = await optional(api("results"));
    } catch (error) {
      // a restricted round (protocol section 4.2): the results are for holders of an access
      // token; the receipt's checks above stand on the public board alone
      if (!(error instanceof ApiError && error.code === "restricted")) throw error;
      checkItem(list, "verify.restricted").info("verify.restricted");
      tr(summary, "verify.summary_ok");
      return;
    }
    if (signedResults === null) {
      checkItem(list, "verify.not_tallied").info("verify.not_tallied");
      tr(summary, "verify.summary_ok");
      return;
    }
    /** @type {(import("./opening.js").Opened & {ward: string}) | undefined} */
    let outcome;
    await step(list, "verify.check.counted", undefined, async () => {
      if (close === null) throw new CheckFailed("verify.fail.counted", "results without a close statement");
      let results;
      try {
        results = await verifySignedObject(signedResults, "results", organizerKey);
      } catch (error) {
        throw new CheckFailed("verify.fail.counted", messageOf(error));
      }
      if (results.round !== round.mid || results.tree_size !== close.tree_size || results.root !== close.root) {
        throw new CheckFailed("verify.fail.counted", "the results are not for the closed board");
      }
      // the whole entry bundle that holds the ballot, from the log's tiles: the server learns
      // which 256 ballots were read, never which one (a request for the leaf alone would tell)
      const bundle = entryBundleOf(receipt.leafIndex, close.tree_size);
      const log = new URL(`log/${encodeURIComponent(roundId)}/`, root);
      let bytes;
      try {
        bytes = parseEntryBundle(await request(new URL(bundle.path, log), { as: "bytes" }), bundle.width)[bundle.offset];
      } catch (error) {
        if (error instanceof ApiError) throw error;
        throw new CheckFailed("verify.fail.leaf", messageOf(error));
      }
      if (!equal(await leafHash(bytes), receipt.leafHash)) throw new CheckFailed("verify.fail.leaf", `leaf ${receipt.leafIndex}`);
      let leaf;
      try {
        leaf = parseCanonical(bytes);
        if (leaf.round !== round.mid || leaf.ballot.shares.length !== round.manifest.trustees.length) throw new Error("malformed leaf");
      } catch (error) {
        throw new CheckFailed("verify.fail.leaf", messageOf(error));
      }
      const released = await countedReleases(await request(api("releases")), round.manifest, round.mid);
      if (released.map((r) => r.id).join(",") !== (results.trustees ?? []).join(",")) {
        throw new CheckFailed("verify.fail.releases", "the valid releases are not the trustees the results name");
      }
      if (released.length < round.manifest.threshold) throw new CheckFailed("verify.fail.releases", "fewer valid releases than the threshold");
      const opened = { ...(await openLeaf(leaf, round.manifest, round.mid, released)), ward: String(leaf.ward) };
      outcome = opened;
      /** @type {unknown[]} */
      const invalid = results.invalid ?? [];
      const published = invalid.filter((e) => isObject(e) && e.leaf_index === receipt.leafIndex).map((e) => String(isObject(e) && e.reason));
      const expected = opened.reason ? [opened.reason] : [];
      if (published.join(",") !== expected.join(",")) {
        throw new CheckFailed("verify.fail.disagree", `opened: ${opened.reason ?? "valid"}; results: ${published.join(", ") || "valid"}`);
      }
      return opened.reason
        ? { value: undefined, key: "verify.ok.counted_invalid", params: { reason: { $key: `reason.${opened.reason}.short` } } }
        : { value: undefined, key: "verify.ok.counted_valid" };
    });
    if (outcome?.reason) {
      section.append(h("div", { class: "notice" }, ht("p", `reason.${outcome.reason}`)));
    } else if (outcome?.ballot) {
      section.append(countedView(round.manifest, outcome.ward, outcome.ballot));
    }
    tr(summary, "verify.summary_ok");
  } catch (error) {
    tr(summary, "verify.summary_fail");
    summary.classList.add("fail");
    if (!(error instanceof CheckFailed) && !(error instanceof ApiError) && !(error instanceof CryptoError)) console.warn(error);
  } finally {
    section.removeAttribute("aria-busy");
  }
}

// ------------------------------------------------------------------ input

/** @returns {import("./booth-state.js").State[]} the receipts kept by the booth on this device */
function deviceReceipts() {
  /** @type {import("./booth-state.js").State[]} */
  const out = [];
  try {
    // Expired receipts go first. This page knows only the device's clock, which may be
    // wrong: it removes receipts only, never a vote under way (the booth does, by the
    // server's clock).
    sweepExpired(localStorage, Date.now(), ["done"]);
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key?.startsWith(PREFIX) || key.endsWith(":current")) continue;
      const state = JSON.parse(localStorage.getItem(key) ?? "null");
      if (state?.phase === "done" && isObject(state.receipt)) out.push(state);
    }
  } catch {
    // no storage: nothing to list
  }
  return out.sort((a, b) => a.round_id.localeCompare(b.round_id) || (a.receipt_code ?? "").localeCompare(b.receipt_code ?? ""));
}

function showDeviceReceipts() {
  const states = deviceReceipts();
  $("device-receipts").hidden = states.length === 0;
  $("device-list").replaceChildren(
    ...states.map((state) =>
      h(
        "li",
        {},
        h("span", { class: "device-round", text: state.round_id }),
        " ",
        h("span", { class: "receipt-code small", text: state.receipt_code }),
        " ",
        attr(
          ht("button", "verify.check_this", undefined, { type: "button", class: "secondary", "data-code": state.receipt_code, on: { click: () => check(state.receipt) } }),
          "aria-label",
          "verify.check_this_label",
          { code: state.receipt_code },
        ),
      ),
    ),
  );
}

/** @param {string | null} key the catalog text of what is wrong with the input, or none */
function inputError(key) {
  const error = $("input-error");
  if (key) tr(error, key);
  error.hidden = !key;
  $("receipt-text").toggleAttribute("aria-invalid", Boolean(key));
}

/** @returns {HTMLTextAreaElement} */
function receiptText() {
  return /** @type {HTMLTextAreaElement} */ ($("receipt-text"));
}

// ------------------------------------------------------------------ find a ballot by its receipt code

/** The tiles asked for at once. */
const TILE_CONCURRENCY = 6;

/** @param {string | null} key the catalog text of what is wrong with the receipt code, or none */
function lookupError(key) {
  const error = $("lookup-error");
  if (key) tr(error, key);
  error.hidden = !key;
  $("lookup-input").toggleAttribute("aria-invalid", Boolean(key));
}

/**
 * The index of the first leaf hash (packed, 32 bytes each) that begins with `prefix`, or -1.
 * @param {Uint8Array} packed
 * @param {Uint8Array} prefix
 * @returns {number}
 */
function findPrefix(packed, prefix) {
  for (let i = 0, at = 0; at < packed.length; i++, at += HASH_SIZE) {
    let k = 0;
    while (k < prefix.length && packed[at + k] === prefix[k]) k++;
    if (k === prefix.length) return i; // two leaves sharing 80 bits of their hash: never in practice
  }
  return -1;
}

/**
 * Find the ballot whose receipt code is `code` (normalized) on the board of `entry`, every
 * step on this device: the code is in no request. Found, its receipt (built here) is checked
 * as a receipt file is, in #lookup-check.
 * @param {string} code
 * @param {CodeRound} entry
 */
async function lookUp(code, entry) {
  const section = $("lookup-result");
  section.hidden = false;
  const heading = ht("h3", "verify.lookup.result_heading", { code }, { id: "lookup-result-heading" });
  const list = h("ul", { class: "checks" });
  const verdict = h("div", { role: "status" });
  const found = h("section", { id: "lookup-check", class: "result", hidden: true, "aria-labelledby": "lookup-check-heading" });
  section.replaceChildren(heading, list, verdict, found);
  section.setAttribute("aria-busy", "true");
  focusOn(heading);
  const id = encodeURIComponent(entry.round_id);
  const log = new URL(`log/${id}/`, root);
  /** @type {Record<string, unknown> | null} */
  let receipt = null;
  try {
    const { round, note, checkpoint } = await step(list, "verify.lookup.check.board", undefined, async () => {
      let round;
      try {
        round = await openSignedManifest(await request(apiUrl(root, `rounds/${id}/manifest`)));
      } catch (error) {
        if (error instanceof ApiError) throw error;
        throw new CheckFailed("verify.fail.manifest", messageOf(error));
      }
      const note = await request(new URL("checkpoint", log), { as: "text" });
      let checkpoint;
      try {
        checkpoint = await parseCheckpoint(note, round.origin, round.logKey);
      } catch (error) {
        throw new CheckFailed("verify.lookup.fail.checkpoint", messageOf(error));
      }
      if (checkpoint.size > BigInt(MAX_LEAVES)) {
        throw new CheckFailed("verify.lookup.fail.too_big", `${checkpoint.size} > ${MAX_LEAVES}`, { size: Number(checkpoint.size), max: MAX_LEAVES });
      }
      return { value: { round, note, checkpoint }, key: "verify.lookup.ok.board", params: { title: round.manifest.title, size: Number(checkpoint.size) } };
    });
    const size = Number(checkpoint.size);
    const total = Math.ceil(size / TILE_WIDTH);
    const packed = await step(list, "verify.lookup.check.tiles", { done: 0, total }, async (item) => {
      const packed = await readLeafHashes(size, (path) => request(new URL(path, log), { as: "bytes" }), {
        concurrency: TILE_CONCURRENCY,
        onProgress: (done) => item.update("verify.lookup.check.tiles", { done, total }),
      });
      return { value: packed, key: "verify.lookup.ok.tiles", params: { total, size } };
    });
    const index = findPrefix(packed, fromHex(code.replaceAll("-", "")));
    const proof = await step(list, "verify.lookup.check.root", undefined, async () => {
      const { root: rebuilt, proof } = await rootAndInclusion(packed, index >= 0 ? index : undefined);
      if (size > 0 && !equal(rebuilt, checkpoint.root)) throw new CheckFailed("verify.lookup.fail.root", "the leaf hashes do not rebuild the signed checkpoint's root");
      return { value: proof, key: "verify.lookup.ok.root" };
    });
    if (index < 0) {
      verdict.replaceChildren(
        h("div", { class: "notice", "data-verdict": "not_found" }, h("p", {}, ht("strong", "verify.lookup.not_found", { size })), ht("p", "verify.lookup.not_found_help")),
      );
      return;
    }
    verdict.replaceChildren(h("div", { class: "notice", "data-verdict": "found" }, ht("p", "verify.lookup.found", { n: index + 1, size })));
    receipt = {
      round: round.mid,
      leaf_index: index,
      leaf_hash: b64uEncode(packed.slice(index * HASH_SIZE, (index + 1) * HASH_SIZE)),
      checkpoint: note,
      inclusion: proof.map((p) => b64uEncode(p)),
    };
  } catch (error) {
    const tooBig = error instanceof CheckFailed && error.key === "verify.lookup.fail.too_big";
    const key = tooBig ? "verify.lookup.too_big_help" : error instanceof ApiError ? explain(error, "verify").key : "verify.lookup.fail";
    verdict.replaceChildren(h("div", { class: tooBig ? "notice" : "notice alarm", "data-verdict": tooBig ? "too_big" : "failed" }, ht("p", key)));
    if (!(error instanceof CheckFailed) && !(error instanceof ApiError) && !(error instanceof CryptoError)) console.warn(error);
  } finally {
    section.removeAttribute("aria-busy");
  }
  // the receipt just made, checked as a receipt file is (how it was counted, after the tally)
  if (receipt !== null) await check(receipt, found, "h4");
}

/**
 * One of the page's two code forms: the code typed (or arrived in the fragment) is
 * normalized (refused, said under the input, when it is not a code), the server's rounds
 * are loaded once (asked again after a failure), and `run` checks the code in the round
 * chosen. The same steps for the receipt code and the invitation code.
 * @param {{
 *   prefix: string, normalize: (text: string) => string | null, badKey: string,
 *   showError: (key: string | null) => void, load: () => Promise<CodeRound[]>,
 *   run: (code: string, entry: CodeRound) => Promise<void>, arrived: string | null,
 *   radios: string, result: string,
 * }} form the ids <prefix>-input and <prefix>-form, `result` the section of its answer,
 *   `radios` the name of the round's radio buttons
 */
async function setUpCodeForm({ prefix, normalize, badKey, showError, load, run, arrived, radios, result }) {
  const input = /** @type {HTMLInputElement} */ ($(`${prefix}-input`));
  /** @type {Promise<CodeRound[]> | null} */
  let ready = null;
  const loaded = () =>
    (ready ??= load().catch((error) => {
      ready = null; // the next try asks again
      throw error;
    }));
  const submit = async () => {
    const code = normalize(input.value);
    if (!code) {
      showError(badKey);
      input.focus();
      return;
    }
    showError(null);
    const section = $(result);
    let choices;
    try {
      choices = await loaded();
    } catch (error) {
      section.hidden = false;
      section.replaceChildren(h("div", { class: "notice alarm" }, ht("p", explain(error, "verify").key)));
      return;
    }
    const entry = chosenRound(radios, choices);
    if (!entry) {
      section.hidden = false;
      section.replaceChildren(h("div", { class: "notice" }, ht("p", "verify.code.no_rounds")));
      return;
    }
    await run(code, entry);
  };
  $(`${prefix}-form`).addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  if (arrived !== null) {
    input.value = arrived;
    await submit();
  } else {
    await loaded().catch(() => {}); // shown when the form is sent
  }
}

/** @param {Fragment} arrived */
async function setUpLookup(arrived) {
  const wanted = arrived.receipt !== null ? arrived.round : null;
  await setUpCodeForm({
    prefix: "lookup",
    radios: "lookup-round",
    result: "lookup-result",
    normalize: normalizeReceiptCode,
    badKey: "verify.lookup.bad_code",
    showError: lookupError,
    load: async () => {
      const choices = await rounds();
      const chosen = choices.find((r) => r.round_id === wanted) ?? choices.find((r) => r.state === "open") ?? choices[0];
      showRoundChoices("lookup-round", choices, chosen, (r) => (r.state === "open" ? "verify.lookup.state_open" : r.state === "tallied" ? "index.state.tallied" : "index.state.closed"));
      return choices;
    },
    run: lookUp,
    arrived: arrived.receipt,
  });
}

/**
 * @typedef {{round_id: string, state: string, round: Round | null}} CodeRound a round of the
 *   server, with its verified manifest when it loaded
 */

/** @type {CodeRound[]} */
let codeRounds = [];

/** @param {string | null} key the catalog text of what is wrong with the code, or none */
function codeError(key) {
  const error = $("code-check-error");
  if (key) tr(error, key);
  error.hidden = !key;
  $("code-check-input").toggleAttribute("aria-invalid", Boolean(key));
}

/**
 * The rounds of this server (all but drafts) with their verified manifests, for the round
 * choices of the receipt-code lookup and of the invitation-code check.
 * @returns {Promise<CodeRound[]>}
 */
async function loadRounds() {
  const listed = await request(apiUrl(root, "rounds"));
  const entries = (Array.isArray(listed) ? listed : []).filter((r) => isObject(r) && typeof r.round_id === "string" && r.state !== "draft");
  return Promise.all(
    entries.map(async (entry) => {
      let round = null;
      try {
        round = await openSignedManifest(await request(apiUrl(root, `rounds/${encodeURIComponent(entry.round_id)}/manifest`)));
      } catch {
        // listed by its id; the check itself reports what is wrong
      }
      return { round_id: String(entry.round_id), state: String(entry.state), round };
    }),
  );
}

/** @type {Promise<CodeRound[]> | null} the rounds, asked for once (again after a failure) */
let roundsLoading = null;

/** @returns {Promise<CodeRound[]>} */
function rounds() {
  if (roundsLoading === null) {
    roundsLoading = loadRounds();
    roundsLoading.catch(() => {
      roundsLoading = null; // the next try asks again
    });
  }
  return roundsLoading;
}

/**
 * Show `choices` as radio buttons `name` in #<name>-options (in the fieldset #<name>s, shown
 * when there is a choice to make), `chosen` checked; `stateKey` is the catalog text under
 * a round's title.
 * @param {string} name "code-round" or "lookup-round"
 * @param {CodeRound[]} choices
 * @param {CodeRound | undefined} chosen
 * @param {(r: CodeRound) => string} stateKey
 */
function showRoundChoices(name, choices, chosen, stateKey) {
  $(`${name}-options`).replaceChildren(
    ...choices.map((r, i) =>
      h(
        "label",
        { class: "option", for: `${name}-${i}` },
        h("input", { type: "radio", id: `${name}-${i}`, name, value: r.round_id, checked: r === chosen }),
        h(
          "span",
          {},
          r.round ? h("span", { "data-label": JSON.stringify(r.round.manifest.title), text: label(r.round.manifest.title) }) : h("span", { text: r.round_id }),
          h("br"),
          ht("small", stateKey(r)),
        ),
      ),
    ),
  );
  $(`${name}s`).hidden = choices.length < 2;
}

/**
 * The rounds of this server a code can be checked in, as choices; `wanted` (the fragment's
 * round) is chosen if there, else the first closed one, else the first.
 * @param {string | null} wanted
 */
async function loadCodeRounds(wanted) {
  codeRounds = await rounds();
  const chosen = codeRounds.find((r) => r.round_id === wanted) ?? codeRounds.find((r) => r.state !== "open") ?? codeRounds[0];
  showRoundChoices("code-round", codeRounds, chosen, (r) => (r.state === "open" ? "verify.code.state_open" : "verify.code.state_closed"));
}

/**
 * The round chosen in the radio buttons `name`, among `choices`.
 * @param {string} [name]
 * @param {CodeRound[]} [choices]
 * @returns {CodeRound | undefined}
 */
function chosenRound(name = "code-round", choices = codeRounds) {
  const checked = document.querySelector(`input[name="${name}"]:checked`);
  return choices.find((r) => checked instanceof HTMLInputElement && r.round_id === checked.value);
}

/**
 * Look `code` (normalized) up in the issuance ledger of `entry`, every step on this device.
 * @param {string} code
 * @param {CodeRound} entry
 */
async function checkCode(code, entry) {
  const section = $("code-result");
  section.hidden = false;
  const heading = ht("h3", "verify.code.result_heading", { code: formatCode(code) }, { id: "code-result-heading" });
  const status = h("div", { role: "status" }, ht("p", "verify.code.checking", undefined, { class: "working" }));
  section.replaceChildren(heading, status);
  section.setAttribute("aria-busy", "true");
  focusOn(heading);
  const api = (/** @type {string} */ path) => apiUrl(root, `rounds/${encodeURIComponent(entry.round_id)}/${path}`);
  try {
    const round = await openSignedManifest(await request(api("manifest")));
    const roundLine = ht("p", "verify.code.round", { title: round.manifest.title });
    const signedClose = await optional(api("close"));
    if (signedClose === null) {
      status.replaceChildren(roundLine, h("div", { class: "notice", "data-verdict": "not_closed" }, ht("p", "verify.code.not_closed", { closes: { $time: round.manifest.voting.closes } })));
      return;
    }
    const close = await verifySignedObject(signedClose, "close", b64uDecode(round.manifest.organizer_key, 32));
    if (!isObject(close) || close.round !== round.mid) throw new CryptoError("the close statement is of another round", "wrong_round");
    const ledger = await openLedger(await request(api("issuance")), round, close);
    const ward = wardOf(ledger, await pseudonym(round.mid, code));
    const wardInfo = round.manifest.wards.find((w) => w.id === ward);
    status.replaceChildren(
      roundLine,
      ward !== null
        ? h(
            "div",
            { class: "notice", "data-verdict": "used" },
            h("p", {}, ht("strong", "verify.code.used")),
            wardInfo ? ht("p", "verify.code.used_ward", { ward: wardInfo.name }) : null,
            ht("p", "verify.code.used_help"),
          )
        : h("div", { class: "notice", "data-verdict": "unused" }, h("p", {}, ht("strong", "verify.code.unused")), ht("p", "verify.code.unused_help")),
    );
  } catch (error) {
    const { key, detail } = error instanceof CryptoError ? { key: "verify.code.fail", detail: `${error.code}: ${error.message}` } : explain(error, "verify");
    status.replaceChildren(h("div", { class: "notice alarm", "data-verdict": "failed" }, ht("p", key), detail ? h("code", { class: "check-detail", text: detail }) : null));
    if (!(error instanceof ApiError) && !(error instanceof CryptoError)) console.warn(error);
  } finally {
    section.removeAttribute("aria-busy");
  }
}

/**
 * @typedef {{code: string | null, receipt: string | null, round: string | null}} Fragment
 */

/**
 * The invitation code, receipt code and round of the address's fragment
 * (#code=...&round=..., #receipt=...&round=...), taken out of the address bar and the
 * history at once, as the booth does.
 * @returns {Fragment}
 */
function takeFragment() {
  if (!location.hash) return { code: null, receipt: null, round: null };
  const params = new URLSearchParams(location.hash.slice(1));
  history.replaceState(history.state, "", location.pathname + location.search);
  return { code: params.get("code"), receipt: params.get("receipt"), round: params.get("round") };
}

/** @param {Fragment} arrived */
async function setUpCodeCheck(arrived) {
  const wanted = arrived.code !== null ? arrived.round : null; // else the round was the lookup's
  await setUpCodeForm({
    prefix: "code-check",
    radios: "code-round",
    result: "code-result",
    normalize: normalizeCode,
    badKey: "error.bad_code",
    showError: codeError,
    load: async () => {
      await loadCodeRounds(wanted);
      return codeRounds;
    },
    run: checkCode,
    arrived: arrived.code,
  });
}

async function main() {
  await initI18n();
  onLanguageChange(() => apply(document));
  // Labels used in the results: reason codes are shown by their catalog entries.
  showDeviceReceipts();
  $("receipt-file").addEventListener("change", async (event) => {
    const input = event.target;
    const file = input instanceof HTMLInputElement ? input.files?.[0] : undefined;
    if (!file) return;
    if (file.size > 1 << 20) {
      inputError("verify.fail.too_big");
      return;
    }
    receiptText().value = await file.text();
    $("file-name").textContent = file.name;
    inputError(null);
  });
  $("verify-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    let value;
    try {
      value = parse(receiptText().value.trim());
    } catch {
      inputError("verify.fail.not_json");
      $("receipt-text").focus();
      return;
    }
    inputError(null);
    await check(value);
  });
  const arrived = takeFragment();
  await Promise.all([setUpLookup(arrived), setUpCodeCheck(arrived)]);
}

main();
