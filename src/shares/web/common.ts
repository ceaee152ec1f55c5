// The share pages' script, served as text by ../pages.ts: bundled into the Worker as a string
// (no build step, no extra modules). Plain browser code without template literals, so it
// sits in String.raw unchanged; keep it that way (no backticks, no "${").
export default String.raw`// Helpers shared by the share pages. Plain browser JavaScript, no dependencies; served
// by the Worker from /assets/share-common.js under a CSP that allows only same-origin scripts.
"use strict";
(() => {
  const AAD = new TextEncoder().encode("hush share v1");

  /** base64url without padding, as in the share contract (docs/shares.md). */
  function toBase64Url(bytes) {
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromBase64Url(text) {
    if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
    const normal = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(normal + "===".slice((normal.length + 3) % 4));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  }

  /** AES-256-GCM with a fresh key and IV; returns the link key and the payload ciphertext. */
  async function encrypt(secret) {
    const keyBytes = crypto.getRandomValues(new Uint8Array(32));
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const key = await crypto.subtle.importKey("raw", keyBytes, "AES-GCM", false, ["encrypt"]);
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: AAD }, key, new TextEncoder().encode(secret)),
    );
    const payload = new Uint8Array(iv.length + sealed.length);
    payload.set(iv);
    payload.set(sealed, iv.length);
    const result = { key: toBase64Url(keyBytes), ciphertext: toBase64Url(payload) };
    keyBytes.fill(0);
    return result;
  }

  async function decrypt(keyText, ciphertext) {
    const keyBytes = fromBase64Url(keyText);
    if (keyBytes.length !== 32) throw new Error("bad key length");
    const payload = fromBase64Url(ciphertext);
    const key = await crypto.subtle.importKey("raw", keyBytes, "AES-GCM", false, ["decrypt"]);
    keyBytes.fill(0);
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: payload.subarray(0, 12), additionalData: AAD },
      key,
      payload.subarray(12),
    );
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  }

  /** POSTs JSON to our own API; no cookies, no referrer, no cache. */
  async function postJson(path, body, headers = {}) {
    const init = { method: "POST", headers: { ...headers }, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    let data = null;
    try {
      data = await res.json();
    } catch {
      // not JSON
    }
    return { status: res.status, data: data || {} };
  }

  function show(el, text) {
    el.textContent = text;
    el.hidden = false;
  }

  /** Shows <time datetime> values in the reader's own time zone. */
  function localizeTimes(root = document) {
    for (const el of root.querySelectorAll("time[datetime]")) {
      const date = new Date(el.dateTime);
      if (!Number.isNaN(date.getTime())) el.textContent = date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    }
  }

  async function copyFrom(input, button) {
    const label = button.textContent;
    try {
      await navigator.clipboard.writeText(input.value);
      button.textContent = "Copied";
    } catch {
      input.select();
      button.textContent = "Press Ctrl+C / ⌘C";
    }
    setTimeout(() => (button.textContent = label), 2000);
  }

  window.hushShare = Object.freeze({ toBase64Url, fromBase64Url, encrypt, decrypt, postJson, show, localizeTimes, copyFrom });
})();
`;
