// The Hush web console (docs/console.md). Plain ES module, no dependencies, no inline code.
// Every action is a request to /console/api/<rest>, which the Worker forwards to /api/v1/<rest>
// with the session's token: the API decides and audits; this script only draws.
// Values: fetched only when Reveal is pressed, never put in a URL, hidden again after 30 s;
// a copied value is cleared from the clipboard after 30 s.

const HIDE_AFTER_MS = 30_000;
const PAGE = 1000;

const state = { session: null, csrf: null, secrets: [], tree: null, loading: false, loaded: false, hideTimers: new Set() };

// ---------- DOM helpers (textContent only: no data is ever parsed as HTML) ----------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, String(v));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
  return node;
}
const $ = (id) => document.getElementById(id);
const enc = (path) => path.split("/").map(encodeURIComponent).join("/");
function toast(text, bad = false) {
  const t = $("toast");
  t.textContent = text;
  t.className = bad ? "show bad" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.className = ""), 4000);
}
const when = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC") : "—");

// ---------- API ----------
class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function request(method, url, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["x-hush-csrf"] = state.csrf;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin", cache: "no-store" });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401 && url !== "/console/session") {
    signedOut("Your session has ended. Sign in again.");
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
const api = (method, path, body) => request(method, `/console/api${path}`, body);

// ---------- session ----------
async function start() {
  $("signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    signIn({ token: $("signin-token").value.trim() });
  });
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const tenant = $("login-tenant").value.trim();
    signIn({ role: $("login-role").value.trim(), jwt: $("login-jwt").value.trim(), ...(tenant && { tenant }) });
  });
  $("logout").addEventListener("click", logout);
  window.addEventListener("hashchange", route);
  try {
    state.session = await request("GET", "/console/session");
    state.csrf = state.session.csrf;
    signedIn();
  } catch {
    signedOut();
  }
}

async function signIn(body) {
  const error = $("signin-error");
  error.hidden = true;
  try {
    await request("POST", "/console/session", body);
    $("signin-token").value = "";
    $("login-jwt").value = "";
    state.session = await request("GET", "/console/session");
    state.csrf = state.session.csrf;
    signedIn();
  } catch (err) {
    error.textContent = err.status === 401 ? "That token was not accepted." : err.status === 429 ? "Too many failed attempts; wait a minute." : err.message;
    error.hidden = false;
  }
}

async function logout() {
  try {
    await request("DELETE", "/console/session");
  } catch {
    // signed out either way
  }
  signedOut("You are signed out.");
}

function signedIn() {
  const s = state.session;
  $("signin").hidden = true;
  $("view").hidden = false;
  $("nav").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = `${s.subject} · ${s.tenant}`;
  const readOnly = !s.can.write && !s.can.delete;
  $("readonly-badge").hidden = !readOnly;
  document.body.classList.toggle("read-only", readOnly);
  for (const a of document.querySelectorAll("#nav a")) {
    const v = a.dataset.view;
    a.hidden = (v === "import" && !s.can.write) || (v === "audit" && !s.can.audit) || (v === "tokens" && !s.can.tokens) || (v === "transit" && !s.can.transit);
  }
  if (!location.hash) location.hash = "#/secrets";
  route();
}

function signedOut(message) {
  state.session = null;
  state.csrf = null;
  state.secrets = [];
  state.tree = null;
  state.loaded = false;
  for (const t of state.hideTimers) clearTimeout(t);
  state.hideTimers.clear();
  $("view").replaceChildren();
  $("view").hidden = true;
  $("nav").hidden = true;
  $("logout").hidden = true;
  $("readonly-badge").hidden = true;
  $("who").textContent = "";
  $("signin").hidden = false;
  const error = $("signin-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("signin-token").focus();
}

// ---------- routing ----------
function route() {
  if (!state.session) return;
  const hash = decodeURIComponent(location.hash.slice(1) || "/secrets");
  const [, view, ...rest] = hash.split("/");
  for (const a of document.querySelectorAll("#nav a")) a.toggleAttribute("aria-current", a.dataset.view === view);
  const views = { secrets: secretsView, diff: diffView, import: importView, transit: transitView, audit: auditView, tokens: tokensView };
  (views[view] || secretsView)(rest.join("/"));
}

// ---------- secrets: tree ----------
async function loadSecrets() {
  if (state.loading || state.loaded) return;
  state.loading = true;
  state.secrets = [];
  let cursor = null;
  try {
    do {
      const q = new URLSearchParams({ limit: String(PAGE), include_deleted: "true" });
      if (cursor) q.set("cursor", cursor);
      const page = await api("GET", `/secrets/store?${q}`);
      state.secrets.push(...page.items);
      cursor = page.next_cursor;
      state.tree = buildTree(state.secrets);
      document.dispatchEvent(new Event("secrets-loaded"));
    } while (cursor && state.session);
    state.loaded = true;
  } finally {
    state.loading = false;
    document.dispatchEvent(new Event("secrets-loaded"));
  }
}

function buildTree(items) {
  const root = { name: "", path: "", folders: new Map(), leaves: [] };
  for (const item of items) {
    const parts = item.path.split("/");
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      let next = node.folders.get(parts[i]);
      if (!next) {
        next = { name: parts[i], path: parts.slice(0, i + 1).join("/"), folders: new Map(), leaves: [], count: 0 };
        node.folders.set(parts[i], next);
      }
      next.count++;
      node = next;
    }
    node.leaves.push(item);
  }
  return root;
}

