// anonballot: the voting booth (GET /r/{round_id}), all of its cryptography in the browser.
//
//   1. the invitation code, from the URL's fragment (#code=..., never sent to any server;
//      removed from the address bar at once) or typed; its ward from POST .../ward;
//   2. the signed manifest, verified here (manifest.js);
//   3. the token: a fresh Ed25519 voter key and an RFC 9474 blinded request, saved on this
//      device BEFORE POST .../tokens, then unblinded and verified (token.js);
//   4. the ballot: every person rated of the ward, every criterion, optional comments, a
//      review step;
//   5. the leaf: sealed for the trustees and signed (sealing.js, leaf.js), saved BEFORE
//      POST .../ballots; the receipt is verified here (receipt.js);
//   6. the receipt code, a download and a printable page; the token secrets are erased.
//
// The state machine lives in localStorage under "anonballot:booth:<round>:<tag>", where tag
// is a hash of the code, with a pointer "anonballot:booth:<round>:current". Phases:
//   new         the code (and, once learned, the ward)
//   requesting  voter key, prepared message, blinding inverse and blinded request saved;
//               the same request is sent again until the server answers (same answer)
//   voting      the token; the answers as they are given (step "ballot" or "review")
//   casting     the signed leaf; the same leaf is sent again until a receipt comes back
//   done        only the receipt
// A reload or a lost answer resumes at the same phase, so a vote is never lost and never
// cast twice. Web Locks keep two tabs of one code from racing.

import { apply, attr, formatTime, initI18n, label, lang, lbl, onLanguageChange, t, tr } from "./i18n.js";
import { ApiError, apiUrl, explain, focusOn, h, ht, request, showOnly } from "./page.js";
import { CryptoError } from "./errors.js";
import { b64uDecode, b64uEncode } from "./b64u.js";
import { fromUtf8, sha256, toHex, utf8 } from "./bytes.js";
import { jcs } from "./jcs.js";
import { openSignedManifest } from "./manifest.js";
import { createTokenRequest, finalizeToken, tokenFromJson, tokenToJson, verifyToken } from "./token.js";
import { buildLeaf, exportVoterSeed, generateVoterKey, importVoterSeed } from "./leaf.js";
import { makeBallot, stripWhiteSpace, validateBallot } from "./ballot.js";
import { seal } from "./sealing.js";
import { leafHash } from "./merkle.js";
import { receiptCode, verifyReceipt } from "./receipt.js";
import { firstNewCharacter } from "./unicode14.js";

const STATE_VERSION = 1;
const PREFIX = "anonballot:booth:";
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const SAVE_DELAY_MS = 400;

const ctx = {
  roundId: "",
  root: null, // the site's root URL
  round: null, // openSignedManifest(...)
  state: null,
  justCast: false,
};

// ------------------------------------------------------------------ invitation codes

/** Protocol 5.1: the 16-character normal form of a typed or scanned code, or null. */
export function normalizeCode(input) {
  if (typeof input !== "string" || /[^\x00-\x7f]/.test(input)) return null;
  let out = "";
  for (const ch of input.toUpperCase()) {
    if (ch === "-" || ch === " " || ch === "\t") continue;
    const mapped = ch === "O" ? "0" : ch === "I" || ch === "L" ? "1" : ch;
    if (!ALPHABET.includes(mapped)) return null;
    out += mapped;
  }
  return out.length === 16 ? out : null;
}

function printedCode(code) {
  return code.match(/.{4}/g).join("-");
}

// ------------------------------------------------------------------ the device's state

class StorageUnavailable extends Error {
  constructor() {
    super("this browser does not let the page save data");
    this.name = "StorageUnavailable";
  }
}

function readState(key) {
  try {
    const value = JSON.parse(localStorage.getItem(key));
    return value && value.v === STATE_VERSION && value.key === key ? value : null;
  } catch {
    return null;
  }
}

function saveState(state) {
  try {
    localStorage.setItem(state.key, JSON.stringify(state));
  } catch {
    throw new StorageUnavailable();
  }
  ctx.state = state;
}

function currentPointer() {
  return `${PREFIX}${ctx.roundId}:current`;
}

async function codeTag(code) {
  return toHex(await sha256(utf8(`anonballot/booth\u0000${code}`))).slice(0, 24);
}

