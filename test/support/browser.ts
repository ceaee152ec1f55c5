import { chromium, type Browser } from "playwright-core";
import { inject } from "vitest";

/**
 * The suite's Chromium (the machine's, or the one from npm: see chromium.ts), launched headless
 * with the flags this machine needs. Call it in a beforeAll of a node-project suite.
 */
export function launchChromium(): Promise<Browser> {
  const binary = inject("chromium");
  return chromium.launch({
    executablePath: binary.executablePath,
    env: { ...process.env, ...binary.env },
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}