const expanded = new Set();

function treeNodes(node, depth) {
  const out = [];
  for (const folder of [...node.folders.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const open = expanded.has(folder.path);
    const li = el(
      "li",
      { role: "treeitem", "aria-expanded": String(open), "aria-level": depth, class: "folder" },
      el("button", { type: "button", class: "node", "data-folder": folder.path, onclick: () => toggleFolder(folder.path) }, `${open ? "▾" : "▸"} ${folder.name}/`, el("span", { class: "count" }, ` ${folder.count}`)),
    );
    if (open) li.append(el("ul", { role: "group" }, treeNodes(folder, depth + 1)));
    out.push(li);
  }
  for (const leaf of node.leaves) out.push(leafNode(leaf, depth, leaf.path.split("/").at(-1)));
  return out;
}

function leafNode(item, depth, label) {
  const current = location.hash === `#/secrets/${enc(item.path)}`;
  return el(
    "li",
    { role: "treeitem", "aria-level": depth, "aria-selected": String(current), class: item.deleted_at ? "leaf deleted" : "leaf" },
    el("a", { href: `#/secrets/${enc(item.path)}`, class: "node", "data-path": item.path }, label, item.deleted_at ? el("span", { class: "badge" }, "deleted") : null),
  );
}

function toggleFolder(path) {
  if (expanded.has(path)) expanded.delete(path);
  else expanded.add(path);
  drawTree();
  document.querySelector(`[data-folder="${CSS.escape(path)}"]`)?.focus();
}

function drawTree() {
  const box = $("tree");
  if (!box) return;
  const filter = $("filter").value.trim().toLowerCase();
  const count = $("tree-count");
  if (!state.tree) {
    count.textContent = "Loading…";
    return;
  }
  if (filter) {
    const hits = state.secrets.filter((s) => s.path.toLowerCase().includes(filter) || (s.tags || []).some((t) => t.toLowerCase().includes(filter)) || (s.environment || "").includes(filter));
    count.textContent = `${hits.length} of ${state.secrets.length} match${state.loading ? " (loading…)" : ""}`;
    box.replaceChildren(...hits.slice(0, 200).map((s) => leafNode(s, 1, s.path)));
    if (hits.length > 200) box.append(el("li", { class: "more" }, `${hits.length - 200} more: narrow the filter`));
    return;
  }
  count.textContent = `${state.secrets.length} secrets${state.loading ? " (loading…)" : ""}`;
  box.replaceChildren(...treeNodes(state.tree, 1));
}

function secretsView(path) {
  let layout = $("secrets-layout");
  if (!layout) {
    layout = el(
      "div",
      { id: "secrets-layout", class: "split" },
      el(
        "aside",
        { class: "tree-pane", "aria-label": "Secrets" },
        el("div", { class: "tree-tools" }, el("label", { for: "filter", class: "sr-only" }, "Filter secrets"), el("input", { id: "filter", type: "search", placeholder: "Filter by path, tag or environment", oninput: drawTree }), state.session.can.write ? el("a", { href: "#/secrets/+new", class: "button", id: "new-secret" }, "New secret") : null),
        el("p", { id: "tree-count", class: "hint", "aria-live": "polite" }),
        el("ul", { id: "tree", role: "tree", "aria-label": "Secret paths" }),
      ),
      el("section", { id: "panel", class: "panel", "aria-live": "polite" }, el("p", { class: "hint" }, "Pick a secret on the left.")),
    );
    $("view").replaceChildren(layout);
    document.addEventListener("secrets-loaded", drawTree);
    loadSecrets().catch((err) => toast(err.message, true));
  }
  drawTree();
  if (path === "+new") newSecretPanel();
  else if (path) secretPanel(path);
  else $("panel").replaceChildren(el("p", { class: "hint" }, "Pick a secret on the left."));
}

function reloadSecrets() {
  state.loaded = false;
  return loadSecrets().catch((err) => toast(err.message, true));
}

// ---------- secrets: the panel ----------
function dl(rows) {
  return el("dl", { class: "meta" }, rows.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v === null || v === "" || (Array.isArray(v) && !v.length) ? "—" : Array.isArray(v) ? v.join(", ") : String(v))]));
}