/** The state of `code` on this device (a new one if none), made the current one. */
async function adoptCode(code) {
  const tag = await codeTag(code);
  const key = `${PREFIX}${ctx.roundId}:${tag}`;
  const state = readState(key) ?? { v: STATE_VERSION, key, round_id: ctx.roundId, phase: "new", code };
  saveState(state);
  try {
    localStorage.setItem(currentPointer(), key);
  } catch {
    throw new StorageUnavailable();
  }
  return state;
}

function currentState() {
  try {
    const key = localStorage.getItem(currentPointer());
    return key ? readState(key) : null;
  } catch {
    return null;
  }
}

function forgetCurrent() {
  try {
    localStorage.removeItem(currentPointer());
  } catch {
    // nothing to forget
  }
  ctx.state = null;
}

/** Run `fn` holding this code's lock (one tab at a time sends requests for a code). */
async function withLock(state, fn) {
  if (navigator.locks?.request) return navigator.locks.request(`anonballot-booth:${state.key}`, fn);
  return fn();
}

// ------------------------------------------------------------------ the page

const $ = (id) => document.getElementById(id);

function api(path) {
  return apiUrl(ctx.root, `rounds/${encodeURIComponent(ctx.roundId)}/${path}`);
}

function setStep(name) {
  const steps = $("steps");
  steps.hidden = name === null;
  for (const li of steps.querySelectorAll("li")) {
    if (li.dataset.step === name) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }
}

function showView(id) {
  const view = $(id);
  showOnly(view);
  return view;
}

function working(key) {
  const view = showView("view-working");
  view.replaceChildren(h("p", { class: "working" }, h("span", { class: "spinner", "aria-hidden": "true" }), " ", ht("span", key)));
  view.setAttribute("role", "status");
}

function showWard() {
  const ward = ctx.round?.manifest.wards.find((w) => w.id === ctx.state?.ward);
  const line = $("round-ward");
  if (ward) tr(line, "booth.ward", { ward: ward.name });
  line.hidden = !ward;
}

function windows() {
  const m = ctx.round?.manifest;
  if (!m) return [];
  return [
    ht("p", "booth.window.issuance", { opens: { $time: m.issuance.opens }, closes: { $time: m.issuance.closes } }),
    ht("p", "booth.window.voting", { opens: { $time: m.voting.opens }, closes: { $time: m.voting.closes } }),
  ];
}

/**
 * The error view: a heading, the catalog's explanation, the technical detail folded away and
 * `actions` ([{key, run, primary}]).
 */
function showError(error, { stage = "generic", actions = [], extra = [] } = {}) {
  const view = showView("view-error");
  let key;
  let detail;
  if (error instanceof StorageUnavailable) {
    key = "error.storage";
    detail = error.message;
  } else {
    ({ key, detail } = explain(error, stage));
  }
  const alarming = error instanceof CryptoError || key === "error.manifest_changed";
  const showWindows = error instanceof ApiError && error.code === "outside_window";
  view.replaceChildren(
    ht("h2", alarming ? "error.heading_alarm" : "error.heading", undefined, { id: "error-heading" }),
    h("div", { class: alarming ? "notice alarm" : "notice", role: "alert" }, ht("p", key), ...extra, ...(showWindows ? windows() : [])),
    h("details", { class: "detail" }, ht("summary", "error.detail"), h("code", { text: detail })),
    h(
      "div",
      { class: "actions" },
      actions.map((a) => ht("button", a.key, undefined, { type: "button", class: a.primary ? "primary" : "secondary", on: { click: a.run } })),
    ),
  );
  focusOn($("error-heading"), { top: true });
}

const retry = (fn) => ({ key: "action.retry", primary: true, run: () => fn() });
const otherCode = { key: "action.other_code", run: () => anotherCode() };

function anotherCode() {
  forgetCurrent();
  $("round-ward").hidden = true;
  renderCode();
}

// ------------------------------------------------------------------ step 1: the code

