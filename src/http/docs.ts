/** Renders the OpenAPI document as a self-contained page: no script, no third-party assets. */
export function docsPage(document: { info: { title: string; version: string }; paths: Record<string, Record<string, unknown>> }): string {
  const escape = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  const rows = Object.entries(document.paths)
    .flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => {
        const summary = (op as { summary?: string }).summary ?? "";
        return `<tr><td class="m ${escape(method)}">${escape(method.toUpperCase())}</td><td><code>${escape(path)}</code></td><td>${escape(summary)}</td></tr>`;
      }),
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escape(document.info.title)} API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
table{border-collapse:collapse;width:100%}td{padding:.35rem .5rem;border-bottom:1px solid #e5e5e5;vertical-align:top}
.m{font-weight:600;font-family:ui-monospace,monospace}.get{color:#1a7f37}.post{color:#0969da}.put{color:#9a6700}.patch{color:#8250df}.delete{color:#cf222e}
code{font-family:ui-monospace,monospace}
</style></head><body>
<h1>${escape(document.info.title)} <small>${escape(document.info.version)}</small></h1>
<p>Every route with its summary. The machine-readable document is <a href="/openapi.json">/openapi.json</a>.
Authenticate with <code>Authorization: Bearer &lt;token&gt;</code>; errors are <code>application/problem+json</code>.</p>
<table>${rows}</table>
</body></html>`;
}
