// Worker secrets are declared in wrangler.jsonc (`secrets.required`) but optional here: a missing one answers 503, never a crash.
interface HushSecrets {
  /** JSON: {"active": "<id>", "keys": {"<id>": "<base64 of 32 random bytes>"}} */
  MASTER_KEYS?: string;
  /** The operator credential; administers tenant `default` and every tenant. */
  ROOT_TOKEN?: string;
  /** Rows per master-key re-wrap message (default 100, at most 500). */
  REWRAP_PAGE_SIZE?: string;
}
interface Env extends HushSecrets {}
declare namespace Cloudflare {
  interface Env extends HushSecrets {}
}
