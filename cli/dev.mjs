#!/usr/bin/env node
// `npm start`: Hush in dev mode, like `vault server -dev`. Applies the local D1
// migrations, creates .dev.vars with a random master key and root token when it is
// absent, runs `wrangler dev` on 127.0.0.1, and prints how to use it once it answers.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { vendorDocs } from "../scripts/vendor-docs.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const varsFile = join(root, ".dev.vars");
const port = process.env.PORT || "8787";
const wrangler = join(root, "node_modules", ".bin", "wrangler");

// A port in use would otherwise surface as a wrangler stack trace after the migrations ran.
const portFree = await new Promise((resolve) => {
  const probe = createServer();
  probe.once("error", () => resolve(false));
  probe.listen(Number(port), "127.0.0.1", () => probe.close(() => resolve(true)));
});
if (!portFree) {
  console.error(
    `Error: port ${port} on 127.0.0.1 is already in use.\nHow to fix: stop what listens there, or pick another port: PORT=${Number(port) + 1} npm start`,
  );
  process.exit(1);
}

if (!existsSync(varsFile)) {
  const masterKeys = JSON.stringify({ active: "dev-1", keys: { "dev-1": randomBytes(32).toString("base64") } });
  const rootToken = `hush_${randomBytes(30).toString("base64url")}`;
  writeFileSync(varsFile, `MASTER_KEYS='${masterKeys}'\nROOT_TOKEN='${rootToken}'\n`, { mode: 0o600 });
  console.log("Created .dev.vars with a new random MASTER_KEYS and ROOT_TOKEN (keep it private; it is gitignored).");
}
const vars = Object.fromEntries(
  readFileSync(varsFile, "utf8")
    .split("\n")
    .map((line) => line.match(/^([A-Z_]+)\s*=\s*'?(.*?)'?\s*$/))
    .filter(Boolean)
    .map((m) => [m[1], m[2]]),
);

// The API reference's renderer (swagger-ui-dist) into public/docs/vendor/, served as static assets.
vendorDocs();

// Every D1 database of wrangler.jsonc (tenants spread over DB, DB_1, ...: docs/decisions.md).
const databaseNames = [...readFileSync(join(root, "wrangler.jsonc"), "utf8").matchAll(/"database_name"\s*:\s*"([^"]+)"/g)].map((m) => m[1]);
for (const name of databaseNames) {
  const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", name, "--local"], {
    cwd: root,
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
    encoding: "utf8",
  });
  if (migrate.status !== 0) {
    process.stderr.write(migrate.stdout + migrate.stderr);
    process.exit(migrate.status ?? 1);
  }
}

const addr = `http://127.0.0.1:${port}`;
const banner = `
Hush dev server: ${addr}   (dev mode: local D1 in .wrangler/, keys in .dev.vars)

  Root token:  ${vars.ROOT_TOKEN}

  export HUSH_ADDR=${addr} HUSH_TOKEN='${vars.ROOT_TOKEN}'
  curl -s -X POST "$HUSH_ADDR/api/v1/secrets/store/app/db/password" \\
       -H "Authorization: Bearer $HUSH_TOKEN" -H 'content-type: application/json' \\
       -d '{"value":"correct horse battery staple"}'

  API reference: ${addr}/docs
`;

const child = spawn(wrangler, ["dev", "--ip", "127.0.0.1", "--port", port, "--show-interactive-dev-session=false"], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM"])) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 0)));

// The banner comes once the server answers, so the curl in it works when it is read.
for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
  const up = await fetch(`${addr}/healthz`).then(
    (r) => r.ok,
    () => false,
  );
  if (up) {
    console.log(banner);
    break;
  }
  await new Promise((r) => setTimeout(r, 250));
}
