// The Hush web console (docs/console.md). Plain ES module, no dependencies, no inline code.
// Every action is a request to /console/api/<rest>, which the Worker forwards to /api/v1/<rest>
// with the session's token: the API decides and audits; this script only draws.
// Values: fetched only when Reveal is pressed, never put in a URL, hidden again after 30 s;
// a copied value is cleared from the clipboard after 30 s.

const HIDE_AFTER_MS = 30_000;
const PAGE = 1000;

const state = { session: null, csrf: null, hideTimers: new Set() };

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
const when = (iso) =>
  iso
    ? iso
        .replace("T", " ")
        .replace(/\.\d+Z$/, " UTC")
        .replace(/Z$/, " UTC")
    : "—";

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
    a.hidden =
      (v === "import" && !s.can.write) ||
      (v === "audit" && !s.can.audit) ||
      (v === "tokens" && !s.can.tokens) ||
      (v === "transit" && !s.can.transit) ||
      (v === "leases" && !s.can.leases) ||
      (v === "shares" && !s.can.read);
  }
  if (!location.hash) location.hash = "#/secrets";
  route();
}

function signedOut(message) {
  state.session = null;
  state.csrf = null;
  nodes.clear();
  expanded.clear();
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
  const views = {
    secrets: secretsView,
    diff: diffView,
    import: importView,
    transit: transitView,
    shares: sharesView,
    leases: leasesView,
    audit: auditView,
    tokens: tokensView,
  };
  (views[view] || secretsView)(rest.join("/"));
}

// ---------- secrets: tree ----------
// Lazy: GET /secrets/folders returns one folder's children (sub-folders with counts, secrets), so a
// folder's contents are fetched only when it is opened, however many secrets the tenant holds.
const nodes = new Map(); // folder path ("" is the top) -> { folders, secrets, cursor, loading, error }

async function loadFolder(path, more = false) {
  let node = nodes.get(path);
  if (node && (node.loading || (!more && node.folders))) return node;
  if (!node || !more) node = { folders: null, secrets: [], cursor: null, loading: false };
  nodes.set(path, node);
  node.loading = true;
  try {
    const q = new URLSearchParams({ prefix: path, limit: String(PAGE), include_deleted: "true" });
    if (more && node.cursor) q.set("cursor", node.cursor);
    const page = await api("GET", `/secrets/folders?${q}`);
    if (!more) node.folders = page.folders;
    node.secrets.push(...page.secrets);
    node.cursor = page.next_cursor;
  } catch (err) {
    node.error = err.message;
    node.folders ??= [];
  } finally {
    node.loading = false;
  }
  drawTree();
  return node;
}

const expanded = new Set();

function treeNodes(path, depth) {
  const node = nodes.get(path);
  if (!node?.folders) return [el("li", { class: "hint", role: "none" }, "Loading…")];
  const out = [];
  for (const folder of node.folders) {
    const open = expanded.has(folder.path);
    const li = el(
      "li",
      { role: "treeitem", "aria-expanded": String(open), "aria-level": depth, class: "folder" },
      el(
        "button",
        { type: "button", class: "node", "data-folder": folder.path, onclick: () => toggleFolder(folder.path) },
        `${open ? "▾" : "▸"} ${folder.name}/`,
        el("span", { class: "count" }, ` ${folder.count}`),
      ),
    );
    if (open) li.append(el("ul", { role: "group" }, treeNodes(folder.path, depth + 1)));
    out.push(li);
  }
  for (const leaf of node.secrets) out.push(leafNode(leaf, depth, leaf.path.split("/").at(-1)));
  if (node.cursor)
    out.push(el("li", { role: "none" }, el("button", { type: "button", class: "secondary small", onclick: () => loadFolder(path, true) }, "Load more")));
  if (node.error) out.push(el("li", { role: "none", class: "error" }, node.error));
  return out;
}

function leafNode(item, depth, label) {
  const current = location.hash === `#/secrets/${enc(item.path)}`;
  return el(
    "li",
    { role: "treeitem", "aria-level": depth, "aria-selected": String(current), class: item.deleted_at ? "leaf deleted" : "leaf" },
    el(
      "a",
      { href: `#/secrets/${enc(item.path)}`, class: "node", "data-path": item.path },
      label,
      item.deleted_at ? el("span", { class: "badge" }, "deleted") : null,
    ),
  );
}

function toggleFolder(path) {
  if (expanded.has(path)) expanded.delete(path);
  else {
    expanded.add(path);
    loadFolder(path).catch((err) => toast(err.message, true));
  }
  drawTree();
  document.querySelector(`[data-folder="${CSS.escape(path)}"]`)?.focus();
}

function totalCount() {
  const top = nodes.get("");
  if (!top?.folders) return null;
  return top.folders.reduce((n, f) => n + f.count, 0) + top.secrets.length + (top.cursor ? "+" : "");
}

/** A search asks the API (path glob, tag:<t> or env:<e>): nothing beyond what is open is held in the page. */
const search = { text: "", hits: null, more: false, timer: null };
function onFilter() {
  clearTimeout(search.timer);
  search.timer = setTimeout(runSearch, 150);
}
async function runSearch() {
  const text = ($("filter")?.value ?? "").trim();
  search.text = text;
  if (!text) {
    search.hits = null;
    return drawTree();
  }
  const q = new URLSearchParams({ limit: "200", include_deleted: "true" });
  const m = text.match(/^(tag|env):(.+)$/);
  if (m) q.set(m[1] === "tag" ? "tag" : "environment", m[2]);
  else q.set("pattern", `*${text.replace(/[^A-Za-z0-9._/-]/g, "")}*`);
  try {
    const page = await api("GET", `/secrets/store?${q}`);
    if (search.text !== text) return;
    search.hits = page.items;
    search.more = !!page.next_cursor;
  } catch (err) {
    search.hits = [];
    toast(err.message, true);
  }
  drawTree();
}

