// @ts-check
// anonballot: the page a person rated's personal link opens (GET /leader/{round_id}).
//
// The link is /leader/{round_id}#key=<b64u>: the key is in the URL's fragment, which a
// browser never sends to a server (so it is in no request line, log or Referer header).
// This module moves it into the page's form, clears the fragment from the address bar and
// history, and submits the form: the key travels in the body of a same-origin POST. Without
// JavaScript the person pastes the key into the same form.

const KEY = /^[A-Za-z0-9_-]{22}$/;

function start() {
  const form = document.getElementById("leader-key-form");
  const field = document.getElementById("key");
  if (!(form instanceof HTMLFormElement) || !(field instanceof HTMLInputElement)) return;
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("key");
  if (location.hash) {
    // the key leaves the address bar and the history entry before anything else happens
    history.replaceState(null, "", location.pathname + location.search);
  }
  if (key && KEY.test(key.trim()) && !form.querySelector(".error")) {
    field.value = key.trim();
    form.requestSubmit();
  }
}

start();