function renderCode(errorKey = null, value = "") {
  setStep("code");
  const view = showView("view-code");
  const input = h("input", {
    id: "code-input",
    name: "code",
    type: "text",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    inputmode: "text",
    class: "code-input",
    "aria-describedby": "code-hint code-error",
    "aria-invalid": errorKey ? "true" : null,
    value,
  });
  const error = h("p", { id: "code-error", class: "field-error" });
  if (errorKey) tr(error, errorKey);
  else error.hidden = true;
  const form = h(
    "form",
    { class: "code-form", novalidate: true },
    ht("label", "code.label", undefined, { for: "code-input" }),
    ht("p", "code.hint", undefined, { id: "code-hint", class: "hint" }),
    input,
    error,
    ht("button", "code.submit", undefined, { type: "submit", class: "primary" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = normalizeCode(input.value);
    if (!code) {
      renderCode("error.bad_code", input.value);
      $("code-input").focus();
      return;
    }
    try {
      await resume(await adoptCode(code));
    } catch (e) {
      showError(e, { actions: [retry(() => form.requestSubmit())] });
    }
  });
  view.replaceChildren(ht("h2", "code.heading", undefined, { id: "code-heading" }), ht("p", "code.intro"), form, ...windows());
  if (errorKey) input.focus();
}

// ------------------------------------------------------------------ steps 2 and 3: ward, token

async function learnWard() {
  working("status.ward");
  const answer = await request(api("ward"), { method: "POST", json: { code: ctx.state.code } });
  if (typeof answer?.ward !== "string") throw new ApiError(200, "bad_answer", "the answer has no ward");
  ctx.round.issuerKey(answer.ward); // a ward of the manifest, with a usable issuer key
  saveState({ ...ctx.state, ward: answer.ward, mid: ctx.round.mid });
}

async function getToken() {
  await withLock(ctx.state, async () => {
    let state = readState(ctx.state.key) ?? ctx.state;
    const issuerKey = ctx.round.issuerKey(state.ward);
    if (state.phase === "new") {
      working("status.keys");
      const voter = await generateVoterKey();
      const req = await createTokenRequest(issuerKey, voter.publicKey);
      state = {
        ...state,
        phase: "requesting",
        voter_seed: b64uEncode(await exportVoterSeed(voter)),
        prepared: b64uEncode(req.prepared),
        inv: b64uEncode(req.inv),
        blinded: b64uEncode(req.blinded),
      };
      saveState(state); // before asking: a lost answer must not lose the vote
    }
    ctx.state = state;
    if (state.phase !== "requesting") return;
    working("status.token");
    const answer = await request(api("tokens"), { method: "POST", json: { code: state.code, blinded: state.blinded } });
    let token;
    try {
      const req = { prepared: b64uDecode(state.prepared), inv: b64uDecode(state.inv), blinded: b64uDecode(state.blinded) };
      token = await finalizeToken(issuerKey, req, b64uDecode(answer?.blind_sig, undefined, "blind_sig"));
      await verifyToken(issuerKey, token);
    } catch (error) {
      throw error instanceof CryptoError ? Object.assign(error, { stage: "token" }) : error;
    }
    const { inv, blinded, prepared, ...rest } = state;
    saveState({ ...rest, phase: "voting", step: "ballot", token: tokenToJson(token), answers: state.answers ?? {} });
  });
}

// ------------------------------------------------------------------ step 4: the ballot

function wardSubjects() {
  const m = ctx.round.manifest;
  return m.subjects.filter((s) => s.ward === ctx.state.ward).map((s) => ({ ...s, roleInfo: m.roles.find((r) => r.id === s.role) }));
}

function levels() {
  const q = ctx.round.manifest.questionnaire;
  return [...q.scale.map((l) => ({ ...l, abstain: false })), ...(q.abstain ? [{ ...q.abstain, abstain: true }] : [])];
}

function answerOf(subject) {
  const answers = (ctx.state.answers ??= {});
  const a = (answers[subject] ??= {});
  a.ratings ??= {};
  a.comments ??= {};
  return a;
}

function codePoints(text) {
  return [...text.normalize("NFC")].length;
}

function unanswered() {
  const missing = [];
  const criteria = ctx.round.manifest.questionnaire.criteria;
  wardSubjects().forEach((s, si) => {
    criteria.forEach((c, ci) => {
      if (!ctx.state.answers?.[s.id]?.ratings?.[c.id]) missing.push({ si, ci });
    });
  });
  return missing;
}

let saveTimer = null;
function saveSoon() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(saveNow, SAVE_DELAY_MS);
}

function saveNow() {
  clearTimeout(saveTimer);
  saveTimer = null;
  if (ctx.state?.phase !== "voting") return;
  try {
    saveState(ctx.state);
  } catch {
    // shown when the participant moves on (review); typing goes on meanwhile
  }
}

window.addEventListener("pagehide", saveNow);

