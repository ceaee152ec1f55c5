import { Hono } from "hono";
import type { AppEnv } from "../http/context";
import { escapeHtml as escape, pageHeaders, privateHeaders } from "../http/pages";
import { notFound } from "../http/problem";
import { indexRoute } from "../http/routes-index";
import { MAX_VIEWS, MAX_PASSPHRASE_ATTEMPTS, type ShareStatus } from "./model";
import { MAX_ANONYMOUS_SHARE_BYTES, MAX_SHARE_BYTES, SHARE_ID } from "./schemas";
import { isoTime, shareStub, tokenRequired } from "./service";
import commonJs from "./web/common";
import createJs from "./web/create";
import openJs from "./web/open";
import styleCss from "./web/style";

const time = (ms: number | null) => {
  const iso = isoTime(ms) ?? "";
  return `<time datetime="${iso}">${iso.replace("T", " ").replace(/\.\d+Z$/, " UTC")}</time>`;
};

/** The page shell. No OpenGraph or description meta: a link preview learns nothing but "Hush". */
function layout(title: string, body: string, scripts: string[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow">
<meta name="referrer" content="no-referrer">
<title>${escape(title)}</title>
<link rel="stylesheet" href="/assets/share.css">
${scripts.map((s) => `<script src="/assets/${s}" defer></script>`).join("\n")}
</head><body><main>
<a class="brand" href="/">Hush</a>
${body}
<footer>Hush one-time secrets. The link's key stays in your browser; the server stores only ciphertext.</footer>
</main></body></html>`;
}

function createPage(tokenRequired: boolean): string {
  const views = Array.from({ length: MAX_VIEWS }, (_, i) => `<option value="${i + 1}">${i + 1}</option>`).join("");
  const maxBytes = tokenRequired ? MAX_SHARE_BYTES : MAX_ANONYMOUS_SHARE_BYTES;
  return layout(
    "Hush: share a secret once",
    `<h1>Share a secret once</h1>
<p class="lead">It is encrypted in your browser before it is sent. The link carries the key; the server only ever sees ciphertext, and deletes it after it is viewed or expires.</p>
<noscript><p class="error">This page needs JavaScript: the secret is encrypted in your browser.</p></noscript>
<form id="create" class="card" method="post" autocomplete="off" data-max-bytes="${maxBytes}">
<label for="secret">Secret</label>
<textarea id="secret" name="secret" required spellcheck="false" autocapitalize="off" autocomplete="off" placeholder="Paste the password, token or note"></textarea>
<div class="row">
<div><label for="expires">Expires after</label>
<select id="expires"><option value="300">5 minutes</option><option value="3600">1 hour</option><option value="86400" selected>1 day</option><option value="604800">7 days</option><option value="2592000">30 days</option></select></div>
<div><label for="views">Can be viewed</label><select id="views">${views}</select></div>
</div>
<label for="passphrase">Passphrase <span class="hint">(optional; tell it to the recipient another way)</span></label>
<input id="passphrase" type="password" autocomplete="new-password" maxlength="1024">
${
  tokenRequired
    ? `<label for="token">API token <span class="hint">(this server requires one to create links)</span></label>
<input id="token" type="password" autocomplete="off" required>`
    : ""
}
<p id="create-error" class="error" role="alert" hidden></p>
<div class="actions"><button id="create-button" type="submit">Create link</button></div>
</form>
<section id="result" class="card" hidden aria-live="polite">
<h2>Your link is ready</h2>
<p>Send it to the recipient. It can be opened <strong id="result-views">once</strong> and expires <time id="result-expires"></time>.</p>
<label for="link">Link</label>
<input id="link" readonly>
<div class="actions"><button id="copy-link" type="button">Copy link</button><button id="again" type="button" class="secondary">Share another secret</button></div>
<p class="note">Anyone with the whole link can open it, so send it only to the recipient. The part after # is the key and never reaches the server.</p>
</section>`,
    ["share-common.js", "share-create.js"],
  );
}

function endedText(status: ShareStatus): { title: string; text: string } {
  switch (status.state) {
    case "viewed":
      return { title: "This secret was already viewed", text: `It was viewed ${time(status.viewedAt)} and has been deleted.` };
    case "expired":
      return { title: "This secret has expired", text: `It expired ${time(status.expiresAt)} without being viewed and has been deleted.` };
    case "revoked":
      return { title: "This secret was revoked", text: `The sender revoked it ${time(status.endedAt)}.` };
    case "destroyed":
      return {
        title: "This secret was destroyed",
        text: `After ${MAX_PASSPHRASE_ATTEMPTS} wrong passphrases it was destroyed ${time(status.endedAt)}.`,
      };
    case "active":
      return { title: "", text: "" };
  }
}

function openPage(status: ShareStatus | null): string {
  const ask = `<p class="note">If you still need it, ask the sender for a new link.</p>`;
  if (!status) {
    return layout(
      "Hush",
      `<h1>This link is not valid</h1><section class="card"><p>There is no secret here: the link may be mistyped, or the secret was deleted long ago.</p>${ask}</section>`,
      ["share-common.js", "share-open.js"],
    );
  }
  if (status.state !== "active") {
    const { title, text } = endedText(status);
    return layout("Hush", `<h1>${title}</h1><section id="share" class="card" data-state="${status.state}"><p>${text}</p>${ask}</section>`, [
      "share-common.js",
      "share-open.js",
    ]);
  }
  const views = status.viewsLeft === 1 ? "<strong>once</strong>" : `<strong>${status.viewsLeft} more times</strong>`;
  const passphrase = status.passphraseRequired
    ? `<div id="passphrase-box"><label for="passphrase">Passphrase <span class="hint">(the sender told you this separately)</span></label>
<input id="passphrase" type="password" autocomplete="off" maxlength="1024"></div>`
    : "";
  return layout(
    "Hush",
    `<h1>Someone sent you a secret</h1>
<section id="share" class="card" data-id="${escape(status.id)}" data-mode="${status.mode}" data-state="active">
<div id="before">
<p>It can be viewed ${views} and expires ${time(status.expiresAt)}.</p>
<p class="note">Nothing is shown or used up until you press Reveal and confirm. After that it is deleted from the server.</p>
<noscript><p class="error">Revealing needs JavaScript: the secret is decrypted in your browser.</p></noscript>
${passphrase}
</div>
<p id="reveal-error" class="error" role="alert" hidden></p>
<div class="actions"><button id="reveal" type="button">Reveal secret</button></div>
<div id="confirm" class="warning" hidden>
<p><strong>Are you the intended recipient?</strong> Revealing uses up this view${status.viewsLeft === 1 ? "; the link stops working afterwards" : ""}.</p>
<div class="actions"><button id="confirm-reveal" type="button" disabled>Yes, show it to me</button><button id="cancel" type="button" class="secondary">Not now</button></div>
</div>
<div id="revealed" hidden aria-live="polite">
<label for="secret">The secret</label>
<textarea id="secret" readonly spellcheck="false"></textarea>
<div class="actions"><button id="copy" type="button">Copy</button></div>
<p id="views-after" class="note"></p>
</div>
</section>`,
    ["share-common.js", "share-open.js"],
  );
}

const ASSETS: Record<string, { body: string; type: string }> = {
  "share-common.js": { body: commonJs, type: "text/javascript; charset=utf-8" },
  "share-create.js": { body: createJs, type: "text/javascript; charset=utf-8" },
  "share-open.js": { body: openJs, type: "text/javascript; charset=utf-8" },
  "share.css": { body: styleCss, type: "text/css; charset=utf-8" },
};

/** The browser side of shares: the create page, the share page and their assets, all from the Worker. */
export const sharePages = new Hono<AppEnv>();
// Mounted at "/", so a "*" middleware here would wrap every route of the app: name the paths.
for (const path of ["/", "/share", "/s/*", "/assets/*"]) sharePages.use(path, pageHeaders, privateHeaders);

const create = (c: import("hono").Context<AppEnv>) => c.html(createPage(tokenRequired(c.env)));
sharePages.get("/", create);
sharePages.get("/share", create);

// GET and HEAD only read the object's status: link previews and scanners consume nothing.
sharePages.get("/s/:id", async (c) => {
  const id = c.req.param("id");
  const status = SHARE_ID.test(id) ? await shareStub(c.env, id).status() : null;
  return c.html(openPage(status), status === null ? 404 : status.state === "active" ? 200 : 410);
});

sharePages.get("/assets/:name", (c) => {
  const asset = ASSETS[c.req.param("name")];
  if (!asset) throw notFound("asset");
  return c.body(asset.body, 200, { "content-type": asset.type });
});

for (const path of ["/", "/share", "/s/:id", "/assets/:name"]) indexRoute("get", path);