async function secretPanel(path) {
  const panel = $("panel");
  panel.replaceChildren(el("p", { class: "hint" }, "Loading…"));
  let meta;
  try {
    const q = new URLSearchParams({ prefix: path, limit: "5", include_deleted: "true" });
    meta = (await api("GET", `/secrets/store?${q}`)).items.find((s) => s.path === path);
  } catch (err) {
    panel.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
    return;
  }
  if (!meta) {
    panel.replaceChildren(el("p", { class: "error", role: "alert" }, `No secret at ${path}`));
    return;
  }
  const can = state.session.can;
  const deleted = !!meta.deleted_at;
  const valueBox = el("div", { id: "value-box", class: "value-box" });
  const actions = el(
    "div",
    { class: "actions" },
    !deleted ? el("button", { type: "button", id: "reveal", onclick: () => reveal(valueBox, `/secrets/store/${enc(path)}`) }, "Reveal") : null,
    can.write && !deleted ? el("button", { type: "button", id: "write", class: "secondary", onclick: () => writeForm(path, meta) }, "Write new version") : null,
    can.write && !deleted ? el("button", { type: "button", id: "rotate", class: "secondary", onclick: () => rotate(path) }, "Rotate (generate)") : null,
    can.delete && !deleted ? el("button", { type: "button", id: "delete", class: "danger", onclick: () => del(path) }, "Delete") : null,
    can.delete && deleted ? el("button", { type: "button", id: "undelete", onclick: () => undelete(path) }, "Undelete") : null,
  );
  panel.replaceChildren(
    el("h2", { id: "panel-title" }, path, deleted ? el("span", { class: "badge" }, "deleted") : null),
    dl([
      ["Type", meta.type],
      ["Environment", meta.environment],
      ["Version", meta.current_version],
      ["Tags", meta.tags],
      ["Description", meta.description],
      ["Rotation", meta.rotation_policy + (meta.rotation_days ? ` every ${meta.rotation_days} days` : "") + (meta.next_rotation_at ? `, next ${when(meta.next_rotation_at)}` : "")],
      ["Expires", when(meta.expires_at)],
      ["Allowed services", meta.allowed_services ?? "any"],
      ["Max versions", meta.max_versions || "all"],
      ["Updated", `${when(meta.updated_at)} by ${meta.updated_by}`],
      ["Created", `${when(meta.created_at)} by ${meta.created_by}`],
      ["Custom", meta.custom_metadata ? Object.entries(meta.custom_metadata).map(([k, v]) => `${k}=${v}`) : null],
    ]),
    actions,
    valueBox,
    el("div", { id: "form-box" }),
    el("h3", {}, "History"),
    el("div", { id: "history" }, el("p", { class: "hint" }, "Loading…")),
  );
  history(path, meta).catch((err) => $("history")?.replaceChildren(el("p", { class: "error" }, err.message)));
}

/** Fetches a value only now, shows it, and hides (and forgets) it after 30 s. */
async function reveal(box, apiPath) {
  box.replaceChildren(el("p", { class: "hint" }, "Revealing…"));
  let data;
  try {
    data = await api("GET", apiPath);
  } catch (err) {
    box.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
    return;
  }
  let value = data.value;
  data = null;
  const code = el("pre", { class: "value", id: "revealed-value", tabindex: "0", "aria-label": "Secret value" }, value);
  const countdown = el("span", { class: "hint", id: "hide-countdown" }, "Hides in 30 s");
  const hide = () => {
    value = null;
    box.replaceChildren(el("p", { class: "hint", id: "value-hidden" }, "Hidden again. Press Reveal to see it."));
    state.hideTimers.delete(timer);
    clearInterval(ticker);
  };
  const started = Date.now();
  const ticker = setInterval(() => {
    const left = Math.max(0, Math.ceil((HIDE_AFTER_MS - (Date.now() - started)) / 1000));
    countdown.textContent = `Hides in ${left} s`;
  }, 1000);
  const timer = setTimeout(hide, HIDE_AFTER_MS);
  state.hideTimers.add(timer);
  const refs = references(value);
  box.replaceChildren(
    code,
    el("div", { class: "actions" }, el("button", { type: "button", id: "copy", class: "secondary", onclick: () => copy(value) }, "Copy"), el("button", { type: "button", id: "hide", class: "secondary", onclick: () => (clearTimeout(timer), hide()) }, "Hide"), countdown),
    refs.length ? el("div", { class: "refs" }, el("h4", {}, "References"), el("ul", {}, refs.map((r) => el("li", {}, el("a", { href: `#/secrets/${enc(r)}`, class: "ref" }, `\${secret.${r}}`))))) : null,
  );
}