function updateRemaining() {
  const total = ctx.round.manifest.questionnaire.criteria.length * wardSubjects().length;
  const missing = unanswered().length;
  const text = $("remaining");
  if (!text) return;
  if (missing === 0) tr(text, "ballot.all_answered");
  else tr(text, "ballot.remaining", { n: missing, total });
  text.classList.toggle("done", missing === 0);
  const meter = $("progress");
  meter.max = total;
  meter.value = total - missing;
  attr(meter, "aria-label", "ballot.progress_label", { done: total - missing, total });
}

/** Update a comment's counter and error; true when the comment cannot be sent as it is. */
function updateCounter(textarea) {
  const max = Number(textarea.dataset.max);
  const used = codePoints(textarea.value);
  const counter = $(`${textarea.id}-count`);
  tr(counter, "ballot.counter", { n: used, max });
  const over = used > max;
  counter.classList.toggle("over", over);
  const unknown = firstNewCharacter(textarea.value);
  const error = $(`${textarea.id}-error`);
  if (unknown !== null) tr(error, "ballot.new_character", { char: unknown });
  error.hidden = unknown === null;
  const bad = over || unknown !== null;
  if (bad) textarea.setAttribute("aria-invalid", "true");
  else textarea.removeAttribute("aria-invalid");
  return bad;
}

function renderBallot(focus = true) {
  setStep("ballot");
  showWard();
  const view = showView("view-ballot");
  const q = ctx.round.manifest.questionnaire;
  const subjects = wardSubjects();
  const allLevels = levels();
  const form = h("form", { id: "ballot-form", class: "ballot", novalidate: true });

  subjects.forEach((subject, si) => {
    const answer = answerOf(subject.id);
    const section = h("section", { class: "subject", "aria-labelledby": `subject-${si}` });
    section.append(
      h(
        "h3",
        { id: `subject-${si}`, class: "subject-heading" },
        ht("span", "ballot.subject_number", { i: si + 1, n: subjects.length }, { class: "subject-number" }),
        h("span", { class: "subject-name" }, lbl(h("span"), subject.name)),
        subject.roleInfo ? lbl(h("span", { class: "subject-role" }), subject.roleInfo.title) : null,
      ),
    );
    q.criteria.forEach((criterion, ci) => {
      const fieldset = h("fieldset", { class: "question", id: `q-${si}-${ci}`, "data-subject": subject.id, "data-criterion": criterion.id });
      fieldset.append(
        h(
          "legend",
          {},
          h("span", { class: "qnum", text: `${ci + 1}.` }),
          " ",
          lbl(h("span", { class: "qlabel" }), criterion.label),
          h("span", { class: "visually-hidden" }, " (", lbl(h("span"), subject.name), ")"),
        ),
      );
      const options = h("div", { class: "options" });
      allLevels.forEach((level, li) => {
        const id = `r-${si}-${ci}-${li}`;
        options.append(
          h(
            "label",
            { class: level.abstain ? "option abstain" : "option", for: id },
            h("input", {
              type: "radio",
              id,
              name: `r-${si}-${ci}`,
              value: level.id,
              checked: answer.ratings[criterion.id] === level.id,
            }),
            lbl(h("span", { class: "option-text" }), level.label),
          ),
        );
      });
      fieldset.append(options, h("p", { class: "field-error", id: `q-${si}-${ci}-error`, hidden: true }));
      section.append(fieldset);
    });
    if (q.comments.length) {
      const box = h("div", { class: "comments" }, ht("h4", "ballot.comments_heading"), ht("p", "ballot.comments_hint", undefined, { class: "hint" }));
      q.comments.forEach((field, fi) => {
        const id = `c-${si}-${fi}`;
        const textarea = h("textarea", {
          id,
          name: id,
          rows: 3,
          "data-subject": subject.id,
          "data-field": field.id,
          "data-max": field.max_chars,
          "aria-describedby": `${id}-count ${id}-error`,
        });
        textarea.value = answer.comments[field.id] ?? "";
        box.append(
          h("label", { for: id, class: "comment-label" }, lbl(h("span"), field.label), h("span", { class: "visually-hidden" }, " (", lbl(h("span"), subject.name), ")")),
          textarea,
          h("p", { class: "counter", id: `${id}-count` }),
          h("p", { class: "field-error", id: `${id}-error`, hidden: true }),
        );
      });
      section.append(box);
    }
    form.append(section);
  });

  form.addEventListener("change", (event) => {
    const input = event.target;
    if (input.type !== "radio") return;
    const fieldset = input.closest("fieldset");
    answerOf(fieldset.dataset.subject).ratings[fieldset.dataset.criterion] = input.value;
    fieldset.classList.remove("missing");
    fieldset.removeAttribute("aria-invalid");
    fieldset.querySelector(".field-error").hidden = true;
    saveNow();
    updateRemaining();
  });
  form.addEventListener("input", (event) => {
    const textarea = event.target;
    if (textarea.tagName !== "TEXTAREA") return;
    answerOf(textarea.dataset.subject).comments[textarea.dataset.field] = textarea.value;
    updateCounter(textarea);
    saveSoon();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    toReview();
  });

  const bar = h(
    "div",
    { class: "ballot-bar" },
    h("div", { class: "bar-status" }, h("progress", { id: "progress", max: 1, value: 0 }), h("p", { id: "remaining", role: "status" })),
    ht("button", "ballot.to_review", undefined, { type: "submit", class: "primary", form: "ballot-form", id: "to-review" }),
  );
  // A two-phase round: the token is collected before voting opens (threat-model.md).
  const voting = ctx.round.manifest.voting;
  const early = Date.now() < Date.parse(voting.opens);
  view.replaceChildren(
    ht("h2", "ballot.heading", undefined, { id: "ballot-heading" }),
    early ? h("div", { class: "notice", id: "come-back" }, ht("p", "ballot.come_back", { opens: { $time: voting.opens }, closes: { $time: voting.closes } })) : null,
    h("div", { class: "intro" }, ht("p", "ballot.intro"), ht("p", "ballot.saved_note", undefined, { class: "hint" })),
    form,
    bar,
  );
  for (const textarea of form.querySelectorAll("textarea")) updateCounter(textarea);
  updateRemaining();
  if (focus) focusOn($("ballot-heading"), { top: true });
}