function drawTree() {
  const box = $("tree");
  if (!box) return;
  const count = $("tree-count");
  const total = totalCount();
  if (total === null) {
    count.textContent = "Loading…";
    return;
  }
  if (search.text && search.hits) {
    const hits = search.hits;
    count.textContent = `${hits.length}${search.more ? "+" : ""} of ${total} match`;
    box.replaceChildren(...hits.map((s) => leafNode(s, 1, s.path)));
    if (search.more) box.append(el("li", { class: "more", role: "none" }, "More match: narrow the filter"));
    return;
  }
  count.textContent = `${total} secrets`;
  box.replaceChildren(...treeNodes("", 1));
}

function secretsView(path) {
  let layout = $("secrets-layout");
  let fresh = false;
  if (!layout) {
    layout = el(
      "div",
      { id: "secrets-layout", class: "split" },
      el(
        "aside",
        { class: "tree-pane", "aria-label": "Secrets" },
        el(
          "div",
          { class: "tree-tools" },
          el("label", { for: "filter", class: "sr-only" }, "Filter secrets"),
          el("input", { id: "filter", type: "search", placeholder: "path, tag:x or env:x", oninput: onFilter }),
          state.session.can.write ? el("a", { href: "#/secrets/+new", class: "button", id: "new-secret" }, "New secret") : null,
        ),
        el("p", { id: "tree-count", class: "hint", "aria-live": "polite" }),
        el("ul", { id: "tree", role: "tree", "aria-label": "Secret paths" }),
      ),
      el("section", { id: "panel", class: "panel", "aria-live": "polite" }, el("p", { class: "hint" }, "Pick a secret on the left.")),
    );
    $("view").replaceChildren(layout);
    fresh = true;
  }
  drawTree();
  let panel;
  if (path === "+new") newSecretPanel();
  else if (path) panel = secretPanel(path);
  else $("panel").replaceChildren(el("p", { class: "hint" }, "Pick a secret on the left."));
  // A link straight to a secret: its panel's requests go first and the top folder's listing after
  // them. That listing reads every path under the top (GET /secrets/folders counts per path), so
  // with 10,000 secrets it held the panel's requests up in the Worker (bench/console.mjs).
  if (fresh) Promise.resolve(panel).finally(() => loadFolder("").catch((err) => toast(err.message, true)));
}

/** After a change: the open folders are fetched again. */
function reloadSecrets() {
  nodes.clear();
  return Promise.all(["", ...expanded].map((p) => loadFolder(p))).catch((err) => toast(err.message, true));
}

// ---------- secrets: the panel ----------
function dl(rows) {
  return el(
    "dl",
    { class: "meta" },
    rows
      .filter(([, v]) => v !== undefined)
      .flatMap(([k, v]) => [
        el("dt", {}, k),
        el("dd", {}, v === null || v === "" || (Array.isArray(v) && !v.length) ? "—" : Array.isArray(v) ? v.join(", ") : String(v)),
      ]),
  );
}

async function secretPanel(path) {
  const panel = $("panel");
  panel.replaceChildren(el("p", { class: "hint" }, "Loading…"));
  let meta;
  // Versions and approvals are asked for at once with the metadata, not after it.
  const versions = api("GET", `/secrets/store/${enc(path)}/versions?limit=100`);
  const pending = api("GET", "/secrets/approvals?limit=200");
  versions.catch(() => {});
  pending.catch(() => {});
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
      [
        "Rotation",
        meta.rotation_policy +
          (meta.rotation_days ? ` every ${meta.rotation_days} days` : "") +
          (meta.next_rotation_at ? `, next ${when(meta.next_rotation_at)}` : ""),
      ],
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
    el("div", { id: "approvals" }),
    el("h3", {}, "History"),
    el("div", { id: "history" }, el("p", { class: "hint" }, "Loading…")),
  );
  approvals(path, pending);
  // Resolves once the history is drawn: the panel is usable (secretsView waits for it).
  return history(path, versions).catch((err) => $("history")?.replaceChildren(el("p", { class: "error" }, err.message)));
}

/**
 * Open approval requests on this path (GET /secrets/approvals lists those the caller made or may
 * approve), with Approve and Deny. The API refuses a requester's own request whatever the page shows.
 */