function references(value) {
  const out = new Set();
  for (const m of String(value).matchAll(/\$\{secret\.([A-Za-z0-9._\/-]{1,256})\}/g)) out.add(m[1]);
  return [...out];
}

/** Copies, then overwrites the clipboard after 30 s (if it still holds what we put there, as far as we can tell). */
async function copy(value) {
  if (value === null) return;
  try {
    await navigator.clipboard.writeText(value);
    toast("Copied. The clipboard is cleared in 30 s.");
    setTimeout(() => navigator.clipboard.writeText("").catch(() => {}), HIDE_AFTER_MS);
  } catch {
    toast("The browser refused the clipboard.", true);
  }
}

async function history(path, meta) {
  const box = $("history");
  const data = await api("GET", `/secrets/store/${enc(path)}/versions?limit=100`);
  const can = state.session.can;
  const rows = data.items.map((v) =>
    el(
      "tr",
      { "data-version": v.version },
      el("td", {}, `v${v.version}`, v.version === data.current_version ? el("span", { class: "badge" }, "current") : null),
      el("td", {}, v.state),
      el("td", {}, v.created_by),
      el("td", {}, when(v.created_at)),
      el(
        "td",
        { class: "row-actions" },
        v.state === "live" ? el("button", { type: "button", class: "secondary small", "data-action": "reveal-version", onclick: () => reveal($(`hv-${v.version}`), `/secrets/store/history/${enc(path)}?version=${v.version}`) }, "Reveal") : null,
        can.write && v.state !== "destroyed" && v.version !== data.current_version ? el("button", { type: "button", class: "secondary small", "data-action": "recover", onclick: () => recover(path, v) }, "Recover") : null,
        can.delete && v.state !== "destroyed" ? el("button", { type: "button", class: "danger small", "data-action": "destroy", onclick: () => destroy(path, v.version) }, "Destroy") : null,
      ),
    ),
  );
  const detail = data.items.map((v) => el("tr", { class: "hv" }, el("td", { colspan: "5" }, el("div", { id: `hv-${v.version}` }))));
  const body = [];
  rows.forEach((r, i) => body.push(r, detail[i]));
  box.replaceChildren(
    el("div", { class: "table-wrap" }, el("table", { class: "history" }, el("thead", {}, el("tr", {}, ["Version", "State", "Author", "Time", ""].map((h) => el("th", { scope: "col" }, h)))), el("tbody", {}, body))),
    can.write
      ? el(
          "form",
          { id: "recover-at", class: "inline", onsubmit: (e) => (e.preventDefault(), recoverAt(path, $("recover-time").value)) },
          el("label", { for: "recover-time" }, "Recover the value current at"),
          el("input", { id: "recover-time", type: "datetime-local", step: "1", required: true }),
          el("button", { type: "submit", class: "secondary" }, "Recover"),
        )
      : null,
  );
}

async function run(action, done) {
  try {
    const result = await action();
    await done?.(result);
  } catch (err) {
    toast(err.status === 403 ? `Refused: ${err.message}` : err.status === 202 ? err.message : err.message, true);
  }
}

const approvalNote = (res) => (res && res.approval_required ? toast(`Waiting for approval: ${res.request_id ?? ""}`) : null);

function recover(path, v) {
  run(() => api("POST", `/secrets/store/recover/${enc(path)}`, { at: v.created_at }), async (res) => {
    approvalNote(res);
    toast(`Recovered v${v.version} as v${res.version}`);
    secretPanel(path);
  });
}

function recoverAt(path, local) {
  const at = new Date(local);
  if (Number.isNaN(at.getTime())) return toast("Pick a time", true);
  run(() => api("POST", `/secrets/store/recover/${enc(path)}`, { at: at.toISOString() }), (res) => {
    toast(`Recovered v${res.recovered_from} as v${res.version}`);
    secretPanel(path);
  });
}

function destroy(path, version) {
  const box = $("form-box");
  const input = el("input", { id: "destroy-confirm", autocomplete: "off", spellcheck: "false" });
  const go = el("button", { type: "submit", class: "danger", id: "destroy-go", disabled: true }, `Destroy v${version} for good`);
  input.addEventListener("input", () => (go.disabled = input.value !== path));
  box.replaceChildren(
    el(
      "form",
      { class: "card warning", onsubmit: (e) => (e.preventDefault(), input.value === path && run(() => api("POST", `/secrets/store/destroy/${enc(path)}`, { versions: [version] }), () => (toast(`Destroyed v${version}`), secretPanel(path)))) },
      el("p", {}, `Destroying shreds version ${version}: nobody can read it again. Type the path to confirm.`),
      el("label", { for: "destroy-confirm" }, `Type ${path}`),
      input,
      el("div", { class: "actions" }, go, el("button", { type: "button", class: "secondary", onclick: () => box.replaceChildren() }, "Cancel")),
    ),
  );
  input.focus();
}

