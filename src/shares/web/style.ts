// The share pages' stylesheet, served as text by ../pages.ts: bundled into the Worker as a string
// (no build step, no extra modules). Plain browser code without template literals, so it
// sits in String.raw unchanged; keep it that way (no backticks, no "${").
export default String.raw`/* Share pages: mobile first, no web fonts, no images, light and dark. */
:root {
  color-scheme: light dark;
  --fg: #1d1d1f;
  --bg: #f5f5f7;
  --card: #ffffff;
  --muted: #5f5f66;
  --border: #d2d2d7;
  --accent: #0a5fd0;
  --accent-fg: #ffffff;
  --danger: #b3261e;
  --ok: #1a7f37;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #f2f2f5;
    --bg: #111114;
    --card: #1c1c21;
    --muted: #a1a1aa;
    --border: #3a3a42;
    --accent: #4c8dff;
    --accent-fg: #0b0b0f;
    --danger: #ff6b60;
    --ok: #4cc76a;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background: var(--bg);
  color: var(--fg);
}
main { max-width: 40rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
.brand { display: inline-block; font-weight: 700; letter-spacing: .02em; color: var(--fg); text-decoration: none; margin: .25rem 0 1rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0 0 .5rem; }
h2 { font-size: 1.2rem; margin: 0 0 .5rem; }
p { margin: .5rem 0; }
.lead { color: var(--muted); margin-bottom: 1rem; }
.card { background: var(--card); border: 1px solid var(--border); border-radius: 12px; padding: 1.1rem; margin: 1rem 0; }
label { display: block; font-weight: 600; margin: 1rem 0 .35rem; }
label:first-child { margin-top: 0; }
.hint { font-weight: 400; color: var(--muted); font-size: .9rem; }
textarea, input, select {
  display: block;
  width: 100%;
  font: inherit;
  font-size: 16px; /* below 16px iOS zooms in on focus */
  padding: .65rem .75rem;
  border-radius: 8px;
  border: 1px solid var(--border);
  background: var(--bg);
  color: var(--fg);
}
textarea { min-height: 8rem; resize: vertical; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
textarea[readonly], input[readonly] { background: var(--card); }
.row { display: grid; grid-template-columns: 1fr 1fr; gap: 0 .75rem; }
@media (max-width: 28rem) { .row { grid-template-columns: 1fr; } }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: 1rem; }
button {
  flex: 1 1 12rem;
  min-height: 2.75rem;
  font: inherit;
  font-weight: 600;
  padding: .7rem 1rem;
  border-radius: 8px;
  border: 1px solid var(--accent);
  background: var(--accent);
  color: var(--accent-fg);
  cursor: pointer;
}
button.secondary { background: transparent; color: var(--accent); }
button:disabled { opacity: .55; cursor: default; }
button:focus-visible, textarea:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.note { color: var(--muted); font-size: .9rem; }
.error { color: var(--danger); font-weight: 600; }
.ok { color: var(--ok); font-weight: 600; }
.warning { border-left: 4px solid var(--danger); padding-left: .75rem; }
[hidden] { display: none !important; }
footer { margin-top: 2rem; color: var(--muted); font-size: .85rem; }
`;