async function approvals(path, pending = api("GET", "/secrets/approvals?limit=200")) {
  const box = $("approvals");
  let items;
  try {
    items = (await pending).items.filter((r) => r.path === path && (r.state === "pending" || r.state === "approved"));
  } catch {
    return;
  }
  if (!box || !items.length) return box?.replaceChildren();
  const me = state.session.subject;
  box.replaceChildren(
    el("h3", {}, "Pending approvals"),
    el(
      "ul",
      { class: "approvals" },
      items.map((r) =>
        el(
          "li",
          { "data-request": r.id, "data-state": r.state },
          el("span", {}, `${r.action} requested by ${r.requester}: ${r.received} of ${r.required} approvals, ${r.state}, expires ${when(r.expires_at)}`),
          r.requester === me || r.state !== "pending"
            ? el("span", { class: "hint" }, r.requester === me ? " (your request: someone else must approve it)" : "")
            : el(
                "span",
                { class: "row-actions" },
                el(
                  "button",
                  {
                    type: "button",
                    class: "small",
                    "data-action": "approve",
                    onclick: () =>
                      run(
                        () => api("POST", `/secrets/approvals/${r.id}/approve`),
                        (res) => (toast(`Approved: ${res.received} of ${res.required}`), approvals(path)),
                      ),
                  },
                  "Approve",
                ),
                el(
                  "button",
                  {
                    type: "button",
                    class: "danger small",
                    "data-action": "deny",
                    onclick: () =>
                      run(
                        () => api("POST", `/secrets/approvals/${r.id}/deny`),
                        () => (toast("Denied"), approvals(path)),
                      ),
                  },
                  "Deny",
                ),
              ),
        ),
      ),
    ),
  );
}

/**
 * Fetches a value only now, shows it, and hides (and forgets) it after 30 s. `main` gives the
 * elements their ids (one main reveal per page); `refs` lists the value's references.
 */
async function reveal(box, apiPath, { refs = true, main = true } = {}) {
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
  const id = (name) => (main ? name : undefined);
  const code = el("pre", { class: "value", id: id("revealed-value"), tabindex: "0", "aria-label": "Secret value" }, value);
  const countdown = el("span", { class: "hint countdown", id: id("hide-countdown") }, "Hides in 30 s");
  const hide = () => {
    value = null;
    box.replaceChildren(el("p", { class: "hint value-hidden", id: id("value-hidden") }, "Hidden again. Press Reveal to see it."));
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
  const found = refs ? references(value) : [];
  box.replaceChildren(
    code,
    el(
      "div",
      { class: "actions" },
      el("button", { type: "button", id: id("copy"), class: "secondary", onclick: () => copy(value) }, "Copy"),
      el("button", { type: "button", id: id("hide"), class: "secondary", onclick: () => (clearTimeout(timer), hide()) }, "Hide"),
      countdown,
    ),
    found.length ? el("div", { class: "refs" }, el("h4", {}, "References"), el("ul", {}, found.map(referenceItem))) : null,
  );
}

/**
 * One `${secret.path}` reference: a link, and what it resolves to (through the API's own resolver,
 * so the read rule decides each hop) shown masked, with its length only; cycles and broken
 * references are marked. The resolved value is dropped at once; Reveal fetches it again.
 */
function referenceItem(ref) {
  const status = el("span", { class: "ref-status hint" }, "checking…");
  const shown = el("div", { class: "value-box" });
  const li = el(
    "li",
    { "data-ref": ref, "data-ref-state": "checking" },
    el("a", { href: `#/secrets/${enc(ref)}`, class: "ref" }, `\${secret.${ref}}`),
    " ",
    status,
    shown,
  );
  const mark = (state, text, cls = "badge") => {
    li.dataset.refState = state;
    status.className = `ref-status ${cls}`;
    status.textContent = text;
  };
  api("GET", `/secrets/store/${enc(ref)}?resolve=true`).then(
    (res) => {
      const length = [...res.value].length;
      res = null;
      mark("ok", `resolves to •••••••• (${length} characters)`, "hint");
      status.after(
        el(
          "button",
          {
            type: "button",
            class: "secondary small",
            "aria-label": `Reveal what ${ref} resolves to`,
            onclick: () => reveal(shown, `/secrets/store/${enc(ref)}?resolve=true`, { refs: false, main: false }),
          },
          "Reveal",
        ),
      );
    },
    (err) => {
      const type = String(err.problem?.type ?? "");
      if (type.endsWith("reference-cycle")) mark("cycle", `cycle: ${(err.problem.cycle ?? []).join(" → ")}`, "badge bad");
      else if (err.status === 404) mark("broken", "broken: no such secret", "badge bad");
      else if (type.endsWith("reference-missing")) mark("broken", `broken: ${err.problem.path} does not exist`, "badge bad");
      else if (err.status === 403) mark("refused", "not readable with this token", "badge");
      else mark("broken", `broken: ${err.message}`, "badge bad");
    },
  );
  return li;
}

function references(value) {
  const out = new Set();
  for (const m of String(value).matchAll(/\$\{secret\.([A-Za-z0-9._/-]{1,256})\}/g)) out.add(m[1]);
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

async function history(path, versions) {
  const box = $("history");
  const data = await versions;
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
        {},
        v.state === "live"
          ? el("input", { type: "checkbox", class: "diff-pick", value: String(v.version), "aria-label": `Pick v${v.version} for a diff` })
          : null,
      ),
      el(
        "td",
        { class: "row-actions" },
        v.state === "live"
          ? el(
              "button",
              {
                type: "button",
                class: "secondary small",
                "data-action": "reveal-version",
                onclick: () => reveal($(`hv-${v.version}`), `/secrets/store/history/${enc(path)}?version=${v.version}`),
              },
              "Reveal",
            )
          : null,
        can.write && v.state !== "destroyed" && v.version !== data.current_version
          ? el("button", { type: "button", class: "secondary small", "data-action": "recover", onclick: () => recover(path, v) }, "Recover")
          : null,
        can.delete && v.state !== "destroyed"
          ? el("button", { type: "button", class: "danger small", "data-action": "destroy", onclick: () => destroy(path, v.version) }, "Destroy")
          : null,
      ),
    ),
  );
  const detail = data.items.map((v) => el("tr", { class: "hv" }, el("td", { colspan: "6" }, el("div", { id: `hv-${v.version}` }))));
  const diffBox = el("div", { id: "history-diff-box", "aria-live": "polite" });
  const body = [];
  rows.forEach((r, i) => body.push(r, detail[i]));
  box.replaceChildren(
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        { class: "history" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ["Version", "State", "Author", "Time", "Diff", ""].map((h) => el("th", { scope: "col" }, h)),
          ),
        ),
        el("tbody", {}, body),
      ),
    ),
    el(
      "div",
      { class: "actions" },
      el("button", { type: "button", class: "secondary", id: "history-diff", onclick: () => historyDiff(path, diffBox) }, "Diff the two picked versions"),
    ),
    diffBox,
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

