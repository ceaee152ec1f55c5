// Bundled in place of zod's `locales/index.js` (wrangler.jsonc `alias`): zod re-exports all of its
// 60-odd locales as `z.locales`, and because libraries pass the `z` namespace around, the bundler
// cannot drop them (260 KiB of the bundle). Hush answers in English only; English stays registered
// by zod's own schemas module, and `z.locales.en` still works.
export { default as en } from "zod/v4/locales/en.js";
