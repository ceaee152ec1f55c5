// Global setup of the node project: which Chromium the browser suites launch (test/support/chromium.ts).
import type { TestProject } from "vitest/node";
import { ensureChromium, type ChromiumBinary } from "../support/chromium";

declare module "vitest" {
  export interface ProvidedContext {
    chromium: ChromiumBinary;
  }
}

export default async function setup(project: TestProject) {
  project.provide("chromium", await ensureChromium());
}