/** Two picked versions: masked until Reveal, then a line diff of both values (two audited reads), hidden after 30 s. */
function historyDiff(path, box) {
  const picked = [...document.querySelectorAll(".diff-pick:checked")].map((c) => Number(c.value)).sort((a, b) => a - b);
  if (picked.length !== 2) return toast("Pick exactly two versions", true);
  const [a, b] = picked;
  const go = el("button", { type: "button", id: "history-diff-reveal", onclick: () => showDiff() }, "Reveal the diff");
  box.replaceChildren(
    el(
      "div",
      { class: "card" },
      el("h4", {}, `v${a} → v${b}`),
      el("pre", { class: "value masked-diff" }, "•••••••• (masked until revealed)"),
      el("div", { class: "actions" }, go),
    ),
  );
  const showDiff = async () => {
    let x;
    let y;
    try {
      [x, y] = await Promise.all([a, b].map(async (v) => (await api("GET", `/secrets/store/history/${enc(path)}?version=${v}`)).value));
    } catch (err) {
      return box.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
    }
    const lines = diffLines(x.split("\n"), y.split("\n"));
    x = y = null;
    box.replaceChildren(
      el(
        "div",
        { class: "card" },
        el("h4", {}, `v${a} → v${b}`),
        el(
          "pre",
          { class: "value diff", id: "history-diff-out", tabindex: "0", "aria-label": `Diff of v${a} and v${b}` },
          lines.map(([op, text]) => el("span", { class: op === "+" ? "add" : op === "-" ? "del" : "same" }, `${op} ${text}\n`)),
        ),
        el("p", { class: "hint" }, "Hides in 30 s"),
      ),
    );
    const timer = setTimeout(() => box.replaceChildren(el("p", { class: "hint", id: "history-diff-hidden" }, "The diff is hidden again.")), HIDE_AFTER_MS);
    state.hideTimers.add(timer);
  };
}

/** A line diff by longest common subsequence (values are at most 64 KiB, so this stays small). */
function diffLines(a, b) {
  const n = a.length;
  const m = b.length;
  if (n * m > 4_000_000) return [...a.map((t) => ["-", t]), ...b.map((t) => ["+", t])];
  const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) out.push([" ", a[i++]]), j++;
    else if (L[i + 1][j] >= L[i][j + 1]) out.push(["-", a[i++]]);
    else out.push(["+", b[j++]]);
  }
  while (i < n) out.push(["-", a[i++]]);
  while (j < m) out.push(["+", b[j++]]);
  return out;
}

async function run(action, done) {
  try {
    const result = await action();
    await done?.(result);
  } catch (err) {
    if (err.problem?.approval_request_id) {
      toast(`Needs approval (${err.problem.received ?? 0} of ${err.problem.required ?? "?"}): ask an approver, then retry`);
      const path = decodeURIComponent(location.hash.slice("#/secrets/".length));
      if (location.hash.startsWith("#/secrets/") && $("approvals")) approvals(path);
      return;
    }
    toast(err.status === 403 ? `Refused: ${err.message}` : err.message, true);
  }
}

const approvalNote = (res) => (res?.approval_required ? toast(`Waiting for approval: ${res.request_id ?? ""}`) : null);

function recover(path, v) {
  run(
    () => api("POST", `/secrets/store/recover/${enc(path)}`, { at: v.created_at }),
    async (res) => {
      approvalNote(res);
      toast(`Recovered v${v.version} as v${res.version}`);
      secretPanel(path);
    },
  );
}

function recoverAt(path, local) {
  const at = new Date(local);
  if (Number.isNaN(at.getTime())) return toast("Pick a time", true);
  run(
    () => api("POST", `/secrets/store/recover/${enc(path)}`, { at: at.toISOString() }),
    (res) => {
      toast(`Recovered v${res.recovered_from} as v${res.version}`);
      secretPanel(path);
    },
  );
}

