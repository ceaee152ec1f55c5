import { Hono } from "hono";
import type { AppEnv } from "../http/context";
import { indexRoute } from "../http/routes-index";
import { pageHeaders, privateHeaders } from "../http/pages";

/**
 * A page that unwraps a Vault wrapping token for someone without a Vault client (vault#5893).
 * Like the share pages: same-origin script only (no inline code), no framing, no caching.
 * Loading it consumes nothing; the token is spent only by the POST the Unwrap button sends
 * to /v1/sys/wrapping/unwrap, the same exactly-once redemption as any Vault client's.
 */
export const vaultPages = new Hono<AppEnv>();
for (const path of ["/vault/unwrap", "/vault/unwrap.js"]) vaultPages.use(path, pageHeaders, privateHeaders);

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow">
<meta name="referrer" content="no-referrer">
<title>Hush: unwrap a Vault wrapping token</title>
<link rel="stylesheet" href="/assets/share.css">
<script src="/vault/unwrap.js" defer></script>
</head><body><main>
<a class="brand" href="/">Hush</a>
<h1>Unwrap a wrapping token</h1>
<section class="card">
<p>Someone sent you a Vault wrapping token (it starts with <code>hshr_</code>). It can be unwrapped <strong>once</strong>: after that it stops working, for you and for anyone else.</p>
<noscript><p class="error">Unwrapping needs JavaScript.</p></noscript>
<label for="token">Wrapping token</label>
<input id="token" type="password" autocomplete="off" spellcheck="false" maxlength="200">
<p id="unwrap-error" class="error" role="alert" hidden></p>
<div class="actions"><button id="unwrap" type="button">Unwrap</button></div>
<div id="unwrapped" hidden aria-live="polite">
<label for="secret">What it wrapped</label>
<textarea id="secret" readonly spellcheck="false"></textarea>
<div class="actions"><button id="copy" type="button">Copy</button></div>
</div>
</section>
<footer>Hush. The token is sent only when you press Unwrap.</footer>
</main></body></html>`;

// Plain browser code, no template literals; it writes only through textContent and value.
const SCRIPT = String.raw`"use strict";
(function () {
  var button = document.getElementById("unwrap");
  var input = document.getElementById("token");
  var error = document.getElementById("unwrap-error");
  var out = document.getElementById("unwrapped");
  var secret = document.getElementById("secret");
  if (location.hash.length > 1) { input.value = decodeURIComponent(location.hash.slice(1)); history.replaceState(null, "", location.pathname); }
  function fail(text) { error.textContent = text; error.hidden = false; }
  var ENDED = {
    viewed: "This token was already used: what it wrapped has been unwrapped once and cannot be shown again. If it was not you, tell whoever sent it, since someone else may have it.",
    expired: "This token expired before anyone unwrapped it. Ask whoever sent it for a new one.",
    revoked: "This token was revoked by whoever made it. Ask them for a new one.",
    destroyed: "This token was destroyed and cannot be unwrapped. Ask whoever sent it for a new one."
  };
  button.addEventListener("click", function () {
    error.hidden = true;
    var token = input.value.trim();
    if (!token) { fail("Paste the wrapping token first."); return; }
    button.disabled = true;
    fetch("/v1/sys/wrapping/unwrap", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: token }), credentials: "omit", cache: "no-store" })
      .then(function (res) { return res.json().then(function (body) { return { ok: res.ok, status: res.status, state: res.headers.get("x-hush-wrapping-state"), body: body }; }); })
      .then(function (r) {
        if (!r.ok) {
          var ended = r.state && ENDED[r.state];
          // An ended token cannot work again: no button to try it twice.
          if (ended) { button.hidden = true; input.value = ""; fail(ended); return; }
          button.disabled = false;
          fail(r.status === 429 ? "Too many attempts; wait a minute." : "This token is not valid: check that it was copied whole (it may also have expired).");
          return;
        }
        var b = r.body;
        var shown = b.auth && b.auth.client_token ? { token: b.auth.client_token, policies: b.auth.policies, ttl_seconds: b.auth.lease_duration }
          : b.data && b.data.data && b.data.metadata ? b.data.data : b.data;
        secret.value = JSON.stringify(shown, null, 2);
        input.value = "";
        out.hidden = false;
        button.hidden = true;
      })
      .catch(function () { button.disabled = false; fail("The server could not be reached; nothing was used up unless it answered."); });
  });
  document.getElementById("copy").addEventListener("click", function () { if (navigator.clipboard) navigator.clipboard.writeText(secret.value); });
})();
`;

vaultPages.get("/vault/unwrap", (c) => c.html(PAGE));
vaultPages.get("/vault/unwrap.js", (c) => c.body(SCRIPT, 200, { "content-type": "text/javascript; charset=utf-8" }));
for (const path of ["/vault/unwrap", "/vault/unwrap.js"]) indexRoute("get", path);
