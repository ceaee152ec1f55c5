// `hush run`: a child process with secrets in its environment (never in argv, never
// printed), signals forwarded, and the child's exit code returned.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { encodePath } from "../lib/api.mjs";
import { api, command, examples } from "../lib/context.mjs";
import { CliError, usageError } from "../lib/errors.mjs";
import { envName } from "../lib/formats.mjs";
import { info, parseDuration } from "../lib/output.mjs";
import { issueLease, parseLeaseSpec, renewableSeconds } from "../lib/leases.mjs";
import { project } from "../lib/project.mjs";
import { hushOnly, listAlong, readAlong, readChain } from "../lib/providers/index.mjs";
import { isUnavailable } from "../lib/providers/common.mjs";
import { snapshotFor } from "../lib/snapshot.mjs";
import { listAll, PROVIDER_HELP } from "./secrets.mjs";
import { requestCertificate, writeIdentity } from "./pki.mjs";

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LEASE_FIELDS = new Set(["lease_id", "id", "provider", "role", "state", "expires_at", "issued_at", "renewable", "ttl_seconds", "max_ttl_seconds"]);

const collect = (value, previous) => [...previous, value];

/** A path from .hush.yaml's run mappings, under the project's prefix when it has one. */
const underPrefix = (path) => {
  const prefix = project().prefix;
  return prefix ? `${prefix.replace(/\/+$/, "")}/${path}` : path;
};

/** NAME -> path from .hush.yaml's run.secrets, every path under --prefix, and --secret NAME=path (in that order; later wins). */
async function secretPaths(opts, names) {
  const mapping = new Map();
  for (const [name, path] of Object.entries(project().run.secrets)) mapping.set(name, underPrefix(path));
  const fromFile = mapping.size > 0;
  const wantedPrefix = opts.prefix ?? (!fromFile && opts.secret.length === 0 && !opts.lease ? project().prefix : undefined);
  if (wantedPrefix) {
    const prefix = wantedPrefix.replace(/\/?$/, "/");
    const items = hushOnly(names) ? await listAll({ prefix }) : await listAlong(names, { prefix });
    for (const s of items) mapping.set(envName(s.path.slice(prefix.length)), s.path);
  }
  for (const pair of opts.secret) {
    const eq = pair.indexOf("=");
    const name = pair.slice(0, eq);
    if (eq < 1 || !ENV_NAME.test(name) || eq === pair.length - 1) {
      throw usageError(`--secret ${pair} is not NAME=path`, "Write --secret DB_PASSWORD=app/db/password");
    }
    mapping.set(name, pair.slice(eq + 1));
  }
  if (mapping.size === 0 && !opts.lease && !opts.cert)
    throw usageError("Nothing to inject", "Add --secret NAME=path, --prefix P, --lease provider/role or --cert role");
  return mapping;
}

/** Environment variables for a lease's credential: HUSH_LEASE_ID, HUSH_LEASE_<FIELD>, HUSH_LEASE_CREDENTIAL. */
export function leaseEnv(lease) {
  const credential = lease.credential ?? Object.fromEntries(Object.entries(lease).filter(([k]) => !LEASE_FIELDS.has(k)));
  const env = { HUSH_LEASE_ID: lease.lease_id ?? lease.id, HUSH_LEASE_EXPIRES_AT: lease.expires_at ?? "" };
  if (typeof credential === "string") {
    env.HUSH_LEASE_CREDENTIAL = credential;
  } else {
    env.HUSH_LEASE_CREDENTIAL = JSON.stringify(credential);
    for (const [key, value] of Object.entries(credential)) {
      if (typeof value === "string" || typeof value === "number") env[`HUSH_LEASE_${envName(key)}`] = String(value);
    }
  }
  return env;
}

