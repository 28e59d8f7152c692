// @ts-check
// anonballot: the voting booth's state machine, without any DOM (booth.js shows it).
//
// The participant's way through the booth (protocol sections 5 and 6):
//   1. the invitation code, typed or from the slip's link; its ward from POST .../ward;
//   2. the signed manifest, verified here (manifest.js);
//   3. the token: a fresh Ed25519 voter key and an RFC 9474 blinded request, saved on this
//      device BEFORE POST .../tokens, then unblinded and verified (token.js);
//   4. the answers, saved as they are given, then a review step;
//   5. the leaf: sealed for the trustees and signed (sealing.js, leaf.js), saved BEFORE
//      POST .../ballots; the receipt is verified here (receipt.js);
//   6. only the receipt stays: the token secrets are erased.
//
// The state lives in the device's storage (localStorage) under
// "anonballot:booth:<round>:<tag>", where tag is a hash of the code, with a pointer
// "anonballot:booth:<round>:current" to the code in use. Phases:
//   new         the code (and, once learned, the ward)
//   requesting  voter key, prepared message, blinding inverse and blinded request saved;
//               the same request is sent again until the server answers (same answer)
//   voting      the token; the answers as they are given (step "ballot" or "review")
//   casting     the signed leaf; the same leaf is sent again until a receipt comes back
//   done        only the receipt code, unless the participant asks to keep the receipt
//               itself on the device (a shared phone: the next person should not find a
//               receipt that, after the tally, shows how this ballot was counted)
// A reload or a lost answer resumes at the same phase, so a vote is never lost and never
// cast twice. A lock per code (Web Locks) keeps two tabs of one code from racing. A done
// state is pointed at from the tab's session storage only, so that a reload shows the
// receipt again but the next person who opens the booth on a shared phone gets the code form.
//
// Time: the server's clock decides whether a token request or a cast is inside its window,
// so the machine reads the server's time (GET .../status) and judges the windows by it, not
// by the device's clock. Every state carries an expiry (see expiryOf): nothing the booth
// kept for a round outlives its use by long on a shared phone.
//
// Everything the machine touches is given to it: the storage, the server (`request`, paths
// relative to the round's API), the lock and the cryptography, so that it runs and is tested
// without a page (tests/test_booth_state.py). Each step answers an Outcome: what the page
// shows next (the code form, the ballot, the review, the receipt or an error with actions).

import { ApiError, messageOf } from "./api.js";
import { CryptoError } from "./errors.js";
import { b64uDecode, b64uEncode } from "./b64u.js";
import { fromUtf8, sha256, toHex, utf8 } from "./bytes.js";
import { formatCode, normalizeCode } from "./codes.js";
import { jcs } from "./jcs.js";
import { openSignedManifest } from "./manifest.js";
import { createTokenRequest, finalizeToken, tokenFromJson, tokenToJson, verifyToken } from "./token.js";
import { MAX_LEAF_SIZE, buildLeaf, exportVoterSeed, generateVoterKey, importVoterSeed, leafSize } from "./leaf.js";
import { makeBallot, validateBallot } from "./ballot.js";
import { seal } from "./sealing.js";
import { leafHash } from "./merkle.js";
import { receiptCode, verifyReceipt } from "./receipt.js";
import { firstNewCharacter } from "./unicode14.js";

export const STATE_VERSION = 1;
export const PREFIX = "anonballot:booth:";

/**
 * Days after the voting window closes that a receipt (or a cast whose answer was lost) stays
 * on the device. The device cannot know when the tally happens, only when voting closes (the
 * signed manifest says so); the tally follows within days, and 60 days leave weeks to check
 * how the ballot was counted, yet clear the device long before the next round six months
 * later, so that a shared phone never gathers the receipts of several people and rounds.
 */
export const KEEP_DAYS_AFTER_VOTING = 60;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The refusals of a cast after which the server kept nothing: the answers may change. */
const REFUSED_CAST = ["outside_window", "round_not_open", "too_large", "leaf_too_large"];
/** The refusals of a cast after a lost answer: the leaf may be on the board already. */
const MAYBE_CAST = ["round_not_open", "outside_window", "token_spent"];