function destroy(path, version) {
  const box = $("form-box");
  const input = el("input", { id: "destroy-confirm", autocomplete: "off", spellcheck: "false" });
  const go = el("button", { type: "submit", class: "danger", id: "destroy-go", disabled: true }, `Destroy v${version} for good`);
  input.addEventListener("input", () => (go.disabled = input.value !== path));
  box.replaceChildren(
    el(
      "form",
      {
        class: "card warning",
        onsubmit: (e) => (
          e.preventDefault(),
          input.value === path &&
            run(
              () => api("POST", `/secrets/store/destroy/${enc(path)}`, { versions: [version] }),
              () => (toast(`Destroyed v${version}`), secretPanel(path)),
            )
        ),
      },
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
  run(
    () => api("DELETE", `/secrets/store/${enc(path)}`),
    () => (toast(`Deleted ${path}`), reloadSecrets(), secretPanel(path)),
  );
}
function undelete(path) {
  run(
    () => api("POST", `/secrets/store/undelete/${enc(path)}`),
    () => (toast(`Restored ${path}`), reloadSecrets(), secretPanel(path)),
  );
}
function rotate(path) {
  run(
    () => api("POST", `/secrets/store/${enc(path)}/rotate`, { generate: { length: 32, charset: "alnum" } }),
    (res) => (toast(`Rotated: v${res.version}`), secretPanel(path)),
  );
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
      {
        class: "card",
        id: "write-form",
        onsubmit: (e) => (
          e.preventDefault(),
          run(
            () => api("PUT", `/secrets/store/${enc(path)}`, { ...v.body(), cas: meta.current_version }),
            (res) => (v.clear(), toast(`Wrote v${res.version}`), secretPanel(path)),
          )
        ),
      },
      el("h3", {}, "Write a new version"),
      v.nodes,
      el(
        "div",
        { class: "actions" },
        el("button", { type: "submit" }, "Write"),
        el("button", { type: "button", class: "secondary", onclick: () => box.replaceChildren() }, "Cancel"),
      ),
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
          const tags = $("new-tags")
            .value.split(",")
            .map((t) => t.trim())
            .filter(Boolean);
          const body = { ...v.body(), type: $("new-type").value, ...(env && { environment: env }), ...(tags.length && { tags }) };
          run(
            () => api("POST", `/secrets/store/${enc(path)}`, body),
            () => {
              v.clear();
              toast(`Created ${path}`);
              reloadSecrets();
              location.hash = `#/secrets/${enc(path)}`;
            },
          );
        },
      },
      el("h2", {}, "New secret"),
      el("label", { for: "new-path" }, "Path"),
      el("input", { id: "new-path", required: true, placeholder: "app/db/password", spellcheck: "false" }),
      el("label", { for: "new-type" }, "Type"),
      el(
        "select",
        { id: "new-type" },
        types.map((t) => el("option", { value: t }, t)),
      ),
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
      el(
        "p",
        { class: "hint" },
        "Keys are compared by path below each prefix (for env:<name>, by path without the environment's segment). Hush compares values by keyed fingerprint on the server; no value comes to this page unless you reveal a row.",
      ),
      el(
        "form",
        { id: "diff-form", class: "row", onsubmit: (e) => (e.preventDefault(), runDiff(out)) },
        el(
          "div",
          {},
          el("label", { for: "diff-left" }, "Left (prefix or env:name)"),
          el("input", { id: "diff-left", required: true, placeholder: "staging or env:staging" }),
        ),
        el(
          "div",
          {},
          el("label", { for: "diff-right" }, "Right"),
          el("input", { id: "diff-right", required: true, placeholder: "production or env:production" }),
        ),
        el("div", { class: "actions" }, el("button", { type: "submit", id: "diff-go" }, "Compare")),
      ),
      out,
    ),
  );
}

const KIND_LABEL = {
  "only-left": "left only",
  "only-right": "right only",
  same: "same value",
  differs: "differs",
  withheld: "not yours to compare",
  unknown: "fingerprint pending",
};

/** GET /secrets/compare: the server compares keyed fingerprints; no value comes to the page unless a row is revealed. */
async function runDiff(out) {
  out.replaceChildren(el("p", { class: "hint" }, "Comparing…"));
  const spec = (id) => $(id).value.trim().replace(/\/$/, "");
  try {
    const res = await api("GET", `/secrets/compare?${new URLSearchParams({ left: spec("diff-left"), right: spec("diff-right") })}`);
    const rows = res.items.map((item) => {
      const cell = el("td", { class: "row-actions" });
      const values = el("td", { colspan: "5", class: "diff-values" });
      const detail = el("tr", { class: "hv" }, values);
      if (item.left && item.right && item.status !== "withheld") {
        cell.append(
          el(
            "button",
            {
              type: "button",
              class: "secondary small",
              "data-action": "reveal-pair",
              "aria-label": `Reveal both values of ${item.key}`,
              onclick: () => revealPair(values, item),
            },
            "Reveal",
          ),
        );
      }
      const badge = item.status === "same" ? "badge ok" : item.status === "differs" ? "badge bad" : "badge";
      return [
        el(
          "tr",
          { "data-key": item.key, "data-kind": item.status },
          el("td", {}, item.key),
          el("td", {}, item.left ? `v${item.left.version}` : "—"),
          el("td", {}, item.right ? `v${item.right.version}` : "—"),
          el("td", {}, el("span", { class: badge }, KIND_LABEL[item.status])),
          cell,
        ),
        detail,
      ];
    });
    const c = res.counts;
    out.replaceChildren(
      el(
        "p",
        { id: "diff-summary" },
        `${res.items.length} keys: ${c.same} same, ${c.differs} differ, ${c["only-left"]} left only, ${c["only-right"]} right only${c.withheld ? `, ${c.withheld} not yours to compare` : ""}${c.unknown ? `, ${c.unknown} pending` : ""}.`,
      ),
      el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ["Key", "Left", "Right", "Values", ""].map((h) => el("th", { scope: "col" }, h)),
            ),
          ),
          el("tbody", {}, rows.flat()),
        ),
      ),
    );
  } catch (err) {
    out.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
  }
}