function toReview() {
  const missing = unanswered();
  for (const fieldset of document.querySelectorAll("fieldset.question")) {
    const isMissing = missing.some((m) => fieldset.id === `q-${m.si}-${m.ci}`);
    fieldset.classList.toggle("missing", isMissing);
    const error = fieldset.querySelector(".field-error");
    if (isMissing) {
      fieldset.setAttribute("aria-invalid", "true");
      tr(error, "ballot.missing_one");
    } else fieldset.removeAttribute("aria-invalid");
    error.hidden = !isMissing;
  }
  if (missing.length) {
    const first = $(`q-${missing[0].si}-${missing[0].ci}`);
    tr($("remaining"), "ballot.missing", { n: missing.length });
    first.scrollIntoView({ block: "center" });
    first.querySelector("input").focus({ preventScroll: true });
    return;
  }
  const over = [...document.querySelectorAll("#ballot-form textarea")].find((textarea) => updateCounter(textarea));
  if (over) {
    over.scrollIntoView({ block: "center" });
    over.focus({ preventScroll: true });
    return;
  }
  try {
    saveState({ ...ctx.state, step: "review" });
  } catch (error) {
    showError(error, { actions: [retry(() => renderBallot())] });
    return;
  }
  renderReview();
}

function renderReview() {
  setStep("review");
  showWard();
  const view = showView("view-review");
  const q = ctx.round.manifest.questionnaire;
  const byId = new Map(levels().map((l) => [l.id, l]));
  const parts = wardSubjects().map((subject) => {
    const answer = answerOf(subject.id);
    const rows = q.criteria.map((criterion) => {
      const level = byId.get(answer.ratings[criterion.id]);
      return h(
        "tr",
        {},
        lbl(h("th", { scope: "row" }), criterion.label),
        level ? lbl(h("td", { class: level.abstain ? "abstain" : "" }), level.label) : ht("td", "review.unanswered", undefined, { class: "missing" }),
      );
    });
    const comments = q.comments
      .map((field) => [field, stripWhiteSpace((answer.comments[field.id] ?? "").normalize("NFC"))])
      .filter(([, text]) => text !== "");
    return h(
      "section",
      { class: "review-subject" },
      h("h3", {}, lbl(h("span"), subject.name), subject.roleInfo ? lbl(h("span", { class: "subject-role" }), subject.roleInfo.title) : null),
      h(
        "table",
        { class: "review-table" },
        h("thead", {}, h("tr", {}, ht("th", "review.criterion", undefined, { scope: "col" }), ht("th", "review.rating", undefined, { scope: "col" }))),
        h("tbody", {}, rows),
      ),
      comments.length
        ? h("dl", { class: "review-comments" }, comments.map(([field, text]) => [lbl(h("dt"), field.label), h("dd", { text })]))
        : ht("p", "review.no_comments", undefined, { class: "hint" }),
    );
  });
  view.replaceChildren(
    ht("h2", "review.heading", undefined, { id: "review-heading" }),
    ht("p", "review.intro"),
    ...parts,
    h("div", { class: "notice" }, ht("p", "review.final_note")),
    h(
      "div",
      { class: "actions" },
      ht("button", "review.edit", undefined, {
        type: "button",
        class: "secondary",
        id: "edit-ballot",
        on: {
          click: () => {
            saveState({ ...ctx.state, step: "ballot" });
            renderBallot();
          },
        },
      }),
      ht("button", "review.cast", undefined, {
        type: "button",
        class: "primary",
        id: "cast-ballot",
        on: {
          click: (event) => {
            event.currentTarget.disabled = true; // one click, one cast (a second would be harmless)
            castAndReport();
          },
        },
      }),
    ),
  );
  focusOn($("review-heading"), { top: true });
}

