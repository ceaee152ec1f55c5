// Share benchmarks (issue 4): create and redeem throughput with p99, and how many concurrent
// redeem attempts one ShareObject absorbs. Serves the production bundle like bench/run.mjs.
//   node bench/shares.mjs            (BENCH_PORT, BENCH_DURATION, BENCH_ROUNDS as in bench/README.md)
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { call, createToken, inParallel } from "./lib/api.mjs";
import { appendSection, fmt, table } from "./lib/results.mjs";
import { benchSecrets, buildBundle, OUT, startHush } from "./lib/servers.mjs";
import { median, runWrk } from "./lib/wrk.mjs";

const port = Number(process.env.BENCH_PORT ?? 8860);
const duration = process.env.BENCH_DURATION ?? "10s";
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
/** Shares seeded for the redeem run; each allows 10 views, so a run can spend up to 10x this. */
const REDEEM_SHARES = Number(process.env.BENCH_REDEEM_SHARES ?? 400);

const secrets = benchSecrets();
const hush = await startHush({ port, scriptPath: buildBundle(), secrets, stateName: "shares" });
const rows = [];
try {
  const token = await createToken(hush.url, secrets.ROOT_TOKEN, ["secrets:read", "secrets:write"]);
  const ciphertext = Buffer.alloc(12 + 48 + 16, 7).toString("base64url");
  const wrk = (script, env, connections = 10) => runWrk({ url: hush.url, pid: hush.pid, script, env, duration, connections });
  const row = (scenario, runs) => {
    const pick = (k) => median(runs.map((r) => r[k]));
    rows.push({
      scenario,
      "req/s (median)": fmt(pick("rps"), 0),
      "p50 ms": fmt(pick("p50_ms")),
      "p99 ms": fmt(pick("p99_ms")),
      "workerd CPU ms/req": runs[0].cpu_ms_per_req === undefined ? "–" : fmt(pick("cpu_ms_per_req")),
      "non-2xx": runs.map((r) => r.non2xx).join(" / "),
      "socket errors": runs.map((r) => r.socketErrors).join(" / "),
    });
  };
  const repeat = async (fn) => {
    const runs = [];
    for (let i = 0; i < rounds; i++) runs.push(await fn(i));
    return runs;
  };

  row(
    "POST /api/v1/secrets/shares (server-sealed create)",
    await repeat(() =>
      wrk("post.lua", {
        BENCH_PATH: "/api/v1/secrets/shares",
        BENCH_BODY: JSON.stringify({ value: "postgres://app:" + "x".repeat(24) + "@db:5432/app" }),
        BENCH_TOKEN: token,
      }),
    ),
  );
  row(
    "POST /api/v1/shares (e2e create, with a token: not rate-limited)",
    await repeat(() => wrk("post.lua", { BENCH_PATH: "/api/v1/shares", BENCH_BODY: JSON.stringify({ ciphertext }), BENCH_TOKEN: token })),
  );

  row(
    `POST /api/v1/secrets/shares/redeem (${REDEEM_SHARES} shares in turn)`,
    await repeat(async (round) => {
      const tokens = [];
      await inParallel(REDEEM_SHARES, 8, async () => {
        tokens.push((await call(hush.url, "POST", "/api/v1/secrets/shares", { token, body: { value: "s3cr3t", max_views: 10 } })).token);
      });
      const file = join(OUT, `share-tokens-${round}.txt`);
      writeFileSync(file, tokens.join("\n"));
      return wrk("share-redeem.lua", { BENCH_TOKENS_FILE: file });
    }),
  );

  // One object under concurrent attempts: 10 succeed and the rest are 410 (the non-2xx column);
  // the share must end viewed with 0 views left.
  for (const connections of [10, 50]) {
    const checks = [];
    row(
      `one ShareObject, ${connections} concurrent redeems (10 views, then 410)`,
      await repeat(async (round) => {
        const share = await call(hush.url, "POST", "/api/v1/secrets/shares", { token, body: { value: "hot", max_views: 10 } });
        const file = join(OUT, `share-hot-${connections}-${round}.txt`);
        writeFileSync(file, share.token);
        const run = await wrk("share-redeem.lua", { BENCH_TOKENS_FILE: file }, connections);
        const after = await call(hush.url, "GET", `/api/v1/secrets/shares/${share.id}`, { token });
        checks.push(`${after.state}, ${after.views_left} views left`);
        return run;
      }),
    );
    rows[rows.length - 1].scenario += ` [${checks.join("; ")}]`;
  }
} finally {
  await hush.stop();
}

const section = appendSection({
  title: "Shares: create, redeem, one hot object",
  command: [
    ...Object.entries(process.env)
      .filter(([k]) => k.startsWith("BENCH_"))
      .map(([k, v]) => `${k}=${v}`),
    "node bench/shares.mjs",
  ].join(" "),
  body: `Load: wrk -t 1 -c 10 (or 50) -d ${duration}, ${rounds} round(s); a token with secrets:write creates; redeems use only the share token. Every request is audited (D1 batch), failures included.

${table(rows)}`,
});
console.log(section);
