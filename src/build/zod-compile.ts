// Bundled in place of zod's `core/compile.js` (wrangler.jsonc `alias`): zod 4.6's optional
// ahead-of-time compiler (`z.compile`, `import "zod/compile"`), 8 KiB gzipped that the bundler
// cannot drop because `core/index.js` re-exports it. Hush never compiles a schema: every schema
// parses on zod's runtime parser. `compile()` behaves as zod documents it for a schema its fast path
// cannot model (the schema back, unchanged; with `strict` the refusal is thrown); the rest refuse.
export const INVALID = Symbol.for("zod.compile.invalid");

export class ZodCompileAsyncError extends Error {
  constructor(message = "z.compile does not support async refinements, transforms, or checks") {
    super(message);
    this.name = "ZodCompileAsyncError";
  }
}

export class ZodCompileUnsupportedError extends Error {
  islandable: boolean;
  constructor(feature = "this build (src/build/zod-compile.ts)", islandable = true) {
    super(`z.compile does not support ${feature}; this schema must use the runtime parser`);
    this.name = "ZodCompileUnsupportedError";
    this.islandable = islandable;
  }
}

export function compile<T>(schema: T, options?: { strict?: boolean }): T {
  if (options?.strict) throw new ZodCompileUnsupportedError();
  return schema;
}

export function withParser(): never {
  throw new ZodCompileUnsupportedError();
}

export function compileFn(): never {
  throw new ZodCompileUnsupportedError();
}