/** Issues a lease and keeps it alive until stop() revokes it (never past the role's maximum). */
async function startLease(spec, ttlSeconds) {
  const { provider, role } = parseLeaseSpec(spec, "--lease");
  const issued = await issueLease(provider, role, ttlSeconds);
  const lease = issued.lease;
  const id = lease.lease_id ?? lease.id;
  const base = `/api/v1/secrets/leases/${encodeURIComponent(id)}`;
  let timer;
  const schedule = (current) => {
    const left = Date.parse(current.expires_at) - Date.now();
    const extend = Math.min(issued.ttlSeconds, renewableSeconds({ ...lease, ...current }) ?? issued.ttlSeconds);
    if (!lease.renewable || !(left > 0) || !(extend > 0)) return;
    // Renew at two thirds of the remaining time, so one failed attempt still leaves time.
    timer = setTimeout(
      async () => {
        try {
          schedule(await api().post(`${base}/renew`, { extend_seconds: extend }));
        } catch (err) {
          info(`Warning: could not renew lease ${id}: ${err.message}`);
        }
      },
      Math.max(1000, (left * 2) / 3),
    );
    timer.unref();
  };
  schedule(lease);
  return {
    env: leaseEnv(lease),
    async stop() {
      clearTimeout(timer);
      try {
        await api().post(`${base}/revoke`, {});
      } catch (err) {
        info(`Warning: could not revoke lease ${id} (it expires on its own at ${lease.expires_at}): ${err.message}`);
      }
    },
  };
}

/** The mapping's values from the Hush server, each failure named with its variable and path. */
function fetchFromHush(mapping, opts) {
  return Promise.all(
    [...mapping].map(async ([name, path]) => {
      try {
        const secret = await api().get(`/api/v1/secrets/store/${encodePath(path)}`, { query: { resolve: opts.resolve && "true" } });
        return [name, secret.value];
      } catch (err) {
        // Name the variable and the path: with several --secret options "not found" alone says nothing.
        if (err instanceof CliError) {
          err.message = `${name}: ${err.status === 404 ? `no secret at ${path}` : `cannot read ${path}: ${err.message}`}`;
          if (err.status === 404)
            err.hint = `Check the path in --secret ${name}=${path} with \`hush list --prefix ${path.split("/").slice(0, -1).join("/") || path}\``;
        }
        throw err;
      }
    }),
  );
}

/** Revokes a lease; a failure is a warning (the lease still expires on its own). */
async function revokeLease(id, expiresAt) {
  try {
    await api().post(`/api/v1/secrets/leases/${encodeURIComponent(id)}/revoke`, {});
  } catch (err) {
    info(`Warning: could not revoke lease ${id} (it expires on its own at ${expiresAt}): ${err.message}`);
  }
}

/**
 * Issues a certificate from a PKI role into a private temporary directory (0700: cert.pem,
 * key.pem 0600, ca.pem); stop() revokes it through its lease and removes the directory.
 */
async function startCertificate(role, opts) {
  const result = await requestCertificate(role, { cn: opts.certCn, san: opts.certSan, ttl: opts.certTtl, ttlOption: "--cert-ttl" });
  let dir;
  try {
    dir = mkdtempSync(join(tmpdir(), "hush-cert-")); // mkdtemp creates it 0700
    const files = writeIdentity(dir, result);
    return {
      env: {
        HUSH_CERT_FILE: files.certPath,
        HUSH_KEY_FILE: files.keyPath,
        HUSH_CA_FILE: files.caPath,
        HUSH_CERT_SERIAL: result.serial_number,
        HUSH_CERT_LEASE_ID: result.lease_id,
        HUSH_CERT_EXPIRES_AT: result.expires_at,
      },
      async stop() {
        rmSync(dir, { recursive: true, force: true });
        await revokeLease(result.lease_id, result.expires_at);
      },
    };
  } catch (err) {
    // Never leave a key on disk or a certificate live because the files could not be written.
    if (dir) rmSync(dir, { recursive: true, force: true });
    await revokeLease(result.lease_id, result.expires_at);
    throw err;
  }
}

