// @ts-check
// anonballot: the voting booth's pages (GET /r/{round_id}), the views of booth-state.js.
//
// The state machine (booth-state.js) decides what comes next and keeps the device's state;
// this module only shows it: the code form, the ballot, the review, the receipt and the
// errors, in the participant's language (i18n.js), and hands what the participant does back
// to the machine. All of the cryptography runs in this browser (see booth-state.js).

import { apply, attr, initI18n, label, lang, lbl, onLanguageChange, t, tr } from "./i18n.js";
import { ApiError, apiUrl, request } from "./api.js";
import { explain, focusOn, h, ht, showOnly } from "./page.js";
import { CryptoError } from "./errors.js";
import { normalizeCode } from "./codes.js";
import { jcs } from "./jcs.js";
import { cosignedReceipt, toTlogProof } from "./receipt.js";
import { stripWhiteSpace } from "./ballot.js";
import { firstNewCharacter } from "./unicode14.js";
import { Booth, checkpointSize, KEEP_DAYS_AFTER_VOTING, StorageUnavailable } from "./booth-state.js";

/**
 * @typedef {import("./booth-state.js").Outcome} Outcome
 * @typedef {import("./booth-state.js").Action} Action
 * @typedef {import("./booth-state.js").Note} Note
 */

const SAVE_DELAY_MS = 400;

const roundId = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop() ?? "");
const root = new URL("..", new URL(location.pathname, location.origin));

const booth = new Booth({
  roundId,
  storage: window.localStorage,
  session: window.sessionStorage,
  request: (path, options) => request(apiUrl(root, `rounds/${encodeURIComponent(roundId)}/${path}`), options),
  onStatus: working,
});

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

/** @param {string | null} name the step shown as current, or none */
function setStep(name) {
  const steps = $("steps");
  steps.hidden = name === null;
  for (const li of steps.querySelectorAll("li")) {
    if (li.dataset.step === name) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }
}

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function showView(id) {
  const view = $(id);
  showOnly(view);
  return view;
}

/** @param {string} key the catalog text of what the booth is doing */
function working(key) {
  const view = showView("view-working");
  view.replaceChildren(h("p", { class: "working" }, h("span", { class: "spinner", "aria-hidden": "true" }), " ", ht("span", key)));
  view.setAttribute("role", "status");
}

function showRound() {
  const round = booth.round;
  if (!round || $("round-fingerprint").dataset.mid === round.mid) return;
  lbl($("round-title"), round.manifest.title);
  const fingerprint = $("round-fingerprint");
  // The fingerprint alone may break anywhere (it has no words); the sentence before it
  // breaks between words only.
  fingerprint.replaceChildren(ht("span", "booth.fingerprint"), " ", h("code", { class: "mid", text: round.mid }));
  fingerprint.dataset.mid = round.mid;
  fingerprint.hidden = false;
  const title = document.querySelector("title");
  if (title) tr(title, "booth.page_title_round", { title: round.manifest.title });
}

function showWard() {
  const ward = booth.round?.manifest.wards.find((w) => w.id === booth.state?.ward);
  const line = $("round-ward");
  if (ward) tr(line, "booth.ward", { ward: ward.name });
  line.hidden = !ward;
}

function windows() {
  const m = booth.round?.manifest;
  if (!m) return [];
  return [
    ht("p", "booth.window.issuance", { opens: { $time: m.issuance.opens }, closes: { $time: m.issuance.closes } }),
    ht("p", "booth.window.voting", { opens: { $time: m.voting.opens }, closes: { $time: m.voting.closes } }),
  ];
}

/**
 * Show what the machine answered.
 * @param {Outcome} outcome
 */
function render(outcome) {
  clearTimeout(openingTimer);
  showRound();
  switch (outcome.kind) {
    case "code":
      $("round-ward").hidden = true;
      renderCode(outcome.errorKey, outcome.value);
      return;
    case "ballot":
      renderBallot();
      return;
    case "review":
      renderReview();
      return;
    case "receipt":
      renderReceipt(outcome.again);
      return;
    case "error":
      showError(outcome.error, outcome.stage, outcome.actions, outcome.notes, outcome.say);
      return;
  }
}

/**
 * Run a step of the machine and show its outcome.
 * @param {() => Promise<Outcome> | Outcome} step
 */
async function run(step) {
  render(await step());
}