/**
 * @typedef {import("./manifest.js").Round} Round
 * @typedef {import("./manifest.js").Subject} Subject
 * @typedef {import("./manifest.js").Role} Role
 * @typedef {import("./manifest.js").Level} Level
 * @typedef {import("./api.js").RequestOptions} RequestOptions
 * @typedef {{ratings: Record<string, string>, comments: Record<string, string>}} Answer
 * @typedef {"new" | "requesting" | "voting" | "casting" | "done"} Phase
 * @typedef {{
 *   v: number, key: string, round_id: string, phase: Phase, code?: string, ward?: string, mid?: string,
 *   voter_seed?: string, prepared?: string, inv?: string, blinded?: string,
 *   token?: {msg: string, sig: string}, step?: "ballot" | "review", answers?: Record<string, Answer>,
 *   leaf?: string, receipt?: Record<string, any>, receipt_code?: string, expires?: string,
 * }} State what the device keeps for one code (the stored JSON)
 * @typedef {Pick<Storage, "getItem" | "setItem" | "removeItem" | "key" | "length">} StorageLike
 * @typedef {(path: string, options?: RequestOptions) => Promise<any>} Requester the round's API: path relative to api/rounds/<round>/
 * @typedef {(name: string, fn: () => Promise<void>) => Promise<void>} Locker
 * @typedef {{key: string, params?: Record<string, unknown>}} Note a catalog text shown with an error
 * @typedef {{key: string, primary?: boolean, run: () => Promise<Outcome>}} Action a button of the error view
 * @typedef {{kind: "code", errorKey: string | null, value: string}
 *   | {kind: "ballot"}
 *   | {kind: "review"}
 *   | {kind: "receipt", again: boolean}
 *   | {kind: "error", error: unknown, stage: string, actions: Action[], notes: Note[], say?: Note}} Outcome what the page shows
 *   next; an error's `say` is the text that explains it better than the error's own (a window's refusal, with its time)
 * @typedef {{
 *   openSignedManifest: typeof openSignedManifest, generateVoterKey: typeof generateVoterKey,
 *   createTokenRequest: typeof createTokenRequest, finalizeToken: typeof finalizeToken,
 *   verifyToken: typeof verifyToken, seal: typeof seal, verifyReceipt: typeof verifyReceipt,
 * }} BoothCrypto
 * @typedef {{
 *   roundId: string, storage: StorageLike, session?: Pick<StorageLike, "getItem" | "setItem" | "removeItem">,
 *   request: Requester, lock?: Locker, crypto?: Partial<BoothCrypto>, onStatus?: (key: string) => void,
 * }} BoothOptions
 */

/** @type {BoothCrypto} */
const CRYPTO = { openSignedManifest, generateVoterKey, createTokenRequest, finalizeToken, verifyToken, seal, verifyReceipt };

/** The device does not let the page save data: the booth cannot go on (it saves before it sends). */
export class StorageUnavailable extends Error {
  constructor() {
    super("this browser does not let the page save data");
    this.name = "StorageUnavailable";
  }
}

/**
 * One tab at a time sends requests for a code (Web Locks where the browser has them).
 * @type {Locker}
 */
async function webLock(name, fn) {
  const locks = globalThis.navigator?.locks;
  if (locks?.request) return locks.request(name, fn);
  return fn();
}

/**
 * `value`, or an error when a stored state lacks what its phase needs.
 * @template T
 * @param {T | undefined | null} value
 * @param {string} what
 * @returns {T}
 */
function must(value, what) {
  if (value === undefined || value === null) throw new Error(`the saved state has no ${what}`);
  return value;
}

/**
 * The stage of a page an error belongs to (its catalog text "error.crypto.<stage>").
 * @param {unknown} error
 * @param {string} fallback
 * @returns {string}
 */
function stageOf(error, fallback) {
  return error instanceof CryptoError && error.stage ? error.stage : fallback;
}

/**
 * A CryptoError of `stage`; other errors unchanged.
 * @param {unknown} error
 * @param {string} stage
 * @returns {unknown}
 */
function atStage(error, stage) {
  if (error instanceof CryptoError) error.stage = stage;
  return error;
}

/**
 * The device's tag of a code: a hash, so the storage keys do not show the code.
 * @param {string} code
 * @returns {Promise<string>}
 */
export async function codeTag(code) {
  return toHex(await sha256(utf8(`anonballot/booth\u0000${code}`))).slice(0, 24);
}

/**
 * When a state of `phase` expires, for a round whose voting closes at `closes` (RFC 3339).
 * A state that has not cast is of no use once voting closes (the server refuses its token and
 * its ballot) while it holds the answers: it goes then. A receipt, or a cast whose answer was
 * lost (the booth can still find it on the board), stays KEEP_DAYS_AFTER_VOTING days more.
 * @param {Phase} phase
 * @param {string} closes
 * @returns {string}
 */