function del(path) {
  if (!confirm(`Delete ${path}? It can be undeleted; its versions are kept.`)) return;
  run(() => api("DELETE", `/secrets/store/${enc(path)}`), () => (toast(`Deleted ${path}`), reloadSecrets(), secretPanel(path)));
}
function undelete(path) {
  run(() => api("POST", `/secrets/store/undelete/${enc(path)}`), () => (toast(`Restored ${path}`), reloadSecrets(), secretPanel(path)));
}
function rotate(path) {
  run(() => api("POST", `/secrets/store/${enc(path)}/rotate`, { generate: { length: 32, charset: "alnum" } }), (res) => (toast(`Rotated: v${res.version}`), secretPanel(path)));
}

function valueFields(prefix) {
  const gen = el("input", { type: "checkbox", id: `${prefix}-generate` });
  const value = el("textarea", { id: `${prefix}-value`, spellcheck: "false", autocomplete: "off", class: "masked" });
  gen.addEventListener("change", () => (value.disabled = gen.checked));
  return {
    nodes: [el("label", { for: `${prefix}-value` }, "Value"), value, el("label", { class: "check" }, gen, " Generate a random value instead (32 characters)")],
    body: () => (gen.checked ? { generate: { length: 32, charset: "alnum" } } : { value: value.value }),
    clear: () => (value.value = ""),
  };
}

function writeForm(path, meta) {
  const box = $("form-box");
  const v = valueFields("write");
  box.replaceChildren(
    el(
      "form",
      { class: "card", id: "write-form", onsubmit: (e) => (e.preventDefault(), run(() => api("PUT", `/secrets/store/${enc(path)}`, { ...v.body(), cas: meta.current_version }), (res) => (v.clear(), toast(`Wrote v${res.version}`), secretPanel(path)))) },
      el("h3", {}, "Write a new version"),
      v.nodes,
      el("div", { class: "actions" }, el("button", { type: "submit" }, "Write"), el("button", { type: "button", class: "secondary", onclick: () => box.replaceChildren() }, "Cancel")),
    ),
  );
}

function newSecretPanel() {
  const panel = $("panel");
  const v = valueFields("new");
  const types = ["CUSTOM", "API_KEY", "DATABASE_CREDENTIAL", "OAUTH_TOKEN", "CERTIFICATE", "ENCRYPTION_KEY", "WEBHOOK_SECRET"];
  panel.replaceChildren(
    el(
      "form",
      {
        class: "card",
        id: "new-form",
        onsubmit: (e) => {
          e.preventDefault();
          const path = $("new-path").value.trim();
          const env = $("new-env").value.trim();
          const tags = $("new-tags").value.split(",").map((t) => t.trim()).filter(Boolean);
          const body = { ...v.body(), type: $("new-type").value, ...(env && { environment: env }), ...(tags.length && { tags }) };
          run(() => api("POST", `/secrets/store/${enc(path)}`, body), () => {
            v.clear();
            toast(`Created ${path}`);
            reloadSecrets();
            location.hash = `#/secrets/${enc(path)}`;
          });
        },
      },
      el("h2", {}, "New secret"),
      el("label", { for: "new-path" }, "Path"),
      el("input", { id: "new-path", required: true, placeholder: "app/db/password", spellcheck: "false" }),
      el("label", { for: "new-type" }, "Type"),
      el("select", { id: "new-type" }, types.map((t) => el("option", { value: t }, t))),
      el("label", { for: "new-env" }, "Environment"),
      el("input", { id: "new-env", placeholder: "production" }),
      el("label", { for: "new-tags" }, "Tags (comma separated)"),
      el("input", { id: "new-tags" }),
      v.nodes,
      el("div", { class: "actions" }, el("button", { type: "submit", id: "create" }, "Create")),
    ),
  );
}

// ---------- environment diff ----------
function diffView() {
  const out = el("div", { id: "diff-result" });
  $("view").replaceChildren(
    el(
      "section",
      { class: "card wide" },
      el("h1", {}, "Compare environments or prefixes"),
      el("p", { class: "hint" }, "Keys are compared by path below each prefix (or by environment). Values are compared only when you reveal a row."),
      el(
        "form",
        { id: "diff-form", class: "row", onsubmit: (e) => (e.preventDefault(), runDiff(out)) },
        el("div", {}, el("label", { for: "diff-left" }, "Left (prefix or env:name)"), el("input", { id: "diff-left", required: true, placeholder: "staging or env:staging" })),
        el("div", {}, el("label", { for: "diff-right" }, "Right"), el("input", { id: "diff-right", required: true, placeholder: "production or env:production" })),
        el("div", { class: "actions" }, el("button", { type: "submit", id: "diff-go" }, "Compare")),
      ),
      out,
    ),
  );
}