/**
 * The error view: a heading, the catalog's explanation, the technical detail folded away and
 * the machine's actions as buttons.
 * @param {unknown} error
 * @param {string} stage
 * @param {Action[]} actions
 * @param {Note[]} notes
 * @param {Note} [say] the text that explains the error better than its own
 */
function showError(error, stage, actions, notes, say) {
  const view = showView("view-error");
  let key;
  let detail;
  if (error instanceof StorageUnavailable) {
    key = "error.storage";
    detail = error.message;
  } else {
    ({ key, detail } = explain(error, stage));
  }
  // A ballot too long is the participant's to shorten, not a fault of the server's data.
  const tooLong = error instanceof CryptoError && error.code === "ballot_too_large";
  const alarming = (error instanceof CryptoError && !tooLong) || key === "error.manifest_changed";
  const showWindows = !say && error instanceof ApiError && error.code === "outside_window";
  view.replaceChildren(
    ht("h2", alarming ? "error.heading_alarm" : "error.heading", undefined, { id: "error-heading" }),
    h(
      "div",
      { class: alarming ? "notice alarm" : "notice", role: "alert" },
      say ? ht("p", say.key, say.params, { id: "error-text" }) : ht("p", key, undefined, { id: "error-text" }),
      ...notes.map((note) => ht("p", note.key, note.params)),
      ...(showWindows ? windows() : []),
    ),
    h("details", { class: "detail" }, ht("summary", "error.detail"), h("code", { text: detail })),
    h(
      "div",
      { class: "actions" },
      actions.map((a) => ht("button", a.key, undefined, { type: "button", class: a.primary ? "primary" : "secondary", on: { click: () => run(a.run) } })),
    ),
  );
  focusOn($("error-heading"), { top: true });
}

// ------------------------------------------------------------------ step 1: the code

/**
 * @param {string | null} errorKey
 * @param {string} value
 */
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
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(() => booth.enterCode(input.value));
  });
  view.replaceChildren(ht("h2", "code.heading", undefined, { id: "code-heading" }), ht("p", "code.intro"), form, ...windows());
  if (errorKey) input.focus();
}

// ------------------------------------------------------------------ step 2: the ballot

/** @param {string} text */
function codePoints(text) {
  return [...text.normalize("NFC")].length;
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let saveTimer = undefined;
function saveSoon() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(saveNow, SAVE_DELAY_MS);
}

function saveNow() {
  clearTimeout(saveTimer);
  saveTimer = undefined;
  booth.saveAnswers(); // a refusal is shown when the participant moves on (review)
}

window.addEventListener("pagehide", saveNow);

function updateRemaining() {
  const total = booth.requireRound().manifest.questionnaire.criteria.length * booth.wardSubjects().length;
  const missing = booth.unanswered().length;
  const text = document.getElementById("remaining");
  if (!text) return;
  if (missing === 0) tr(text, "ballot.all_answered");
  else tr(text, "ballot.remaining", { n: missing, total });
  text.classList.toggle("done", missing === 0);
  const meter = /** @type {HTMLProgressElement} */ ($("progress"));
  meter.max = total;
  meter.value = total - missing;
  attr(meter, "aria-label", "ballot.progress_label", { done: total - missing, total });
}

/**
 * Update a comment's counter and error; true when the comment cannot be sent as it is.
 * @param {HTMLTextAreaElement} textarea
 * @returns {boolean}
 */