/** Reveals both sides of one row (two audited reads), hidden again after 30 s. */
function revealPair(box, item) {
  const l = el("div", { class: "value-box" });
  const r = el("div", { class: "value-box" });
  box.replaceChildren(el("div", { class: "pair" }, el("div", {}, el("h4", {}, item.left.path), l), el("div", {}, el("h4", {}, item.right.path), r)));
  reveal(l, `/secrets/store/${enc(item.left.path)}`, { refs: false });
  reveal(r, `/secrets/store/${enc(item.right.path)}`, { refs: false });
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
    const m = line.match(/^(?:export\s+)?([A-Za-z0-9._/-]+)\s*[=:]\s*(.*)$/);
    if (!m) throw new Error(`Cannot read the line: ${line.slice(0, 40)}`);
    let v = m[2].trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]] = v;
  }
  return out;
}

function importView() {
  const preview = el("div", { id: "import-preview" });
  const text = el("textarea", {
    id: "import-text",
    spellcheck: "false",
    rows: "8",
    placeholder: "DB_PASSWORD=...\nAPI_KEY=...\n(or a JSON object, or YAML key: value lines)",
  });
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
      el(
        "p",
        { class: "hint" },
        "Paste or drop a .env, JSON or YAML (flat key: value) file. Nothing is written until you apply; the import is all or nothing and creates only new paths.",
      ),
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
    run(
      () => api("POST", "/secrets/store/import", { ...(prefix && { prefix }), values }),
      (res) => {
        $("import-text").value = "";
        box.replaceChildren(el("p", { id: "import-done" }, `Imported ${res.created?.length ?? keys.length} secrets.`));
        reloadSecrets();
      },
    ),
  );
  box.replaceChildren(
    el(
      "p",
      {},
      conflicts.length ? `${conflicts.length} conflict(s): these paths exist already. Remove them to apply.` : `${keys.length} new secrets, no conflicts.`,
    ),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Path"), el("th", { scope: "col" }, "Value"), el("th", { scope: "col" }, ""))),
        el(
          "tbody",
          {},
          keys.map((k) =>
            el(
              "tr",
              { class: existing.has(full(k)) ? "conflict" : "" },
              el("td", {}, full(k)),
              el("td", {}, "•••• (" + values[k].length + " chars)"),
              el("td", {}, existing.has(full(k)) ? el("span", { class: "badge bad" }, "conflict") : el("span", { class: "badge ok" }, "new")),
            ),
          ),
        ),
      ),
    ),
    el("div", { class: "actions" }, apply),
  );
}

// ---------- transit ----------
function transitView() {
  const out = el("pre", { id: "transit-out", class: "value", "aria-live": "polite" });
  const info = el("p", { id: "transit-info", class: "hint" });
  const list = el("tbody", { id: "transit-keys" });
  const key = () => encodeURIComponent($("transit-key").value.trim());
  const show = (res) => (info.textContent = `${res.name}: ${res.type}, latest version ${res.latest_version ?? res.versions?.length ?? "?"}`);
  const loadKeys = async () => {
    try {
      const res = await api("GET", "/transit/keys?limit=1000");
      list.replaceChildren(
        ...(res.items.length ? res.items : [null]).map((k) =>
          k
            ? el(
                "tr",
                { "data-key": k.name },
                el("td", {}, k.name),
                el("td", {}, k.type),
                el("td", {}, `v${k.latest_version}`),
                el("td", {}, when(k.updated_at)),
                el(
                  "td",
                  { class: "row-actions" },
                  el(
                    "button",
                    {
                      type: "button",
                      class: "secondary small",
                      "data-action": "use",
                      "aria-label": `Use ${k.name}`,
                      onclick: () => (($("transit-key").value = k.name), show(k)),
                    },
                    "Use",
                  ),
                  el(
                    "button",
                    {
                      type: "button",
                      class: "secondary small",
                      "data-action": "rotate",
                      "aria-label": `Rotate ${k.name}`,
                      onclick: () =>
                        run(
                          () => api("POST", `/transit/keys/${encodeURIComponent(k.name)}/rotate`, {}),
                          (r) => (show(r), loadKeys()),
                        ),
                    },
                    "Rotate",
                  ),
                ),
              )
            : el("tr", {}, el("td", { colspan: "5", class: "hint" }, "No keys yet (or none this token may see).")),
        ),
      );
    } catch (err) {
      list.replaceChildren(el("tr", {}, el("td", { colspan: "5", class: "error" }, err.message)));
    }
  };
  const keyAction = (method, suffix, body) =>
    run(
      () => api(method, `/transit/keys/${key()}${suffix}`, body),
      (res) => (show(res), loadKeys()),
    );
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
      el("h2", {}, "Keys"),
      el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ["Name", "Type", "Latest", "Updated", ""].map((h) => el("th", { scope: "col" }, h)),
            ),
          ),
          list,
        ),
      ),
      el(
        "form",
        { id: "transit-key-form", class: "row", onsubmit: (e) => (e.preventDefault(), keyAction("POST", "", { type: $("transit-type").value })) },
        el("div", {}, el("label", { for: "transit-key" }, "Key name"), el("input", { id: "transit-key", required: true, spellcheck: "false" })),
        el(
          "div",
          {},
          el("label", { for: "transit-type" }, "Type (for create)"),
          el(
            "select",
            { id: "transit-type" },
            ["aes256-gcm", "hmac", "ed25519", "ecdsa-p256"].map((t) => el("option", { value: t }, t)),
          ),
        ),
        el("div", { class: "actions" }, el("button", { type: "submit", id: "transit-create", class: "secondary" }, "Create")),
      ),
      info,
      el("h2", {}, "Use a key"),
      el("label", { for: "transit-input" }, "Input (plaintext, or a hush:v… ciphertext to decrypt)"),
      el("textarea", { id: "transit-input", spellcheck: "false" }),
      el("label", { for: "transit-proof" }, "HMAC or signature (to verify)"),
      el("input", { id: "transit-proof", spellcheck: "false" }),
      el(
        "div",
        { class: "actions" },
        ops.map(([op, label]) => el("button", { type: "button", class: "secondary", id: `transit-${op}`, onclick: () => transitOp(op, out) }, label)),
      ),
      out,
    ),
  );
  loadKeys();
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
    out.textContent =
      "plaintext" in res ? unb64(res.plaintext) : "valid" in res ? (res.valid ? "valid" : "NOT valid") : (res.ciphertext ?? res.hmac ?? res.signature);
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
      list.replaceChildren(
        ...res.items.map((e) =>
          el("tr", {}, el("td", {}, when(e.at)), el("td", {}, e.actor), el("td", {}, e.action), el("td", {}, e.resource ?? ""), el("td", {}, e.outcome ?? "")),
        ),
      );
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
      el(
        "form",
        { class: "row", id: "audit-filter", onsubmit: (e) => (e.preventDefault(), load()) },
        ["action", "actor", "path"].map((f) =>
          el("div", {}, el("label", { for: `audit-${f}` }, f[0].toUpperCase() + f.slice(1)), el("input", { id: `audit-${f}` })),
        ),
        el("div", { class: "actions" }, el("button", { type: "submit" }, "Filter")),
      ),
      el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ["Time", "Actor", "Action", "Resource", "Outcome"].map((h) => el("th", { scope: "col" }, h)),
            ),
          ),
          list,
        ),
      ),
    ),
  );
  // The rows first, then the chain's verify: it recomputes the chain in the Worker, and asked at the
  // same time it held the rows' request up until both were done (bench/console.mjs).
  await load();
  try {
    const v = await api("GET", "/audit/verify");
    verify.textContent = v.ok
      ? `Chain verified: ${v.checked} events.`
      : `Chain broken at event ${v.first_bad_seq} (${v.reason}); ${v.checked} events check out before it.`;
  } catch (err) {
    verify.textContent = err.message;
  }
}

