// @ts-check
// anonballot browser cryptography: canonical JSON (protocol section 2.1).
//
// JCS is RFC 8785 (JSON Canonicalization Scheme) with the protocol's extra rules:
//   - every string and member name is valid Unicode (no lone surrogates) in NFC;
//   - every number is an integer in the I-JSON safe range -(2^53 - 1) .. 2^53 - 1;
//   - arrays and objects nest at most 32 levels deep (MAX_DEPTH);
//   - parsing rejects duplicate member names, NaN/Infinity, fractions, exponents and any
//     non-JSON text (strict RFC 8259, UTF-8 without BOM).
//
// RFC 8785 section 3.2.3 sorts members by their UTF-16 code units, which is exactly
// JavaScript's default string order; section 3.2.2.2 string escaping is exactly
// JSON.stringify's (\" \\ \b \f \n \r \t, other controls as lowercase \u00xx, everything
// else literal) once lone surrogates are excluded. Integers print as plain decimals.
//
// JSON.parse cannot be used for protocol data: it keeps the last of duplicate members,
// turns 1e400 into Infinity and rounds big integers, so this module has its own parser.

import { CryptoError } from "./errors.js";
import { fromUtf8, isWellFormed, utf8 } from "./bytes.js";

export const MAX_DEPTH = 32;
export const MAX_SAFE = Number.MAX_SAFE_INTEGER; // 2^53 - 1

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  throw new CryptoError(message, "bad_encoding");
}

/**
 * @param {string} s
 * @param {string} path
 */
function checkString(s, path) {
  if (!isWellFormed(s)) fail(`${path}: string is not valid Unicode (lone surrogate)`);
  if (s.normalize("NFC") !== s) fail(`${path}: string is not Unicode NFC`);
}

/**
 * @param {unknown} value
 * @param {number} depth
 * @param {string} path
 * @returns {string}
 */
function serialize(value, depth, path) {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isSafeInteger(value)) fail(`${path}: numbers must be integers in the I-JSON range, found ${value}`);
      return String(value); // String(-0) is "0"
    case "string":
      checkString(value, path);
      return JSON.stringify(value);
    case "object": {
      if (depth + 1 > MAX_DEPTH) fail(`${path}: nested deeper than ${MAX_DEPTH} levels`);
      if (Array.isArray(value)) {
        const items = [];
        for (let i = 0; i < value.length; i++) items.push(serialize(value[i], depth + 1, `${path}[${i}]`));
        return "[" + items.join(",") + "]";
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) fail(`${path}: only plain objects are JSON`);
      const keys = Object.keys(value).sort(); // UTF-16 code unit order
      const members = keys.map((k) => {
        checkString(k, path);
        return JSON.stringify(k) + ":" + serialize(/** @type {Record<string, unknown>} */ (value)[k], depth + 1, `${path}.${k}`);
      });
      return "{" + members.join(",") + "}";
    }
    default:
      return fail(`${path}: ${typeof value} is not a JSON value`);
  }
}

/**
 * The canonical JSON text of `value` (a string).
 * @param {unknown} value
 * @returns {string}
 */
export function canonicalize(value) {
  return serialize(value, 0, "$");
}

/**
 * The canonical JSON bytes of `value` (UTF-8): JCS(value).
 * @param {unknown} value
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function jcs(value) {
  return utf8(canonicalize(value));
}

// ---------------------------------------------------------------- strict parser (RFC 8259)

const WS = new Set([" ", "\t", "\n", "\r"]);
/** @type {Record<string, string>} */
const ESCAPES = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

class Parser {
  /**
   * @param {string} text
   */
  constructor(text) {
    this.text = text;
    this.pos = 0;
  }

  /**
   * @param {string} message
   * @returns {never}
   */
  error(message) {
    fail(`not JSON: ${message} at offset ${this.pos}`);
  }

  skipWs() {
    while (this.pos < this.text.length && WS.has(this.text[this.pos])) this.pos++;
  }