function updateCounter(textarea) {
  const max = Number(textarea.dataset.max);
  const used = codePoints(textarea.value);
  const counter = $(`${textarea.id}-count`);
  const over = used > max;
  // Over the limit, the counter says by how much in words: red alone tells nobody what to do.
  if (over) tr(counter, "ballot.counter_over", { n: used - max, used, max });
  else tr(counter, "ballot.counter", { n: used, max });
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

/** @param {boolean} [focus] move the focus to the heading (a new step) */
function renderBallot(focus = true) {
  setStep("ballot");
  showWard();
  const view = showView("view-ballot");
  const q = booth.requireRound().manifest.questionnaire;
  const subjects = booth.wardSubjects();
  const allLevels = booth.levels();
  const form = h("form", { id: "ballot-form", class: "ballot", novalidate: true });

  subjects.forEach((subject, si) => {
    const answer = booth.answerOf(subject.id);
    const section = h("section", { class: "subject", "aria-labelledby": `subject-${si}` });
    // Only the name stays on screen while the questions scroll under it: the number and the
    // role are read once, above and below it, so that the sticky line is one or two lines.
    section.append(
      ht("p", "ballot.subject_number", { i: si + 1, n: subjects.length }, { class: "subject-number" }),
      h("h3", { id: `subject-${si}`, class: "subject-heading" }, lbl(h("span", { class: "subject-name" }), subject.name)),
      ...(subject.roleInfo ? [lbl(h("p", { class: "subject-role" }), subject.roleInfo.title)] : []),
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
    if (!(input instanceof HTMLInputElement) || input.type !== "radio") return;
    const fieldset = input.closest("fieldset");
    if (!fieldset) return;
    clearTimeout(saveTimer); // the rating's save below takes the comments typed so far along
    booth.setRating(fieldset.dataset.subject ?? "", fieldset.dataset.criterion ?? "", input.value);
    fieldset.classList.remove("missing");
    fieldset.removeAttribute("aria-invalid");
    const error = fieldset.querySelector(".field-error");
    if (error instanceof HTMLElement) error.hidden = true;
    updateRemaining();
  });
  form.addEventListener("input", (event) => {
    const textarea = event.target;
    if (!(textarea instanceof HTMLTextAreaElement)) return;
    booth.setComment(textarea.dataset.subject ?? "", textarea.dataset.field ?? "", textarea.value);
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
  view.replaceChildren(
    ht("h2", "ballot.heading", undefined, { id: "ballot-heading" }),
    ...comeBack(),
    h("div", { class: "intro" }, ht("p", "ballot.intro"), ht("p", "ballot.saved_note", undefined, { class: "hint" })),
    form,
    bar,
  );
  for (const textarea of form.querySelectorAll("textarea")) updateCounter(textarea);
  updateRemaining();
  whenVotingOpens(removeComeBack);
  if (focus) focusOn($("ballot-heading"), { top: true });
}

/**
 * A two-phase round before voting opens (threat-model.md): the token is taken and kept on
 * this device; the notice says when, and on which device, to come back. Judged by the
 * server's time (booth.now()), not the device's.
 * @returns {HTMLElement[]}
 */
function comeBack() {
  if (!booth.votingOpensLater()) return [];
  const voting = booth.requireRound().manifest.voting;
  const times = { opens: { $time: voting.opens }, closes: { $time: voting.closes } };
  return [h("div", { class: "notice come-back" }, ht("p", "ballot.come_back_when", times, { class: "strong" }), ht("p", "ballot.come_back", times))];
}

/** Voting has opened: no "come back" any more, in the view shown or in the others kept. */
function removeComeBack() {
  for (const notice of document.querySelectorAll(".come-back")) notice.remove();
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let openingTimer = undefined;

/**
 * Call `fn` when voting opens, if the page is still showing the same step then (a phone
 * left on the review enables its cast button by itself). Browsers cap a timer at about 24.8
 * days; a page left open longer simply waits for a reload.
 * @param {() => void} fn
 */
function whenVotingOpens(fn) {
  clearTimeout(openingTimer);
  const wait = booth.untilVotingOpens();
  if (wait > 0 && wait < 2 ** 31 - 1) openingTimer = setTimeout(fn, wait + 1000); // a second late rather than early
}

function toReview() {
  const missing = booth.unanswered();
  for (const fieldset of document.querySelectorAll("fieldset.question")) {
    const isMissing = missing.some((m) => fieldset.id === `q-${m.si}-${m.ci}`);
    fieldset.classList.toggle("missing", isMissing);
    const error = fieldset.querySelector(".field-error");
    if (!(error instanceof HTMLElement)) continue;
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
    first.querySelector("input")?.focus({ preventScroll: true });
    return;
  }
  const over = [...document.querySelectorAll("#ballot-form textarea")].find((textarea) => textarea instanceof HTMLTextAreaElement && updateCounter(textarea));
  if (over instanceof HTMLElement) {
    over.scrollIntoView({ block: "center" });
    over.focus({ preventScroll: true });
    return;
  }
  render(booth.goTo("review"));
}

// The review is one entry of the history after the ballot, so that the phone's Back button
// on the review returns to the ballot instead of leaving the booth.
const STEP = "anonballotStep";

function reviewInHistory() {
  if (history.state?.[STEP] === "review") return; // a reload of the review keeps its entry
  if (history.state?.[STEP] !== "ballot") history.replaceState({ ...history.state, [STEP]: "ballot" }, "");
  history.pushState({ [STEP]: "review" }, "");
}

function backToBallot() {
  if (history.state?.[STEP] === "review") history.back(); // popstate shows the ballot
  else render(booth.goTo("ballot"));
}

window.addEventListener("popstate", (event) => {
  const step = event.state?.[STEP];
  if (!$("view-review").hidden && step !== "review") render(booth.goTo("ballot"));
  else if (step === "review" && !$("view-ballot").hidden) toReview();
});


// ------------------------------------------------------------------ step 3: the review

function renderReview() {
  setStep("review");
  showWard();
  const view = showView("view-review");
  const q = booth.requireRound().manifest.questionnaire;
  const byId = new Map(booth.levels().map((l) => [l.id, l]));
  const parts = booth.wardSubjects().map((subject) => {
    const answer = booth.answerOf(subject.id);
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
      .map((field) => /** @type {[import("./manifest.js").CommentField, string]} */ ([field, stripWhiteSpace((answer.comments[field.id] ?? "").normalize("NFC"))]))
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
    ...comeBack(),
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
        on: { click: backToBallot },
      }),
      castButton(),
    ),
  );
  reviewInHistory();
  whenVotingOpens(() => {
    removeComeBack();
    $("cast-ballot").replaceWith(castButton());
  });
  focusOn($("review-heading"), { top: true });
}

/** @returns {HTMLButtonElement} the cast button; before voting opens, disabled and saying from when */
function castButton() {
  const voting = booth.requireRound().manifest.voting;
  if (booth.votingOpensLater()) {
    return ht("button", "review.cast_from", { opens: { $time: voting.opens } }, { type: "button", class: "primary", id: "cast-ballot", disabled: true });
  }
  return ht("button", "review.cast", undefined, {
    type: "button",
    class: "primary",
    id: "cast-ballot",
    on: {
      click: (event) => {
        const button = event.currentTarget;
        if (button instanceof HTMLButtonElement) button.disabled = true; // one click, one cast (a second would be harmless)
        run(() => booth.castBallot());
      },
    },
  });
}

// ------------------------------------------------------------------ step 4: the receipt

/**
 * @param {unknown} receipt
 * @param {string} code
 */
function download(receipt, code) {
  const blob = new Blob([jcs(receipt)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: `receipt-${roundId}-${code}.json`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * The same receipt as a c2sp.org/tlog-proof file: what transparency-log tools read, and
 * what `anonballot receipt verify --manifest` checks offline.
 * @param {unknown} receipt
 * @param {string} code
 * @returns {Promise<void>}
 */
async function downloadProof(receipt, code) {
  // in the newest checkpoint when the round's witnesses have cosigned it (a few seconds
  // after the cast), so that the file carries their cosignatures
  let value = receipt;
  const round = booth.round;
  if (round) {
    try {
      const note = await request(new URL(`log/${encodeURIComponent(roundId)}/checkpoint`, root), { as: "text" });
      value = await cosignedReceipt(receipt, round, note, async (index, size) => {
        const answer = await request(apiUrl(root, `rounds/${encodeURIComponent(roundId)}/proof/inclusion?index=${index}&size=${size}`));
        return answer?.proof;
      });
    } catch {
      value = receipt; // offline: the receipt as the server gave it
    }
  }
  const blob = new Blob([toTlogProof(value)], { type: "text/plain" });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: `receipt-${roundId}-${code}.tlog-proof`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The receipt code with line breaks allowed only between its groups of four. */
/** @param {string} code */
function codeGroups(code) {
  return code.split("-").flatMap((group, i) => (i ? ["-", h("wbr"), h("span", { class: "group", text: group })] : [h("span", { class: "group", text: group })]));
}

/** @param {boolean} already the receipt of an earlier visit, shown again */
function renderReceipt(already) {
  const state = booth.requireState();
  setStep("receipt");
  showWard();
  const view = showView("view-receipt");
  const receipt = booth.receipt(); // null when this device kept the code only
  const code = state.receipt_code ?? "";
  const verifyUrl = new URL("verify", root).href;
  const expires = { expires: { $time: state.expires ?? "" }, days: KEEP_DAYS_AFTER_VOTING };
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
      receipt
        ? h(
            "ul",
            { class: "checks" },
            ht("li", "receipt.check_signature", undefined, { class: "ok" }),
            ht("li", "receipt.check_inclusion", { n: receipt.leaf_index + 1, size: checkpointSize(String(receipt.checkpoint)) }, { class: "ok" }),
          )
        : null,
      receipt
        ? h(
            "div",
            { class: "print-only" },
            ht("p", "receipt.print_round", { title: booth.requireRound().manifest.title }),
            ht("p", "receipt.print_position", { n: receipt.leaf_index + 1 }),
            ht("p", "receipt.print_verify", { url: verifyUrl }),
          )
        : null,
    ),
    receipt ? ht("p", "receipt.keep") : ht("p", "receipt.not_kept", undefined, { id: "receipt-not-kept" }),
    ht("p", "receipt.privacy", undefined, { class: "hint" }),
    // replaceChildren writes a null as the text "null": what is left out is an empty list
    ...(receipt
      ? [
          h(
            "div",
            { class: "actions no-print" },
            ht("button", "receipt.download", undefined, { type: "button", class: "primary", id: "download-receipt", on: { click: () => download(receipt, code) } }),
            ht("button", "receipt.print", undefined, { type: "button", class: "secondary", id: "print-receipt", on: { click: () => window.print() } }),
            ht("button", "receipt.download_proof", undefined, { type: "button", class: "secondary", id: "download-proof", on: { click: () => downloadProof(receipt, code) } }),
          ),
          keepChoice(),
        ]
      : []),
    ht("p", "receipt.expires", expires, { class: "hint no-print", id: "receipt-expires" }),
    h("div", { class: "actions no-print" }, ht("a", "receipt.verify", undefined, { class: "button secondary", href: verifyUrl, id: "verify-link" })),
    h(
      "div",
      { class: "actions no-print minor" },
      ht("button", "action.other_code", undefined, { type: "button", class: "link", on: { click: () => render(booth.anotherCode()) } }),
      ht("button", "receipt.forget", undefined, {
        type: "button",
        class: "link",
        id: "forget-receipt",
        on: {
          click: () => {
            if (!window.confirm(t("receipt.forget_confirm"))) return;
            render(booth.forgetReceipt());
          },
        },
      }),
    ),
  );
  focusOn($("receipt-heading"), { top: true });
}

/**
 * Whether the device keeps the whole receipt or its code only (the default: on a shared
 * phone the next person must not find a receipt that shows, after the tally, how it was
 * counted). A choice made on a phone of one's own, for the receipt checker of this device.
 * @returns {HTMLElement}
 */
function keepChoice() {
  const box = h("input", { type: "checkbox", id: "keep-receipt", checked: booth.receiptKept(), "aria-describedby": "keep-note" });
  const note = ht("p", booth.receiptKept() ? "receipt.kept_note" : "receipt.code_only_note", undefined, { class: "hint", id: "keep-note" });
  box.addEventListener("change", () => {
    const outcome = booth.keepReceipt(box.checked);
    if (outcome.kind === "error") render(outcome);
    else tr(note, booth.receiptKept() ? "receipt.kept_note" : "receipt.code_only_note");
  });
  return h("div", { class: "keep no-print" }, h("label", { class: "option keep-option", for: "keep-receipt" }, box, ht("span", "receipt.keep_label")), note);
}

// ------------------------------------------------------------------ the flow

/** The code of the URL's fragment (#code=...), taken out of the address bar and history. */
function takeFragmentCode() {
  if (!location.hash) return null;
  const raw = new URLSearchParams(location.hash.slice(1)).get("code");
  history.replaceState(history.state, "", location.pathname + location.search);
  return raw;
}

async function main() {
  try {
    await initI18n();
  } catch (error) {
    $("loading-text").textContent = "Không tải được trang. / The page did not load. " + String(error instanceof Error ? error.message : error);
    return;
  }
  onLanguageChange(() => apply(document));
  // A link opened in this tab while the booth is open (another slip scanned, say).
  window.addEventListener("hashchange", () => {
    const raw = takeFragmentCode();
    if (raw !== null) run(() => booth.begin(raw));
  });
  await run(() => booth.begin(takeFragmentCode()));
}

// Exposed for the tests and for curious participants: nothing secret lives here.
Object.assign(window, { anonballotBooth: { normalizeCode, lang, label } });

main();