// ---------- shares ----------
async function sharesView() {
  const rows = el("tbody", { id: "share-rows" });
  const created = el("div", { id: "share-created", "aria-live": "polite" });
  const can = state.session.can;
  const load = async () => {
    try {
      const res = await api("GET", "/secrets/shares?limit=100");
      rows.replaceChildren(
        ...(res.items.length ? res.items : [null]).map((s) =>
          s
            ? el(
                "tr",
                { "data-share": s.id, "data-state": s.state },
                el("td", {}, s.id),
                el("td", {}, s.mode),
                el("td", {}, s.state),
                el("td", {}, `${s.views_left} of ${s.max_views}`),
                el("td", {}, when(s.expires_at)),
                el("td", {}, s.created_by),
                el(
                  "td",
                  { class: "row-actions" },
                  can.write && s.state === "active"
                    ? el(
                        "button",
                        {
                          type: "button",
                          class: "danger small",
                          "data-action": "revoke",
                          "aria-label": `Revoke share ${s.id}`,
                          onclick: () =>
                            run(
                              () => api("DELETE", `/secrets/shares/${s.id}`),
                              () => (toast("Share revoked"), load()),
                            ),
                        },
                        "Revoke",
                      )
                    : null,
                ),
              )
            : el("tr", {}, el("td", { colspan: "7", class: "hint" }, "No shares yet.")),
        ),
      );
    } catch (err) {
      rows.replaceChildren(el("tr", {}, el("td", { colspan: "7", class: "error" }, err.message)));
    }
  };
  const value = el("textarea", { id: "share-value", spellcheck: "false", autocomplete: "off", class: "masked", rows: "3" });
  const create = (e) => {
    e.preventDefault();
    const path = $("share-path").value.trim();
    const body = {
      ...(path ? { path } : { value: value.value }),
      max_views: Number($("share-views").value),
      expires_in_seconds: Number($("share-hours").value) * 3600,
    };
    run(
      () => api("POST", "/secrets/shares", body),
      (res) => {
        value.value = "";
        // The link carries the share's token: shown once, dropped from the page after 30 s.
        created.replaceChildren(
          el("p", {}, "Send this link once; it is shown only now and hidden in 30 s."),
          el("pre", { class: "value", id: "share-link" }, res.url),
        );
        setTimeout(() => created.replaceChildren(), HIDE_AFTER_MS);
        load();
      },
    );
  };
  $("view").replaceChildren(
    el(
      "section",
      { class: "card wide" },
      el("h1", {}, "Shares"),
      el(
        "p",
        { class: "hint" },
        "One-time links: the recipient opens the link and presses Reveal; each view is spent once. Revoking deletes the payload at once.",
      ),
      can.write
        ? el(
            "form",
            { id: "share-form", onsubmit: create },
            el("label", { for: "share-value" }, "Value to share"),
            value,
            el("label", { for: "share-path" }, "…or the current value of a stored secret (path)"),
            el("input", { id: "share-path", spellcheck: "false", placeholder: "app/db/password" }),
            el(
              "div",
              { class: "row" },
              el(
                "div",
                {},
                el("label", { for: "share-views" }, "Views"),
                el("input", { id: "share-views", type: "number", min: "1", max: "100", value: "1", required: true }),
              ),
              el(
                "div",
                {},
                el("label", { for: "share-hours" }, "Expires in (hours)"),
                el("input", { id: "share-hours", type: "number", min: "1", max: "720", value: "24", required: true }),
              ),
              el("div", { class: "actions" }, el("button", { type: "submit", id: "share-create" }, "Create link")),
            ),
          )
        : null,
      created,
      el("h2", {}, "Status"),
      el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ["Id", "Mode", "State", "Views left", "Expires", "Created by", ""].map((h) => el("th", { scope: "col" }, h)),
            ),
          ),
          rows,
        ),
      ),
    ),
  );
  load();
}