export function expiryOf(phase, closes) {
  const after = phase === "done" || phase === "casting" ? KEEP_DAYS_AFTER_VOTING * DAY_MS : 0;
  return new Date(Date.parse(closes) + after).toISOString();
}

/**
 * Remove the booth's states that expired by `now` (ms), of every round, and the pointers left
 * without a state. `phases` limits the sweep to states of those phases (a page that only
 * knows the device's clock, which may be wrong, sweeps receipts only: never a token).
 * @param {StorageLike} storage
 * @param {number} now
 * @param {Phase[] | null} [phases]
 * @returns {number} how many states were removed
 */
export function sweepExpired(storage, now, phases = null) {
  /** @type {string[]} */
  const keys = [];
  try {
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i);
      if (key?.startsWith(PREFIX)) keys.push(key);
    }
  } catch {
    return 0; // no storage: nothing kept
  }
  let removed = 0;
  for (const key of keys.filter((k) => !k.endsWith(":current"))) {
    let state;
    try {
      state = JSON.parse(storage.getItem(key) ?? "null");
    } catch {
      continue; // not the booth's JSON: left alone
    }
    const expires = Date.parse(state?.expires);
    if (!Number.isFinite(expires) || expires > now) continue;
    if (phases && !phases.includes(state.phase)) continue;
    storage.removeItem(key);
    removed++;
  }
  for (const pointer of keys.filter((k) => k.endsWith(":current"))) {
    const target = storage.getItem(pointer);
    if (target && storage.getItem(target) === null) storage.removeItem(pointer);
  }
  return removed;
}

/**
 * The tree size of a checkpoint note (its second line), or NaN.
 * @param {string} note
 * @returns {number}
 */
export function checkpointSize(note) {
  return Number((note.split("\n")[1] ?? "").trim());
}

export class Booth {
  /** @param {BoothOptions} options */
  constructor({ roundId, storage, session = undefined, request, lock = webLock, crypto = {}, onStatus = () => {} }) {
    this.roundId = roundId;
    this.storage = storage;
    this.session = session;
    this.request = request;
    this.lock = lock;
    /** @type {BoothCrypto} */
    this.crypto = { ...CRYPTO, ...crypto };
    this.onStatus = onStatus;
    /** @type {Round | null} */
    this.round = null;
    /** @type {State | null} */
    this.state = null;
    /** Whether the receipt in `state` was made in this visit (not shown again from an earlier one). */
    this.justCast = false;
    /** The whole receipt of this visit's cast, kept in memory (the device keeps only its code). */
    /** @type {Record<string, any> | null} */
    this.freshReceipt = null;
    /** The server's clock minus the device's (ms), from GET .../status. */
    this.skew = 0;
  }

  // ---------------------------------------------------------------- time

  /** @returns {number} the server's time now (ms), as well as the device can tell */
  now() {
    return Date.now() + this.skew;
  }

  /** @returns {boolean} whether voting has not opened yet (a two-phase round's first phase) */
  votingOpensLater() {
    return this.now() < Date.parse(this.requireRound().manifest.voting.opens);
  }

  /** @returns {boolean} whether the voting window has closed */
  votingOver() {
    return this.now() >= Date.parse(this.requireRound().manifest.voting.closes);
  }

  /** @returns {number} ms until voting opens (0 when it is open or over) */
  untilVotingOpens() {
    return Math.max(0, Date.parse(this.requireRound().manifest.voting.opens) - this.now());
  }

  // ---------------------------------------------------------------- the device's storage

  /** @returns {string} */
  get currentPointer() {
    return `${PREFIX}${this.roundId}:current`;
  }

  /**
   * The state stored under `key`, if it is one of this version.
   * @param {string} key
   * @returns {State | null}
   */
  read(key) {
    try {
      const value = JSON.parse(this.storage.getItem(key) ?? "null");
      return value && value.v === STATE_VERSION && value.key === key ? value : null;
    } catch {
      return null;
    }
  }

  /**
   * Save `state` and make it the machine's; StorageUnavailable when the device refuses.
   * @param {State} state
   */
  save(state) {
    const closes = this.round?.manifest.voting.closes;
    if (closes) state = { ...state, expires: expiryOf(state.phase, closes) };
    try {
      this.storage.setItem(state.key, JSON.stringify(state));
      this.pointAt(state);
    } catch {
      throw new StorageUnavailable();
    }
    this.state = state;
  }

