import { Hono } from "hono";
import type { AppEnv } from "../http/context";
import { escapeHtml as escape, referencePageHeaders } from "../http/pages";
import { notFound } from "../http/problem";
import { PROBLEM_TYPES, isProblemType } from "../http/problem-types";
import { indexRoute } from "../http/routes-index";

/** `code` spans of the catalogue's plain text, escaped. */
const prose = (s: string) => escape(s).replace(/`([^`]+)`/g, "<code>$1</code>");

const head = (title: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escape(title)}</title>`;

/**
 * The API reference: Swagger UI (swagger-ui-dist, copied to public/docs/vendor/ by
 * scripts/vendor-docs.mjs) rendering /openapi.json. Same-origin scripts and styles only; the
 * initializer is its own file (public/docs/init.js), so the page has no inline code.
 */
const DOCS_PAGE = `${head("Hush API reference")}
<link rel="stylesheet" href="/docs/vendor/swagger-ui.css">
<link rel="stylesheet" href="/docs/docs.css">
<script src="/docs/vendor/swagger-ui-bundle.js" defer></script>
<script src="/docs/init.js" defer></script>
</head><body>
<header class="docs-header"><strong>Hush</strong> API reference · <a href="/openapi.json">/openapi.json</a> · <a href="/problems">problem types</a></header>
<noscript><p class="docs-noscript">The interactive reference needs JavaScript. The whole API is described in <a href="/openapi.json">/openapi.json</a>, and every error type in <a href="/problems">/problems</a>.</p></noscript>
<div id="swagger-ui"></div>
</body></html>`;

const problemPage = (type: keyof typeof PROBLEM_TYPES, origin: string) => {
  const doc = PROBLEM_TYPES[type];
  return `${head(`${type} · Hush problem types`)}
<link rel="stylesheet" href="/docs/docs.css">
</head><body><main class="problem">
<p><a href="/problems">Problem types</a> · <a href="/docs">API reference</a></p>
<h1>${escape(doc.summary)}</h1>
<p class="type"><code>${escape(`${origin}/problems/${type}`)}</code></p>
<p>${prose(doc.description)}</p>
<p>Sent with HTTP status ${doc.status.map((s) => `<code>${s}</code>`).join(", ")} as an <code>application/problem+json</code> document (RFC 9457): <code>type</code> is this page's address, <code>title</code> the status text, <code>detail</code> what happened to this request, <code>instance</code> the request path and <code>request_id</code> the id to quote when reporting it. Other members, when present, are described above.</p>
</main></body></html>`;
};

const problemIndex = () => `${head("Hush problem types")}
<link rel="stylesheet" href="/docs/docs.css">
</head><body><main class="problem">
<p><a href="/docs">API reference</a></p>
<h1>Problem types</h1>
<p>Every error Hush sends is an <code>application/problem+json</code> document whose <code>type</code> is the address of one of these pages.</p>
<table><thead><tr><th>Type</th><th>Status</th><th>Meaning</th></tr></thead><tbody>
${Object.entries(PROBLEM_TYPES)
  .map(
    ([type, doc]) => `<tr><td><a href="/problems/${type}"><code>${type}</code></a></td><td>${doc.status.join(", ")}</td><td>${escape(doc.summary)}</td></tr>`,
  )
  .join("\n")}
</tbody></table></main></body></html>`;

const wantsJson = (accept: string | undefined) => /\bapplication\/(?:problem\+)?json\b/.test(accept ?? "") && !/\btext\/html\b/.test(accept ?? "");

/** /docs (the rendered reference) and /problems/<type> (what each problem `type` URL opens). */
export const referenceApp = new Hono<AppEnv>();
for (const path of ["/docs", "/problems", "/problems/*"]) referenceApp.use(path, referencePageHeaders);

referenceApp.get("/docs", (c) => c.html(DOCS_PAGE, 200, { "Cache-Control": "no-cache" }));
referenceApp.get("/problems", (c) => {
  if (wantsJson(c.req.header("accept"))) {
    const origin = new URL(c.req.url).origin;
    return c.json({ items: Object.entries(PROBLEM_TYPES).map(([type, doc]) => ({ type: `${origin}/problems/${type}`, name: type, ...doc })) });
  }
  return c.html(problemIndex(), 200, { "Cache-Control": "public, max-age=3600" });
});
referenceApp.get("/problems/:type", (c) => {
  const type = c.req.param("type");
  if (!isProblemType(type)) {
    if (wantsJson(c.req.header("accept")) || !/\btext\/html\b/.test(c.req.header("accept") ?? "")) throw notFound("problem type");
    return c.html(
      `${head("Unknown problem type · Hush")}</head><body><main><h1>Unknown problem type</h1><p><a href="/problems">Every problem type</a></p></main></body></html>`,
      404,
    );
  }
  const origin = new URL(c.req.url).origin;
  if (wantsJson(c.req.header("accept"))) return c.json({ type: `${origin}/problems/${type}`, name: type, ...PROBLEM_TYPES[type] });
  return c.html(problemPage(type, origin), 200, { "Cache-Control": "public, max-age=3600" });
});

indexRoute("get", "/docs");
indexRoute("get", "/problems");
indexRoute("get", "/problems/{type}");