async function side(spec) {
  const byEnv = spec.startsWith("env:");
  const items = [];
  let cursor = null;
  do {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (byEnv) q.set("environment", spec.slice(4));
    else q.set("prefix", `${spec.replace(/\/$/, "")}/`);
    if (cursor) q.set("cursor", cursor);
    const page = await api("GET", `/secrets/store?${q}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  const map = new Map();
  for (const s of items) map.set(byEnv ? s.path.split("/").slice(1).join("/") || s.path : s.path.slice(spec.replace(/\/$/, "").length + 1), s);
  return map;
}

async function runDiff(out) {
  out.replaceChildren(el("p", { class: "hint" }, "Comparing…"));
  try {
    const [l, r] = await Promise.all([side($("diff-left").value.trim()), side($("diff-right").value.trim())]);
    const keys = [...new Set([...l.keys(), ...r.keys()])].sort();
    const rows = keys.map((k) => {
      const a = l.get(k);
      const b = r.get(k);
      const kind = !a ? "right only" : !b ? "left only" : "both";
      const cell = el("td", { class: "row-actions" });
      if (a && b) cell.append(el("button", { type: "button", class: "secondary small", onclick: () => compareValues(cell, a.path, b.path) }, "Compare values"));
      return el("tr", { "data-key": k, "data-kind": kind }, el("td", {}, k), el("td", {}, a ? `v${a.current_version}` : "—"), el("td", {}, b ? `v${b.current_version}` : "—"), el("td", {}, kind), cell);
    });
    out.replaceChildren(
      el("p", {}, `${keys.length} keys: ${rows.filter((r) => r.dataset.kind === "left only").length} left only, ${rows.filter((r) => r.dataset.kind === "right only").length} right only.`),
      el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, el("tr", {}, ["Key", "Left", "Right", "Where", ""].map((h) => el("th", { scope: "col" }, h)))), el("tbody", {}, rows))),
    );
  } catch (err) {
    out.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
  }
}

/** Reads both values (audited, like any read) and shows only whether they are equal. */
async function compareValues(cell, a, b) {
  try {
    const [x, y] = await Promise.all([api("GET", `/secrets/store/${enc(a)}`), api("GET", `/secrets/store/${enc(b)}`)]);
    const same = x.value === y.value;
    cell.replaceChildren(el("span", { class: same ? "badge ok" : "badge bad" }, same ? "same value" : "differs"));
  } catch (err) {
    cell.replaceChildren(el("span", { class: "error" }, err.message));
  }
}

// ---------- bulk import ----------
function parseImport(text) {
  const t = text.trim();
  if (t.startsWith("{")) {
    const obj = JSON.parse(t);
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
  }
  const out = {};
  for (const raw of t.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^(?:export\s+)?([A-Za-z0-9._\/-]+)\s*[=:]\s*(.*)$/);
    if (!m) throw new Error(`Cannot read the line: ${line.slice(0, 40)}`);
    let v = m[2].trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]] = v;
  }
  return out;
}

function importView() {
  const preview = el("div", { id: "import-preview" });
  const text = el("textarea", { id: "import-text", spellcheck: "false", rows: "8", placeholder: "DB_PASSWORD=...\nAPI_KEY=...\n(or a JSON object, or YAML key: value lines)" });
  text.addEventListener("dragover", (e) => e.preventDefault());
  text.addEventListener("drop", async (e) => {
    e.preventDefault();
    const f = e.dataTransfer?.files?.[0];
    if (f) text.value = await f.text();
  });
  $("view").replaceChildren(
    el(
      "section",
      { class: "card wide" },
      el("h1", {}, "Bulk import"),
      el("p", { class: "hint" }, "Paste or drop a .env, JSON or YAML (flat key: value) file. Nothing is written until you apply; the import is all or nothing and creates only new paths."),
      el("label", { for: "import-prefix" }, "Prefix"),
      el("input", { id: "import-prefix", placeholder: "app/staging", spellcheck: "false" }),
      el("label", { for: "import-text" }, "Contents"),
      text,
      el("div", { class: "actions" }, el("button", { type: "button", id: "import-preview-button", onclick: () => importPreview(preview) }, "Preview")),
      preview,
    ),
  );
}

async function importPreview(box) {
  let values;
  try {
    values = parseImport($("import-text").value);
  } catch (err) {
    box.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
    return;
  }
  const prefix = $("import-prefix").value.trim().replace(/\/$/, "");
  const keys = Object.keys(values);
  const existing = new Set();
  try {
    const q = new URLSearchParams({ limit: String(PAGE), include_deleted: "true", ...(prefix && { prefix: `${prefix}/` }) });
    let cursor = null;
    do {
      if (cursor) q.set("cursor", cursor);
      const page = await api("GET", `/secrets/store?${q}`);
      for (const s of page.items) existing.add(s.path);
      cursor = page.next_cursor;
    } while (cursor);
  } catch (err) {
    box.replaceChildren(el("p", { class: "error" }, err.message));
    return;
  }
  const full = (k) => (prefix ? `${prefix}/${k}` : k);
  const conflicts = keys.filter((k) => existing.has(full(k)));
  const apply = el("button", { type: "button", id: "import-apply", disabled: conflicts.length > 0 || keys.length === 0 }, `Apply ${keys.length}`);
  apply.addEventListener("click", () =>
    run(() => api("POST", "/secrets/store/import", { ...(prefix && { prefix }), values }), (res) => {
      $("import-text").value = "";
      box.replaceChildren(el("p", { id: "import-done" }, `Imported ${res.created?.length ?? keys.length} secrets.`));
      reloadSecrets();
    }),
  );
  box.replaceChildren(
    el("p", {}, conflicts.length ? `${conflicts.length} conflict(s): these paths exist already. Remove them to apply.` : `${keys.length} new secrets, no conflicts.`),
    el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Path"), el("th", { scope: "col" }, "Value"), el("th", { scope: "col" }, ""))), el("tbody", {}, keys.map((k) => el("tr", { class: existing.has(full(k)) ? "conflict" : "" }, el("td", {}, full(k)), el("td", {}, "•••• (" + values[k].length + " chars)"), el("td", {}, existing.has(full(k)) ? el("span", { class: "badge bad" }, "conflict") : el("span", { class: "badge ok" }, "new"))))))),
    el("div", { class: "actions" }, apply),
  );
}

// ---------- transit ----------
// The API has no key listing (GET /transit/keys/{name} only): keys are looked up by name.
function transitView() {
  const out = el("pre", { id: "transit-out", class: "value", "aria-live": "polite" });
  const info = el("p", { id: "transit-info", class: "hint" });
  const key = () => encodeURIComponent($("transit-key").value.trim());
  const show = (res) => (info.textContent = `${res.name}: ${res.type}, latest version ${res.latest_version ?? res.versions?.length ?? "?"}`);
  const keyAction = (method, suffix, body) => run(() => api(method, `/transit/keys/${key()}${suffix}`, body), (res) => (res.name ? show(res) : api("GET", `/transit/keys/${key()}`).then(show)));
  const ops = [
    ["encrypt", "Encrypt"],
    ["decrypt", "Decrypt"],
    ["hmac", "HMAC"],
    ["verify", "Verify HMAC"],
    ["sign", "Sign"],
    ["verify-signature", "Verify signature"],
  ];
  $("view").replaceChildren(
    el(
      "section",
      { class: "card wide" },
      el("h1", {}, "Transit"),
      el("p", { class: "hint" }, "Encryption as a service: the keys never leave Hush. Inputs are text; the console base64-encodes them."),
      el(
        "form",
        { id: "transit-key-form", class: "row", onsubmit: (e) => (e.preventDefault(), keyAction("GET", "")) },
        el("div", {}, el("label", { for: "transit-key" }, "Key name"), el("input", { id: "transit-key", required: true, spellcheck: "false" })),
        el("div", {}, el("label", { for: "transit-type" }, "Type (for create)"), el("select", { id: "transit-type" }, ["aes256-gcm", "hmac-sha256", "ed25519", "ecdsa-p256"].map((t) => el("option", { value: t }, t)))),
        el(
          "div",
          { class: "actions" },
          el("button", { type: "submit", class: "secondary" }, "Show"),
          el("button", { type: "button", id: "transit-create", class: "secondary", onclick: () => keyAction("POST", "", { type: $("transit-type").value }) }, "Create"),
          el("button", { type: "button", id: "transit-rotate", class: "secondary", onclick: () => keyAction("POST", "/rotate", {}) }, "Rotate"),
        ),
      ),
      info,
      el("label", { for: "transit-input" }, "Input (plaintext, or a hush:v… ciphertext to decrypt)"),
      el("textarea", { id: "transit-input", spellcheck: "false" }),
      el("label", { for: "transit-proof" }, "HMAC or signature (to verify)"),
      el("input", { id: "transit-proof", spellcheck: "false" }),
      el("div", { class: "actions" }, ops.map(([op, label]) => el("button", { type: "button", class: "secondary", id: `transit-${op}`, onclick: () => transitOp(op, out) }, label))),
      out,
    ),
  );
}

const b64 = (s) => btoa(Array.from(new TextEncoder().encode(s), (b) => String.fromCharCode(b)).join(""));
const unb64 = (s) => new TextDecoder().decode(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)));

async function transitOp(op, out) {
  const name = encodeURIComponent($("transit-key").value.trim());
  const input = $("transit-input").value;
  const proof = $("transit-proof").value.trim();
  const body = {
    encrypt: { plaintext: b64(input) },
    decrypt: { ciphertext: input.trim() },
    hmac: { input: b64(input) },
    verify: { input: b64(input), hmac: proof },
    sign: { input: b64(input) },
    "verify-signature": { input: b64(input), signature: proof },
  }[op];
  try {
    const res = await api("POST", `/transit/${op}/${name}`, body);
    out.textContent = "plaintext" in res ? unb64(res.plaintext) : "valid" in res ? (res.valid ? "valid" : "NOT valid") : res.ciphertext ?? res.hmac ?? res.signature;
  } catch (err) {
    out.textContent = `Error: ${err.message}`;
  }
}

// ---------- audit ----------
async function auditView() {
  const list = el("tbody", { id: "audit-rows" });
  const verify = el("p", { id: "audit-verify", class: "hint" }, "Checking the chain…");
  const load = async () => {
    const q = new URLSearchParams({ limit: "100" });
    for (const f of ["action", "actor", "path"]) {
      const v = $(`audit-${f}`)?.value.trim();
      if (v) q.set(f, v);
    }
    try {
      const res = await api("GET", `/audit?${q}`);
      list.replaceChildren(...res.items.map((e) => el("tr", {}, el("td", {}, when(e.at)), el("td", {}, e.actor), el("td", {}, e.action), el("td", {}, e.resource ?? ""), el("td", {}, e.outcome ?? ""))));
    } catch (err) {
      list.replaceChildren(el("tr", {}, el("td", { colspan: "5", class: "error" }, err.message)));
    }
  };
  $("view").replaceChildren(
    el(
      "section",
      { class: "card wide" },
      el("h1", {}, "Audit log"),
      verify,
      el("form", { class: "row", id: "audit-filter", onsubmit: (e) => (e.preventDefault(), load()) }, ["action", "actor", "path"].map((f) => el("div", {}, el("label", { for: `audit-${f}` }, f[0].toUpperCase() + f.slice(1)), el("input", { id: `audit-${f}` }))), el("div", { class: "actions" }, el("button", { type: "submit" }, "Filter"))),
      el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, el("tr", {}, ["Time", "Actor", "Action", "Resource", "Outcome"].map((h) => el("th", { scope: "col" }, h)))), list)),
    ),
  );
  load();
  try {
    const v = await api("GET", "/audit/verify");
    verify.textContent = v.ok ? `Chain verified: ${v.checked} events.` : `Chain broken at event ${v.first_bad_seq} (${v.reason}); ${v.checked} events check out before it.`;
  } catch (err) {
    verify.textContent = err.message;
  }
}

// ---------- tokens ----------
async function tokensView() {
  const rows = el("tbody", { id: "token-rows" });
  const created = el("div", { id: "token-created" });
  const load = async () => {
    try {
      const res = await api("GET", "/tokens");
      rows.replaceChildren(...res.items.map((t) => el("tr", {}, el("td", {}, t.subject), el("td", {}, t.scopes.join(" ")), el("td", {}, when(t.expires_at)), el("td", {}, t.id === state.session.token_id ? null : el("button", { type: "button", class: "danger small", onclick: () => run(() => api("DELETE", `/tokens/${t.id}`), load) }, "Revoke")))));
    } catch (err) {
      rows.replaceChildren(el("tr", {}, el("td", { colspan: "4", class: "error" }, err.message)));
    }
  };
  $("view").replaceChildren(
    el(
      "section",
      { class: "card wide" },
      el("h1", {}, "Tokens"),
      el(
        "form",
        {
          class: "row",
          id: "token-form",
          onsubmit: (e) => {
            e.preventDefault();
            const scopes = $("token-scopes").value.split(/[\s,]+/).filter(Boolean);
            run(() => api("POST", "/tokens", { subject: $("token-subject").value.trim(), scopes, ttl_seconds: 86400 }), (res) => {
              const code = el("pre", { class: "value" }, res.token);
              created.replaceChildren(el("p", {}, "Copy the token now: it is shown once and hidden in 30 s."), code);
              setTimeout(() => created.replaceChildren(), HIDE_AFTER_MS);
              load();
            });
          },
        },
        el("div", {}, el("label", { for: "token-subject" }, "Subject"), el("input", { id: "token-subject", required: true })),
        el("div", {}, el("label", { for: "token-scopes" }, "Scopes"), el("input", { id: "token-scopes", required: true, value: "secrets:read" })),
        el("div", { class: "actions" }, el("button", { type: "submit" }, "Create (1 day)")),
      ),
      created,
      el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, el("tr", {}, ["Subject", "Scopes", "Expires", ""].map((h) => el("th", { scope: "col" }, h)))), rows)),
    ),
  );
  load();
}

start();
