// @ts-check
// anonballot pages: the server's JSON API, with no DOM (the booth's state machine uses it).
//
// Every refusal of the server is a JSON body {"error": code, "detail": sentence}
// (docs/server.md, error-codes.js); request() turns it into an ApiError with that code, and a
// lost answer (no connection, a cut body) into an ApiError with the code "network". Addresses
// are relative to the page, so the pages also work under a reverse proxy's path prefix.

import { parse } from "./jcs.js";

/** A refusal of the server ({"error", "detail"}) or a lost answer (code "network"). */
export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status (0 when no answer arrived)
   * @param {string} code an API code of error-codes.js, a local one, or "http_<status>"
   * @param {string} detail
   */
  constructor(status, code, detail) {
    super(`${code}: ${detail}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/**
 * The address of an API path, relative to the site's root `root` (a URL).
 * @param {URL | string} root
 * @param {string} path
 * @returns {URL}
 */
export function apiUrl(root, path) {
  return new URL(`api/${path}`, root);
}

/**
 * @typedef {{method?: string, json?: unknown, body?: BodyInit, as?: "json" | "bytes" | "text"}} RequestOptions
 */

/**
 * Send a request and read the whole answer. `as` is "json" (strict JSON, protocol section
 * 2.1), "bytes" or "text". Throws ApiError on a refusal or a lost answer.
 * @param {URL | string} url
 * @param {RequestOptions} [options]
 * @returns {Promise<any>} the parsed JSON (its shape is the caller's to check), a Uint8Array or a string
 */
export async function request(url, { method = "GET", json = undefined, body = undefined, as = "json" } = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  /** @type {RequestInit} */
  const init = { method, cache: "no-store", credentials: "same-origin", headers };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    headers["content-type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
    headers["content-type"] = "application/json";
  }
  let response;
  let data;
  try {
    response = await fetch(url, init);
    data = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    throw new ApiError(0, "network", messageOf(error));
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
    throw new ApiError(response.status, "bad_answer", messageOf(error));
  }
}

/**
 * The message of anything thrown.
 * @param {unknown} error
 * @returns {string}
 */
export function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}