  /**
   * Make `state` the one a reload without a code resumes: from the device's storage while
   * the vote is under way; from this tab's session only once it is done (see the top).
   * @param {State} state
   */
  pointAt(state) {
    if (state.phase === "done") {
      // another code's vote under way on this device keeps its pointer
      if (this.storage.getItem(this.currentPointer) === state.key) this.storage.removeItem(this.currentPointer);
      this.session?.setItem(this.currentPointer, state.key);
    } else {
      this.storage.setItem(this.currentPointer, state.key);
      this.session?.removeItem(this.currentPointer);
    }
  }

  /**
   * Save the answers as they are now (while voting); a refusal is shown at the review.
   * @returns {boolean} whether they were saved
   */
  saveAnswers() {
    if (this.state?.phase !== "voting") return false;
    try {
      this.save(this.state);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The state of `code` on this device (a new one if none), made the current one.
   * @param {string} code a normalized code
   * @returns {Promise<State>}
   */
  async adoptCode(code) {
    const key = `${PREFIX}${this.roundId}:${await codeTag(code)}`;
    const state = this.read(key) ?? { v: STATE_VERSION, key, round_id: this.roundId, phase: "new", code };
    this.save(state);
    return /** @type {State} */ (this.state);
  }

  /** @returns {State | null} the state of the code in use on this device */
  currentState() {
    try {
      const key = this.storage.getItem(this.currentPointer) ?? this.session?.getItem(this.currentPointer);
      return key ? this.read(key) : null;
    } catch {
      return null;
    }
  }

  /** Stop using the current code on this device (its state stays). */
  forgetCurrent() {
    try {
      this.storage.removeItem(this.currentPointer);
      this.session?.removeItem(this.currentPointer);
    } catch {
      // nothing to forget
    }
    this.state = null;
    this.freshReceipt = null;
  }

  /** @param {string} key */
  remove(key) {
    try {
      this.storage.removeItem(key);
    } catch {
      // nothing stored
    }
  }

  /** @returns {State} */
  requireState() {
    return must(this.state, "state");
  }

  /** @returns {Round} */
  requireRound() {
    return must(this.round, "round");
  }

  // ---------------------------------------------------------------- the flow

  /**
   * Open the booth: with the code of the slip's link (`raw`), or the code in use on this
   * device (null). Loads and verifies the manifest first.
   * @param {string | null} raw
   * @returns {Promise<Outcome>}
   */
  async begin(raw) {
    let state = null;
    let codeError = null;
    try {
      if (!this.round) await this.loadRound();
      await this.loadClock();
      sweepExpired(this.storage, this.now());
      if (raw !== null) {
        const code = normalizeCode(raw);
        if (code) state = await this.adoptCode(code);
        else codeError = "error.bad_code";
      } else state = this.currentState();
    } catch (error) {
      return this.failure(error, stageOf(error, "manifest"), [this.retry(() => this.begin(raw))]);
    }
    if (!state) return { kind: "code", errorKey: codeError, value: codeError ? (raw ?? "") : "" };
    return this.resume(state);
  }

  /**
   * A code typed into the form.
   * @param {string} text
   * @returns {Promise<Outcome>}
   */
  async enterCode(text) {
    const code = normalizeCode(text);
    if (!code) return { kind: "code", errorKey: "error.bad_code", value: text };
    try {
      return await this.resume(await this.adoptCode(code));
    } catch (error) {
      return this.failure(error, "generic", [this.retry(() => this.enterCode(text))]);
    }
  }

  async loadRound() {
    this.onStatus("status.manifest");
    const signed = await this.request("manifest");
    let round;
    try {
      round = await this.crypto.openSignedManifest(signed);
      if (round.manifest.round_id !== this.roundId) throw new CryptoError("the manifest is of another round", "wrong_round");
    } catch (error) {
      throw atStage(error, "manifest");
    }
    this.round = round;
  }

  /** The server's time, so that the windows are judged by it. */
  async loadClock() {
    const sent = Date.now();
    const status = await this.request("status");
    const received = Date.now();
    const now = Date.parse(status?.now);
    if (!Number.isFinite(now)) throw new ApiError(200, "bad_answer", "the status has no time");
    this.skew = now - (sent + received) / 2; // the answer was made about half-way
  }

  /**
   * Continue `state` from wherever it stopped.
   * @param {State} state
   * @returns {Promise<Outcome>}
   */
  async resume(state) {
    this.state = state;
    this.justCast = false;
    this.freshReceipt = null; // another code's receipt is not this one's
    const round = this.requireRound();
    if (state.mid && state.mid !== round.mid) {
      return this.failure(new ApiError(0, "manifest_changed", `expected ${state.mid}, the server has ${round.mid}`), "generic", [this.otherCode()]);
    }
    try {
      if (state.phase === "new" && !state.ward) await this.learnWard();
    } catch (error) {
      if (error instanceof ApiError && (error.code === "unknown_code" || error.code === "bad_code")) {
        this.remove(this.requireState().key);
        this.forgetCurrent();
        return { kind: "code", errorKey: `error.${error.code}`, value: formatCode(state.code ?? "") };
      }
      return this.failure(error, "generic", [this.retry(() => this.resume(this.requireState())), this.otherCode()]);
    }
    try {
      const phase = this.requireState().phase;
      if (phase === "new" || phase === "requesting") await this.getToken();
    } catch (error) {
      const used = error instanceof ApiError && error.code === "code_used";
      const actions = used ? [this.otherCode()] : [this.retry(() => this.resume(this.requireState())), this.otherCode()];
      if (error instanceof ApiError && error.code === "outside_window") return this.issuanceRefused(error, actions);
      return this.failure(error, stageOf(error, "token"), actions);
    }
    const now = this.requireState();
    if (now.phase === "voting" && this.votingOver()) {
      // The token can no longer be spent; the answers go with the state when it expires.
      return this.failure(new ApiError(0, "outside_window", "voting has closed"), "ballot", [this.otherCode()], [], this.votingClosed());
    }
    if (now.phase === "voting") return { kind: now.step === "review" && this.unanswered().length === 0 ? "review" : "ballot" };
    if (now.phase === "casting") return this.castBallot();
    if (now.phase === "done") return { kind: "receipt", again: !this.justCast };
    return { kind: "code", errorKey: null, value: "" };
  }

  /**
   * A token request outside the issuance window, said by the window it missed: before it
   * opens, when to come back (trying again then works); after it closed, plainly that this
   * code can no longer be activated, with no "try again" that cannot work.
   * @param {ApiError} error
   * @param {Action[]} actions
   * @returns {Outcome}
   */
  issuanceRefused(error, actions) {
    const { issuance } = this.requireRound().manifest;
    if (this.votingOver()) return this.failure(error, "token", [this.otherCode()], [], this.votingClosed());
    if (this.now() >= Date.parse(issuance.closes)) {
      return this.failure(error, "token", [this.otherCode()], [], { key: "error.issuance_closed", params: { closes: { $time: issuance.closes } } });
    }
    return this.failure(error, "token", actions, [], { key: "error.issuance_not_open", params: { opens: { $time: issuance.opens }, closes: { $time: issuance.closes } } });
  }

  async learnWard() {
    const round = this.requireRound();
    const state = this.requireState();
    this.onStatus("status.ward");
    const answer = await this.request("ward", { method: "POST", json: { code: state.code } });
    if (typeof answer?.ward !== "string") throw new ApiError(200, "bad_answer", "the answer has no ward");
    round.issuerKey(answer.ward); // a ward of the manifest, with a usable issuer key
    this.save({ ...state, ward: answer.ward, mid: round.mid });
  }

  async getToken() {
    const round = this.requireRound();
    const key = this.requireState().key;
    await this.lock(`anonballot-booth:${key}`, async () => {
      let state = this.read(key) ?? this.requireState();
      const issuerKey = round.issuerKey(must(state.ward, "ward"));
      if (state.phase === "new") {
        this.onStatus("status.keys");
        const voter = await this.crypto.generateVoterKey();
        const req = await this.crypto.createTokenRequest(issuerKey, voter.publicKey);
        state = {
          ...state,
          phase: "requesting",
          voter_seed: b64uEncode(await exportVoterSeed(voter)),
          prepared: b64uEncode(req.prepared),
          inv: b64uEncode(req.inv),
          blinded: b64uEncode(req.blinded),
        };
        this.save(state); // before asking: a lost answer must not lose the vote
      }
      this.state = state;
      if (state.phase !== "requesting") return;
      this.onStatus("status.token");
      const answer = await this.request("tokens", { method: "POST", json: { code: state.code, blinded: state.blinded } });
      let token;
      try {
        const req = {
          prepared: b64uDecode(state.prepared, undefined, "prepared"),
          inv: b64uDecode(state.inv, undefined, "inv"),
          blinded: b64uDecode(state.blinded, undefined, "blinded"),
        };
        token = await this.crypto.finalizeToken(issuerKey, req, b64uDecode(answer?.blind_sig, undefined, "blind_sig"));
        await this.crypto.verifyToken(issuerKey, token);
      } catch (error) {
        throw atStage(error, "token");
      }
      const { inv, blinded, prepared, ...rest } = state;
      this.save({ ...rest, phase: "voting", step: "ballot", token: tokenToJson(token), answers: state.answers ?? {} });
    });
  }

  // ---------------------------------------------------------------- the ballot

  /** @returns {(Subject & {roleInfo: Role | undefined})[]} the people rated in the participant's ward */
  wardSubjects() {
    const m = this.requireRound().manifest;
    const ward = this.state?.ward;
    return m.subjects.filter((s) => s.ward === ward).map((s) => ({ ...s, roleInfo: m.roles.find((r) => r.id === s.role) }));
  }

  /** @returns {(Level & {abstain: boolean})[]} the scale, then "no opinion" if the questionnaire has it */
  levels() {
    const q = this.requireRound().manifest.questionnaire;
    return [...q.scale.map((l) => ({ ...l, abstain: false })), ...(q.abstain ? [{ ...q.abstain, abstain: true }] : [])];
  }

  /**
   * The answer about `subject` (made empty when there is none yet).
   * @param {string} subject
   * @returns {Answer}
   */
  answerOf(subject) {
    const state = this.requireState();
    const answers = (state.answers ??= {});
    const a = (answers[subject] ??= { ratings: {}, comments: {} });
    a.ratings ??= {};
    a.comments ??= {};
    return a;
  }

  /**
   * A rating given; saved at once.
   * @param {string} subject
   * @param {string} criterion
   * @param {string} level
   */
  setRating(subject, criterion, level) {
    this.answerOf(subject).ratings[criterion] = level;
    this.saveAnswers();
  }

  /**
   * A comment typed; the page saves it shortly after (saveAnswers), not at every key.
   * @param {string} subject
   * @param {string} field
   * @param {string} text
   */
  setComment(subject, field, text) {
    this.answerOf(subject).comments[field] = text;
  }

  /** @returns {{si: number, ci: number}[]} the questions not answered yet: subject and criterion indexes */
  unanswered() {
    /** @type {{si: number, ci: number}[]} */
    const missing = [];
    const criteria = this.requireRound().manifest.questionnaire.criteria;
    const answers = this.state?.answers;
    this.wardSubjects().forEach((s, si) => {
      criteria.forEach((c, ci) => {
        if (!answers?.[s.id]?.ratings?.[c.id]) missing.push({ si, ci });
      });
    });
    return missing;
  }

  /**
   * Move between the ballot and its review (saved, so a reload comes back to the same step).
   * @param {"ballot" | "review"} step
   * @returns {Outcome}
   */
  goTo(step) {
    try {
      this.save({ ...this.requireState(), step });
    } catch (error) {
      return this.failure(error, "generic", [this.retry(async () => ({ kind: "ballot" }))]);
    }
    return { kind: step };
  }

  // ---------------------------------------------------------------- the cast

  /**
   * The signed leaf of `state`'s answers.
   * @param {State} state
   * @returns {Promise<Uint8Array<ArrayBuffer>>}
   */
  async makeLeaf(state) {
    const round = this.requireRound();
    const ward = must(state.ward, "ward");
    /** @type {Record<string, Answer>} */
    const answers = {};
    for (const subject of this.wardSubjects()) {
      const a = state.answers?.[subject.id];
      /** @type {Record<string, string>} */
      const comments = {};
      for (const [field, text] of Object.entries(a?.comments ?? {})) {
        if (firstNewCharacter(text) !== null) throw new CryptoError(`${subject.id}.${field}: a character newer than Unicode 14.0`, "invalid_input");
        comments[field] = text.normalize("NFC");
      }
      answers[subject.id] = { ratings: { ...(a?.ratings ?? {}) }, comments };
    }
    const ballot = validateBallot(makeBallot(ward, answers), round.manifest, ward);
    const plaintext = jcs(ballot);
    const token = tokenFromJson(must(state.token, "token"));
    // A leaf is at most 65,535 bytes (protocol section 6.3), and its size follows from the
    // plaintext's: a ballot too long is refused here, before anything is sealed or sent.
    const size = leafSize({ ward, trustees: round.trustees.length, plaintextLength: plaintext.length, sigLength: token.sig.length });
    if (size > MAX_LEAF_SIZE) {
      throw new CryptoError(`the ballot would make a leaf of ${size} bytes, ${size - MAX_LEAF_SIZE} more than the ${MAX_LEAF_SIZE} a leaf may have`, "ballot_too_large");
    }
    const sealed = await this.crypto.seal(plaintext, { mid: round.mid, ward, trustees: round.trustees, threshold: round.threshold });
    const voter = await importVoterSeed(b64uDecode(state.voter_seed, 32, "voter seed"));
    return buildLeaf({ mid: round.mid, ward, token, sealed, voter });
  }

  /**
   * Look for `leaf` on the board (a cast whose answer was lost before the round closed):
   * its receipt against the latest checkpoint, or null.
   * @param {Uint8Array<ArrayBuffer>} leaf
   * @returns {Promise<Record<string, unknown> | null>}
   */
  async findOnBoard(leaf) {
    const note = await this.request("checkpoint", { as: "text" });
    const size = checkpointSize(note);
    if (!Number.isSafeInteger(size)) return null;
    const mine = toHex(await leafHash(leaf));
    for (let start = 0; start < size; start += 10000) {
      const end = Math.min(size, start + 10000);
      /** @type {Uint8Array<ArrayBuffer>} */
      const data = await this.request(`leaves?start=${start}&end=${end}`, { as: "bytes" });
      let index = start;
      let from = 0;
      for (let i = 0; i < data.length; i++) {
        if (data[i] !== 0x0a) continue;
        if (toHex(await leafHash(data.subarray(from, i))) === mine) {
          const proof = await this.request(`proof/inclusion?index=${index}&size=${size}`);
          return { round: this.requireRound().mid, leaf_index: index, leaf_hash: b64uEncode(await leafHash(leaf)), checkpoint: note, inclusion: proof.proof };
        }
        index++;
        from = i + 1;
      }
    }
    return null;
  }

  async cast() {
    const round = this.requireRound();
    const key = this.requireState().key;
    await this.lock(`anonballot-booth:${key}`, async () => {
      let state = this.read(key) ?? this.requireState();
      if (state.phase === "voting") {
        this.onStatus("status.sealing");
        let leaf;
        try {
          leaf = await this.makeLeaf(state);
        } catch (error) {
          throw atStage(error, "ballot");
        }
        const { step, ...rest } = state;
        state = { ...rest, phase: "casting", leaf: fromUtf8(leaf) };
        this.save(state); // before casting: a lost answer is answered by casting the same leaf
      }
      this.state = state;
      if (state.phase !== "casting") return;
      this.onStatus("status.casting");
      const leaf = utf8(must(state.leaf, "leaf"));
      let answer;
      try {
        answer = await this.request("ballots", { method: "POST", body: leaf });
      } catch (error) {
        // After a lost answer the round may have closed: the leaf may be on the board already.
        if (!(error instanceof ApiError && MAYBE_CAST.includes(error.code))) throw error;
        answer = await this.findOnBoard(leaf).catch(() => null);
        if (!answer) throw error;
      }
      this.onStatus("status.receipt");
      let checked;
      try {
        checked = await this.crypto.verifyReceipt(answer, round, leaf);
      } catch (error) {
        if (error instanceof CryptoError) {
          error.stage = "receipt";
          error.localCode = receiptCode(await leafHash(leaf));
        }
        throw error;
      }
      // The device keeps the code only; the whole receipt stays in memory for this visit
      // (download, print) and on the device only if the participant asks (keepReceipt).
      this.save({
        v: STATE_VERSION,
        key: state.key,
        round_id: state.round_id,
        phase: "done",
        ward: state.ward,
        mid: state.mid,
        receipt_code: checked.code,
      });
      this.freshReceipt = answer;
      this.justCast = true;
    });
  }

  /**
   * Seal, sign and cast the answers (or cast the saved leaf again): the receipt, or an error
   * that says whether the answers may still change.
   * @returns {Promise<Outcome>}
   */
  async castBallot() {
    try {
      await this.cast();
      return { kind: "receipt", again: !this.justCast };
    } catch (error) {
      const phase = this.state?.phase;
      /** @type {Action[]} */
      const actions = [this.retry(() => this.castBallot())];
      /** @type {Note[]} */
      const notes = [];
      const refused = error instanceof ApiError && REFUSED_CAST.includes(error.code);
      /** @type {Note | undefined} */
      let say;
      if (error instanceof ApiError && error.code === "outside_window" && this.round) {
        const voting = this.round.manifest.voting;
        if (this.votingOver()) {
          actions.length = 0; // trying again cannot help once voting has closed
          say = this.votingClosed();
        } else if (this.votingOpensLater()) {
          say = { key: "error.voting_not_open", params: { opens: { $time: voting.opens }, closes: { $time: voting.closes } } };
        }
      }
      if (error instanceof CryptoError && error.code === "ballot_too_large") {
        // Nothing was sealed or sent: the participant shortens the comments and casts again.
        actions.length = 0;
        actions.push({ key: "action.change_answers", run: async () => this.changeAnswers() });
        say = { key: "error.ballot_too_large" };
      } else if (phase === "casting" && refused && !this.votingOver()) {
        // The server refused this leaf and kept nothing: the answers may still be changed.
        actions.push({ key: "action.change_answers", run: async () => this.changeAnswers() });
      } else if (phase === "casting") {
        notes.push({ key: "cast.saved_note" });
      }
      if (error instanceof CryptoError && error.localCode) notes.push({ key: "error.local_code", params: { code: error.localCode } });
      if (!actions.length) actions.push(this.otherCode());
      return this.failure(error, stageOf(error, "ballot"), actions, notes, say);
    }
  }

  /** @returns {Note} voting has closed, at what time */
  votingClosed() {
    return { key: "error.voting_closed", params: { closes: { $time: this.requireRound().manifest.voting.closes } } };
  }

  /** @returns {Outcome} back to the ballot, the refused leaf dropped */
  changeAnswers() {
    const { leaf, ...rest } = this.requireState();
    try {
      this.save({ ...rest, phase: "voting", step: "ballot" });
    } catch (error) {
      return this.failure(error, "generic", []);
    }
    return { kind: "ballot" };
  }

  // ---------------------------------------------------------------- other codes

  /** @returns {Outcome} the code form, this code no longer the current one */
  anotherCode() {
    this.forgetCurrent();
    return { kind: "code", errorKey: null, value: "" };
  }

  /** @returns {Record<string, any> | null} the whole receipt: this visit's, or the one kept on the device */
  receipt() {
    return this.freshReceipt ?? this.state?.receipt ?? null;
  }

  /** @returns {boolean} whether the whole receipt is kept on this device (not only its code) */
  receiptKept() {
    return this.state?.phase === "done" && Boolean(this.state.receipt);
  }

  /**
   * Keep the whole receipt on this device, as the participant asked (so that the receipt
   * checker of this device can check it), or only its code again.
   * @param {boolean} keep
   * @returns {Outcome}
   */
  keepReceipt(keep) {
    const state = this.requireState();
    const receipt = this.receipt();
    if (state.phase !== "done" || !receipt) return { kind: "receipt", again: !this.justCast };
    const { receipt: _, ...codeOnly } = state;
    try {
      this.save(keep ? { ...codeOnly, receipt } : codeOnly);
    } catch (error) {
      return this.failure(error, "generic", []);
    }
    return { kind: "receipt", again: !this.justCast };
  }

  /** @returns {Outcome} the receipt (and its code) erased from this device, then the code form */
  forgetReceipt() {
    if (this.state) this.remove(this.state.key);
    return this.anotherCode();
  }

  // ---------------------------------------------------------------- outcomes

  /**
   * @param {() => Promise<Outcome>} fn
   * @returns {Action}
   */
  retry(fn) {
    return { key: "action.retry", primary: true, run: fn };
  }

  /** @returns {Action} */
  otherCode() {
    return { key: "action.other_code", run: async () => this.anotherCode() };
  }

  /**
   * @param {unknown} error
   * @param {string} stage
   * @param {Action[]} actions
   * @param {Note[]} [notes]
   * @param {Note} [say]
   * @returns {Outcome}
   */
  failure(error, stage, actions, notes = [], say = undefined) {
    if (!(error instanceof ApiError || error instanceof CryptoError || error instanceof StorageUnavailable)) {
      console.warn(messageOf(error)); // a bug, not a refusal: kept for whoever debugs the page
    }
    return say ? { kind: "error", error, stage, actions, notes, say } : { kind: "error", error, stage, actions, notes };
  }
}
