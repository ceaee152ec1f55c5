// Global setup of the node project (besides the `wrangler dev` of test/node/dev-server.ts): the
// Chromium the browser suites launch (test/support/chromium.ts) and which servers that npm cannot
// provide answer (test/support/service-list.ts).
import type { TestProject } from "vitest/node";
import { ensureChromium, type ChromiumBinary } from "./chromium";
import { probeServices } from "./services";

declare module "vitest" {
  export interface ProvidedContext {
    chromium: ChromiumBinary;
  }
}

export default async function setup(project: TestProject) {
  project.provide("chromium", await ensureChromium());
  project.provide("services", await probeServices());
}
