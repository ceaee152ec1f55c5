// Bundled in place of zod's `classic/from-json-schema.js` (wrangler.jsonc `alias`): `z.fromJSONSchema`,
// building zod schemas from JSON Schema at runtime, 5 KiB gzipped kept only because `z` re-exports it.
// Hush's schemas are written in TypeScript; nothing builds one from JSON Schema.
export function fromJSONSchema(): never {
  throw new Error("z.fromJSONSchema is not in this build (src/build/zod-from-json-schema.ts)");
}