// ------------------------------------------------------------------ step 5: seal, sign, cast

async function makeLeaf(state) {
  const ward = state.ward;
  const answers = {};
  for (const subject of wardSubjects()) {
    const a = state.answers?.[subject.id] ?? {};
    const comments = {};
    for (const [field, text] of Object.entries(a.comments ?? {})) {
      if (firstNewCharacter(text) !== null) throw new CryptoError(`${subject.id}.${field}: a character newer than Unicode 14.0`, "input");
      comments[field] = text.normalize("NFC");
    }
    answers[subject.id] = { ratings: { ...(a.ratings ?? {}) }, comments };
  }
  const ballot = validateBallot(makeBallot(ward, answers), ctx.round.manifest, ward);
  const sealed = await seal(jcs(ballot), { mid: ctx.round.mid, ward, trustees: ctx.round.trustees, threshold: ctx.round.threshold });
  const voter = await importVoterSeed(b64uDecode(state.voter_seed, 32, "voter seed"));
  return buildLeaf({ mid: ctx.round.mid, ward, token: tokenFromJson(state.token), sealed, voter });
}

/** Look for `leaf` on the board (a cast whose answer was lost before the round closed). */
async function findOnBoard(leaf) {
  const note = await request(api("checkpoint"), { as: "text" });
  const size = Number((note.split("\n")[1] ?? "").trim());
  if (!Number.isSafeInteger(size)) return null;
  const mine = toHex(await leafHash(leaf));
  for (let start = 0; start < size; start += 10000) {
    const end = Math.min(size, start + 10000);
    const data = await request(api(`leaves?start=${start}&end=${end}`), { as: "bytes" });
    let index = start;
    let from = 0;
    for (let i = 0; i < data.length; i++) {
      if (data[i] !== 0x0a) continue;
      if (toHex(await leafHash(data.subarray(from, i))) === mine) {
        const proof = await request(api(`proof/inclusion?index=${index}&size=${size}`));
        return { round: ctx.round.mid, leaf_index: index, leaf_hash: b64uEncode(await leafHash(leaf)), checkpoint: note, inclusion: proof.proof };
      }
      index++;
      from = i + 1;
    }
  }
  return null;
}

async function cast() {
  await withLock(ctx.state, async () => {
    let state = readState(ctx.state.key) ?? ctx.state;
    if (state.phase === "voting") {
      working("status.sealing");
      let leaf;
      try {
        leaf = await makeLeaf(state);
      } catch (error) {
        throw error instanceof CryptoError ? Object.assign(error, { stage: "ballot" }) : error;
      }
      const { step, ...rest } = state;
      state = { ...rest, phase: "casting", leaf: fromUtf8(leaf) };
      saveState(state); // before casting: a lost answer is answered by casting the same leaf
    }
    ctx.state = state;
    if (state.phase !== "casting") return;
    working("status.casting");
    const leaf = utf8(state.leaf);
    let answer;
    try {
      answer = await request(api("ballots"), { method: "POST", body: leaf });
    } catch (error) {
      // After a lost answer the round may have closed: the leaf may be on the board already.
      if (error instanceof ApiError && ["round_not_open", "outside_window", "token_spent"].includes(error.code)) {
        answer = await findOnBoard(leaf).catch(() => null);
        if (!answer) throw error;
      } else throw error;
    }
    working("status.receipt");
    let checked;
    try {
      checked = await verifyReceipt(answer, ctx.round, leaf);
    } catch (error) {
      if (error instanceof CryptoError) {
        error.stage = "receipt";
        error.localCode = receiptCode(await leafHash(leaf));
      }
      throw error;
    }
    saveState({
      v: STATE_VERSION,
      key: state.key,
      round_id: state.round_id,
      phase: "done",
      ward: state.ward,
      mid: state.mid,
      receipt: answer,
      receipt_code: checked.code,
    });
    ctx.justCast = true;
  });
}