// ---------- leases ----------
async function leasesView() {
  const rows = el("tbody", { id: "lease-rows" });
  const can = state.session.can;
  const load = async () => {
    const q = new URLSearchParams({ limit: "200" });
    const st = $("lease-state")?.value;
    if (st) q.set("state", st);
    try {
      const res = await api("GET", `/secrets/leases?${q}`);
      rows.replaceChildren(
        ...(res.items.length ? res.items : [null]).map((l) =>
          l
            ? el(
                "tr",
                { "data-lease": l.lease_id, "data-state": l.state },
                el("td", {}, l.lease_id),
                el("td", {}, `${l.provider}/${l.role}`),
                el("td", {}, l.state),
                el("td", {}, when(l.expires_at)),
                el("td", {}, l.created_by),
                el(
                  "td",
                  { class: "row-actions" },
                  can.revokeLeases && l.state === "issued"
                    ? el(
                        "button",
                        {
                          type: "button",
                          class: "danger small",
                          "data-action": "revoke",
                          "aria-label": `Revoke lease ${l.lease_id}`,
                          onclick: () =>
                            run(
                              () => api("POST", `/secrets/leases/${l.lease_id}/revoke`),
                              () => (toast("Revocation queued"), load()),
                            ),
                        },
                        "Revoke",
                      )
                    : null,
                ),
              )
            : el("tr", {}, el("td", { colspan: "6", class: "hint" }, "No leases.")),
        ),
      );
    } catch (err) {
      rows.replaceChildren(el("tr", {}, el("td", { colspan: "6", class: "error" }, err.message)));
    }
  };
  $("view").replaceChildren(
    el(
      "section",
      { class: "card wide" },
      el("h1", {}, "Leases"),
      el("p", { class: "hint" }, "Short-lived credentials issued by providers. Revoking queues the provider's revoke; it is retried until delivered."),
      el(
        "form",
        { class: "row", id: "lease-filter", onsubmit: (e) => (e.preventDefault(), load()) },
        el(
          "div",
          {},
          el("label", { for: "lease-state" }, "State"),
          el(
            "select",
            { id: "lease-state" },
            ["", "issued", "revoking", "revoked", "expired", "failed"].map((s) => el("option", { value: s }, s || "any")),
          ),
        ),
        el("div", { class: "actions" }, el("button", { type: "submit", class: "secondary" }, "Filter")),
      ),
      el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ["Lease", "Provider/role", "State", "Expires", "Created by", ""].map((h) => el("th", { scope: "col" }, h)),
            ),
          ),
          rows,
        ),
      ),
    ),
  );
  load();
}

// ---------- tokens ----------
async function tokensView() {
  const rows = el("tbody", { id: "token-rows" });
  const created = el("div", { id: "token-created" });
  const load = async () => {
    try {
      const res = await api("GET", "/tokens");
      rows.replaceChildren(
        ...res.items.map((t) =>
          el(
            "tr",
            {},
            el("td", {}, t.subject),
            el("td", {}, t.scopes.join(" ")),
            el("td", {}, when(t.expires_at)),
            el(
              "td",
              {},
              t.id === state.session.token_id
                ? null
                : el("button", { type: "button", class: "danger small", onclick: () => run(() => api("DELETE", `/tokens/${t.id}`), load) }, "Revoke"),
            ),
          ),
        ),
      );
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
            const scopes = $("token-scopes")
              .value.split(/[\s,]+/)
              .filter(Boolean);
            run(
              () => api("POST", "/tokens", { subject: $("token-subject").value.trim(), scopes, ttl_seconds: 86400 }),
              (res) => {
                const code = el("pre", { class: "value" }, res.token);
                created.replaceChildren(el("p", {}, "Copy the token now: it is shown once and hidden in 30 s."), code);
                setTimeout(() => created.replaceChildren(), HIDE_AFTER_MS);
                load();
              },
            );
          },
        },
        el("div", {}, el("label", { for: "token-subject" }, "Subject"), el("input", { id: "token-subject", required: true })),
        el("div", {}, el("label", { for: "token-scopes" }, "Scopes"), el("input", { id: "token-scopes", required: true, value: "secrets:read" })),
        el("div", { class: "actions" }, el("button", { type: "submit" }, "Create (1 day)")),
      ),
      created,
      el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ["Subject", "Scopes", "Expires", ""].map((h) => el("th", { scope: "col" }, h)),
            ),
          ),
          rows,
        ),
      ),
    ),
  );
  load();
}

start();