export function register(program) {
  const run = command(program, "run", "run a command with secrets in its environment")
    .argument("<command...>", "the command and its arguments (after --)")
    .option("--secret <NAME=path>", "inject a secret as NAME (repeatable)", collect, [])
    .option("--prefix <prefix>", "inject every secret under a prefix, named from the rest of its path (db/password -> DB_PASSWORD)")
    .option("--resolve", "expand ${secret.other/path} references")
    .option("--lease <provider/role>", "issue a lease for the child, renew it while it runs, revoke it when it exits")
    .option("--lease-ttl <duration>", "the lease's time to live, like 15m (default: the role's maximum, at most 1h)")
    .option(
      "--cert <role>",
      "issue a certificate from a PKI role for the child (HUSH_CERT_FILE, HUSH_KEY_FILE, HUSH_CA_FILE), revoke it and delete the files when it exits",
    )
    .option("--cert-cn <name>", "the certificate's common name")
    .option("--cert-san <name>", "a subject alternative name for the certificate (repeatable; IPs and URIs are sorted out)", collect, [])
    .option("--cert-ttl <duration>", "the certificate's time to live, like 15m (default: the role's)")
    .option("--pass-token", "also pass HUSH_TOKEN to the command (by default the child does not get your token)")
    .option("--provider <name>", `${PROVIDER_HELP}; without it, each secret is read along the chain`)
    .option("--fallback", "keep an encrypted snapshot of each successful fetch, and use it when the providers cannot be reached")
    .option("--fallback-max-age <duration>", "the oldest snapshot --fallback may use, like 24h (default: run.fallbackMaxAge in .hush.yaml, else 24h)")
    .passThroughOptions()
    .action(async (argv, opts) => {
      const names = readChain(opts);
      const fallback = opts.fallback
        ? { maxAgeSeconds: opts.fallbackMaxAge ? parseDuration(opts.fallbackMaxAge, "--fallback-max-age") : project().run.fallbackMaxAgeSeconds }
        : null;
      let mapping;
      try {
        mapping = await secretPaths(opts, names);
      } catch (err) {
        // --prefix needs a listing; without a server there is nothing to list, so name the way out.
        if (fallback && isUnavailable(err))
          err.hint =
            "With --fallback, name the secrets (--secret NAME=path or run.secrets in .hush.yaml): a --prefix cannot be listed while the server is down";
        throw err;
      }
      const fetchAll = () =>
        hushOnly(names)
          ? fetchFromHush(mapping, opts)
          : Promise.all(
              [...mapping].map(async ([name, path]) => [name, (await readAlong(names, path, { resolve: opts.resolve }, { label: `${name} (${path})` })).value]),
            );
      let entries;
      const snapshot =
        fallback && mapping.size
          ? snapshotFor({ addr: names.includes("hush") ? api().settings.addr : null, names, mapping, maxAgeSeconds: fallback.maxAgeSeconds })
          : null;
      try {
        entries = await fetchAll();
        snapshot?.save(entries);
      } catch (err) {
        // Only an outage is covered: a denied token, a deleted secret or a typo must fail as they are.
        if (!snapshot || !isUnavailable(err)) throw err;
        entries = snapshot.load(err);
      }
      const lease = opts.lease ? await startLease(opts.lease, opts.leaseTtl && parseDuration(opts.leaseTtl, "--lease-ttl")) : null;
      let cert = null;
      try {
        cert = opts.cert ? await startCertificate(opts.cert, opts) : null;
      } catch (err) {
        await lease?.stop();
        throw err;
      }
      // The child gets its secrets, not the caller's Hush token (often a powerful one), unless asked.
      const inherited = { ...process.env };
      if (!opts.passToken) delete inherited.HUSH_TOKEN;
      const env = { ...inherited, ...Object.fromEntries(entries), ...lease?.env, ...cert?.env };

      const child = spawn(argv[0], argv.slice(1), { stdio: "inherit", env });
      // In a terminal, Ctrl-C and Ctrl-\ already reach the child (same foreground process group):
      // forwarding them too would deliver them twice, which many programs read as "force quit".
      const interactive = process.stdin.isTTY;
      const forward = (signal) => {
        if (!(interactive && (signal === "SIGINT" || signal === "SIGQUIT"))) child.kill(signal);
      };
      for (const signal of FORWARDED) process.on(signal, forward);
      const outcome = await new Promise((resolve) => {
        child.on("error", (err) => resolve({ error: err }));
        child.on("exit", (code, signal) => resolve({ code, signal }));
      });
      for (const signal of FORWARDED) process.off(signal, forward);
      await Promise.all([lease?.stop(), cert?.stop()]);
      if (outcome.error) {
        throw new CliError(`Could not start ${argv[0]}: ${outcome.error.code ?? outcome.error.message}`, {
          hint: outcome.error.code === "ENOENT" ? "Check the command name and your PATH" : undefined,
          exitCode: outcome.error.code === "ENOENT" ? 127 : 126,
        });
      }
      // Shell convention: a child killed by a signal exits 128 + its number.
      process.exitCode = outcome.signal ? 128 + (constants.signals[outcome.signal] ?? 0) : outcome.code;
    });
  examples(run, [
    "hush run --secret DATABASE_URL=app/db/url --secret STRIPE_KEY=app/stripe -- node server.js",
    "hush run --prefix app/prod -- ./deploy.sh",
    "hush run --lease app-db/reader -- psql",
    "hush run --fallback --secret DATABASE_URL=app/db/url -- node server.js",
    "hush run --cert web --cert-cn api.internal --cert-san 127.0.0.1 -- node server.js",
  ]);
}
