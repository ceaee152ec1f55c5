/**
 * The console's one page: a shell with no data in it. The script (public/console/assets/console.js,
 * a Workers static asset) asks /console/session who is signed in and draws the rest; nothing here
 * is inline, so the CSP can be script-src 'self'.
 */
export function consolePage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light dark">
<title>Hush console</title>
<link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console/assets/console.css">
<script type="module" src="/console/assets/console.js"></script>
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="/console#/secrets">Hush</a>
<nav id="nav" aria-label="Console" hidden>
<a href="#/secrets" data-view="secrets">Secrets</a>
<a href="#/diff" data-view="diff">Compare</a>
<a href="#/import" data-view="import">Import</a>
<a href="#/transit" data-view="transit">Transit</a>
<a href="#/shares" data-view="shares">Shares</a>
<a href="#/leases" data-view="leases">Leases</a>
<a href="#/audit" data-view="audit">Audit</a>
<a href="#/tokens" data-view="tokens">Tokens</a>
</nav>
<div class="who"><span id="who"></span> <span id="readonly-badge" class="badge" hidden>read-only</span>
<button id="logout" type="button" class="secondary" hidden>Sign out</button></div>
</header>
<main id="main" tabindex="-1">
<noscript><p class="error">The console needs JavaScript.</p></noscript>
<section id="signin" class="card narrow" hidden aria-labelledby="signin-title">
<h1 id="signin-title">Sign in to Hush</h1>
<form id="signin-form" autocomplete="off">
<label for="signin-token">API token</label>
<input id="signin-token" type="password" autocomplete="off" spellcheck="false" required>
<p class="hint">The token stays on the server, sealed; this browser keeps only an HttpOnly session cookie for an hour at most.</p>
<div class="actions"><button type="submit" id="signin-button">Sign in</button></div>
</form>
<details><summary>Sign in with a login role (JWT)</summary>
<form id="login-form" autocomplete="off">
<label for="login-role">Role</label><input id="login-role" required>
<label for="login-jwt">JWT</label><textarea id="login-jwt" required spellcheck="false"></textarea>
<label for="login-tenant">Tenant <span class="hint">(optional)</span></label><input id="login-tenant">
<div class="actions"><button type="submit">Sign in with role</button></div>
</form></details>
<p id="signin-error" class="error" role="alert" hidden></p>
</section>
<section id="view" hidden></section>
</main>
<div id="toast" role="status" aria-live="polite"></div>
</body></html>`;
}
