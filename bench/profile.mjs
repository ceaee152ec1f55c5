#!/usr/bin/env node
// CPU profile of the Hush bundle under wrk load, through workerd's inspector (V8 CDP).
// Prints self time by function and writes bench/out/hush.cpuprofile (open it in Chrome DevTools).
//   node bench/profile.mjs [read|write]     BENCH_DURATION=8s  BENCH_PORT=8860 (inspector: +2)
//   BENCH_BUNDLE=path/index.js profiles that bundle (e.g. one built with `wrangler deploy --dry-run --minify=false`, for readable names)
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createToken, seedHush } from "./lib/api.mjs";
import { benchSecrets, buildBundle, OUT, startHush } from "./lib/servers.mjs";
import { runWrk } from "./lib/wrk.mjs";

const scenario = process.argv[2] ?? "read";
const PORT = Number(process.env.BENCH_PORT ?? 8860);
const secrets = benchSecrets();
const hush = await startHush({ port: PORT, scriptPath: process.env.BENCH_BUNDLE ?? buildBundle(), secrets, inspectorPort: PORT + 2 });
try {
  const token = await createToken(hush.url, secrets.ROOT_TOKEN, ["secrets:read", "secrets:write"], ["bench/*"]);
  await seedHush(hush.url, token, "bench/s", 200);
  const env = { BENCH_PREFIX: "/api/v1/secrets/store/bench/s", BENCH_COUNT: "200", BENCH_TOKEN: token };
  await runWrk({ url: hush.url, script: `${scenario}.lua`, duration: "3s", env }); // warm up

  const targets = /** @type {any[]} */ (await (await fetch(`http://127.0.0.1:${PORT + 2}/json/list`)).json());
  const target = targets.find((t) => /hush/.test(t.id) || /hush/.test(t.title)) ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
  let id = 0;
  const pending = new Map();
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    pending.get(message.id)?.(message.result);
  };
  const send = (method, params = {}) =>
    new Promise((resolve) => {
      pending.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 200 });
  await send("Profiler.start");
  const load = await runWrk({ url: hush.url, script: `${scenario}.lua`, duration: process.env.BENCH_DURATION ?? "8s", env });
  const { profile } = await send("Profiler.stop");
  ws.close();
  writeFileSync(join(OUT, "hush.cpuprofile"), JSON.stringify(profile));

  // Self time per function, and inclusive time of a few markers.
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = new Map();
  profile.samples.forEach((nodeId, i) => dt.set(nodeId, (dt.get(nodeId) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...dt.values()].reduce((a, b) => a + b, 0);
  for (const [nodeId, us] of dt) {
    const f = byId.get(nodeId).callFrame;
    const key = `${f.functionName || "(anonymous)"} ${f.url.split("/").pop()}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + us);
  }
  console.log(
    `${load.requests} requests, ${(load.rps).toFixed(0)} req/s; profile ${(total / 1000).toFixed(0)} ms; per request ${(total / 1000 / load.requests).toFixed(2)} ms sampled`,
  );
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / load.requests / 1000).toFixed(3)} ms/req  ${key}`);
  }

  // Inclusive time of each function of the bundle (a sample counts once per function on its stack).
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const inclusive = new Map();
  for (const [nodeId, us] of dt) {
    const seen = new Set();
    for (let at = nodeId; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at).callFrame;
      if (!f.url.endsWith("index.js") || !f.functionName) continue;
      const key = `${f.functionName}:${f.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  console.log("\ninclusive (bundle functions):");
  for (const [key, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / load.requests / 1000).toFixed(3)} ms/req  ${key}`);
  }
} finally {
  await hush.stop();
}