async function castAndReport() {
  try {
    await cast();
    renderReceipt();
  } catch (error) {
    reportCastError(error);
  }
}

function reportCastError(error) {
  const state = ctx.state;
  const actions = [retry(castAndReport)];
  const extra = [];
  const refused = error instanceof ApiError && ["outside_window", "round_not_open", "too_large"].includes(error.code);
  if (state?.phase === "casting" && refused) {
    // The server refused this leaf and kept nothing: the answers may still be changed.
    actions.push({
      key: "action.change_answers",
      run: () => {
        const { leaf, ...rest } = ctx.state;
        saveState({ ...rest, phase: "voting", step: "ballot" });
        renderBallot();
      },
    });
  } else if (state?.phase === "casting") {
    extra.push(ht("p", "cast.saved_note"));
  }
  if (error instanceof CryptoError && error.localCode) extra.push(ht("p", "error.local_code", { code: error.localCode }));
  showError(error, { stage: error.stage ?? "ballot", actions, extra });
}

// ------------------------------------------------------------------ step 6: the receipt

function download(receipt, code) {
  const blob = new Blob([jcs(receipt)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: `receipt-${ctx.roundId}-${code}.json`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The receipt code with line breaks allowed only between its groups of four. */
function codeGroups(code) {
  return code.split("-").flatMap((group, i) => (i ? ["-", h("wbr"), h("span", { class: "group", text: group })] : [h("span", { class: "group", text: group })]));
}

function renderReceipt() {
  const state = ctx.state;
  const already = !ctx.justCast;
  setStep("receipt");
  showWard();
  const view = showView("view-receipt");
  const receipt = state.receipt;
  const code = state.receipt_code;
  const size = Number((receipt.checkpoint.split("\n")[1] ?? "0").trim());
  const verifyUrl = new URL("verify", ctx.root).href;
  view.replaceChildren(
    h(
      "div",
      { class: "success" },
      ht("h2", already ? "receipt.heading_again" : "receipt.heading", undefined, { id: "receipt-heading" }),
      ht("p", "receipt.thanks"),
    ),
    h(
      "div",
      { class: "receipt-box" },
      ht("p", "receipt.code_label", undefined, { class: "receipt-label", id: "receipt-code-label" }),
      h("p", { class: "receipt-code", id: "receipt-code", "aria-labelledby": "receipt-code-label" }, codeGroups(code)),
      h(
        "ul",
        { class: "checks" },
        ht("li", "receipt.check_signature", undefined, { class: "ok" }),
        ht("li", "receipt.check_inclusion", { n: receipt.leaf_index + 1, size }, { class: "ok" }),
      ),
      h(
        "div",
        { class: "print-only" },
        ht("p", "receipt.print_round", { title: ctx.round.manifest.title }),
        ht("p", "receipt.print_position", { n: receipt.leaf_index + 1 }),
        ht("p", "receipt.print_verify", { url: verifyUrl }),
      ),
    ),
    ht("p", "receipt.keep"),
    ht("p", "receipt.privacy", undefined, { class: "hint" }),
    h(
      "div",
      { class: "actions no-print" },
      ht("button", "receipt.download", undefined, { type: "button", class: "primary", id: "download-receipt", on: { click: () => download(receipt, code) } }),
      ht("button", "receipt.print", undefined, { type: "button", class: "secondary", id: "print-receipt", on: { click: () => window.print() } }),
      ht("a", "receipt.verify", undefined, { class: "button secondary", href: verifyUrl, id: "verify-link" }),
    ),
    h(
      "div",
      { class: "actions no-print minor" },
      ht("button", "action.other_code", undefined, { type: "button", class: "link", on: { click: anotherCode } }),
      ht("button", "receipt.forget", undefined, {
        type: "button",
        class: "link",
        id: "forget-receipt",
        on: {
          click: () => {
            if (!window.confirm(t("receipt.forget_confirm"))) return;
            try {
              localStorage.removeItem(state.key);
            } catch {
              // nothing stored
            }
            anotherCode();
          },
        },
      }),
    ),
  );
  focusOn($("receipt-heading"), { top: true });
}

// ------------------------------------------------------------------ the flow

async function loadRound() {
  working("status.manifest");
  const signed = await request(api("manifest"));
  let round;
  try {
    round = await openSignedManifest(signed);
    if (round.manifest.round_id !== ctx.roundId) throw new CryptoError("the manifest is of another round", "wrong_round");
  } catch (error) {
    throw error instanceof CryptoError ? Object.assign(error, { stage: "manifest" }) : error;
  }
  ctx.round = round;
  lbl($("round-title"), round.manifest.title);
  const fingerprint = $("round-fingerprint");
  tr(fingerprint, "booth.fingerprint", { mid: round.mid });
  fingerprint.hidden = false;
  const title = document.querySelector("title");
  tr(title, "booth.page_title_round", { title: round.manifest.title });
}

/** Continue `state` from wherever it stopped. */
async function resume(state) {
  ctx.state = state;
  ctx.justCast = false;
  if (state.mid && state.mid !== ctx.round.mid) {
    showError(new ApiError(0, "manifest_changed", `expected ${state.mid}, the server has ${ctx.round.mid}`), { actions: [otherCode] });
    return;
  }
  try {
    if (state.phase === "new" && !state.ward) await learnWard();
  } catch (error) {
    if (error instanceof ApiError && ["unknown_code", "bad_code"].includes(error.code)) {
      try {
        localStorage.removeItem(ctx.state.key);
      } catch {
        // nothing stored
      }
      forgetCurrent();
      renderCode(`error.${error.code}`, printedCode(state.code));
      return;
    }
    showError(error, { actions: [retry(() => resume(ctx.state)), otherCode] });
    return;
  }
  showWard();
  try {
    if (ctx.state.phase === "new" || ctx.state.phase === "requesting") await getToken();
  } catch (error) {
    const used = error instanceof ApiError && error.code === "code_used";
    showError(error, { stage: error.stage ?? "token", actions: used ? [otherCode] : [retry(() => resume(ctx.state)), otherCode] });
    return;
  }
  const now = ctx.state;
  if (now.phase === "voting") {
    if (now.step === "review" && unanswered().length === 0) renderReview();
    else renderBallot();
  } else if (now.phase === "casting") {
    await castAndReport();
  } else if (now.phase === "done") {
    renderReceipt();
  }
}

async function main() {
  try {
    await initI18n();
  } catch (error) {
    $("loading-text").textContent = "Không tải được trang. / The page did not load. " + String(error?.message ?? error);
    return;
  }
  onLanguageChange(() => apply(document));
  ctx.roundId = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop());
  ctx.root = new URL("..", new URL(location.pathname, location.origin));
  const begin = async (raw) => {
    let state = null;
    let codeError = null;
    try {
      if (raw !== null) {
        const code = normalizeCode(raw);
        if (code) state = await adoptCode(code);
        else codeError = "error.bad_code";
      } else state = currentState();
      if (!ctx.round) await loadRound();
    } catch (error) {
      showError(error, { stage: error.stage ?? "manifest", actions: [retry(() => begin(raw))] });
      return;
    }
    if (!state) renderCode(codeError, codeError ? raw : "");
    else await resume(state);
  };
  // A link opened in this tab while the booth is open (another slip scanned, say).
  window.addEventListener("hashchange", () => {
    const raw = takeFragmentCode();
    if (raw !== null) begin(raw);
  });
  await begin(takeFragmentCode());
}

/** The code of the URL's fragment (#code=...), taken out of the address bar and history. */
function takeFragmentCode() {
  if (!location.hash) return null;
  const raw = new URLSearchParams(location.hash.slice(1)).get("code");
  history.replaceState(history.state, "", location.pathname + location.search);
  return raw;
}

// Exposed for the tests and for curious participants: nothing secret lives here.
window.anonballotBooth = { normalizeCode, lang, label };

main();