  /**
   * @param {number} depth
   * @returns {any} a JSON value
   */
  value(depth) {
    this.skipWs();
    const c = this.text[this.pos];
    if (c === "{" || c === "[") {
      if (depth + 1 > MAX_DEPTH) fail(`JSON nested deeper than ${MAX_DEPTH} levels`);
      return c === "{" ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (c === '"') return this.string();
    if (c === "-" || (c >= "0" && c <= "9")) return this.number();
    for (const [word, result] of /** @type {[string, boolean | null][]} */ ([["true", true], ["false", false], ["null", null]])) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return result;
      }
    }
    return this.error(c === undefined ? "unexpected end" : `unexpected ${JSON.stringify(c)}`);
  }

  /**
   * @param {number} depth
   * @returns {Record<string, any>}
   */
  object(depth) {
    const out = {};
    this.pos++; // {
    this.skipWs();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      if (this.text[this.pos] !== '"') this.error("expected a member name");
      const key = this.string();
      if (Object.prototype.hasOwnProperty.call(out, key)) fail(`duplicate key ${JSON.stringify(key)} in JSON object`);
      this.skipWs();
      if (this.text[this.pos] !== ":") this.error("expected ':'");
      this.pos++;
      // defineProperty, not assignment: a member named "__proto__" must stay a member.
      Object.defineProperty(out, key, { value: this.value(depth), enumerable: true, writable: true, configurable: true });
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === "}") return out;
      if (c !== ",") this.error("expected ',' or '}'");
    }
  }

  /**
   * @param {number} depth
   * @returns {any[]}
   */
  array(depth) {
    /** @type {any[]} */
    const out = [];
    this.pos++; // [
    this.skipWs();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === "]") return out;
      if (c !== ",") this.error("expected ',' or ']'");
    }
  }

  /**
   * @returns {string}
   */
  string() {
    this.pos++; // opening quote
    let out = "";
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.error("unterminated string");
      if (c === '"') {
        this.pos++;
        break;
      }
      if (c < " ") this.error("control character in string");
      if (c !== "\\") {
        out += c;
        this.pos++;
        continue;
      }
      const e = this.text[this.pos + 1];
      if (e === "u") {
        const hex = this.text.slice(this.pos + 2, this.pos + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.error("bad \\u escape");
        out += String.fromCharCode(parseInt(hex, 16));
        this.pos += 6;
      } else if (e in ESCAPES) {
        out += ESCAPES[e];
        this.pos += 2;
      } else {
        this.error("bad escape");
      }
    }
    if (!isWellFormed(out)) fail("JSON string is not valid Unicode (lone surrogate)");
    return out;
  }

  /**
   * @returns {number}
   */
  number() {
    const match = /-?(?:0|[1-9][0-9]*)/y;
    match.lastIndex = this.pos;
    const m = match.exec(this.text);
    if (!m) return this.error("bad number");
    this.pos += m[0].length;
    const next = this.text[this.pos];
    if (next === "." || next === "e" || next === "E") fail(`numbers must be integers, found a fraction or exponent at offset ${this.pos}`);
    const digits = m[0].replace("-", "");
    if (digits.length > 16 || BigInt(m[0]) > BigInt(MAX_SAFE) || BigInt(m[0]) < -BigInt(MAX_SAFE)) {
      fail(`integer ${m[0].slice(0, 20)} is outside the I-JSON range`);
    }
    const n = Number(m[0]);
    return n === 0 ? 0 : n; // "-0" parses as 0
  }
}

/**
 * Parse strict JSON text (a string, or UTF-8 bytes) under the protocol's rules.
 * @param {unknown} input
 * @returns {any} the JSON value (its shape is the caller's to check)
 */
export function parse(input) {
  const text = input instanceof Uint8Array ? fromUtf8(input) : input;
  if (typeof text !== "string") fail("JSON input must be text or bytes");
  if (!isWellFormed(text)) fail("JSON text is not valid Unicode");
  const parser = new Parser(text);
  const value = parser.value(0);
  parser.skipWs();
  if (parser.pos !== text.length) parser.error("trailing data");
  return value;
}

/**
 * Parse `bytes` and require that they are exactly their own JCS ("canonical").
 * @param {Uint8Array<ArrayBuffer>} bytes
 * @returns {any} the JSON value (its shape is the caller's to check)
 */
export function parseCanonical(bytes) {
  const value = parse(bytes);
  const again = jcs(value);
  const same = again.length === bytes.length && again.every((b, i) => b === bytes[i]);
  if (!same) fail("JSON is not in canonical form (RFC 8785, NFC)");
  return value;
}
