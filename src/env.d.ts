// Worker secrets are not in wrangler.toml, so `wrangler types` cannot see them.
interface HushSecrets {
  /** JSON: {"active": "<id>", "keys": {"<id>": "<base64 of 32 random bytes>"}} */
  MASTER_KEYS?: string;
  /** The operator credential; administers tenant `default` and every tenant. */
  ROOT_TOKEN?: string;
}
interface Env extends HushSecrets {}
declare namespace Cloudflare {
  interface Env extends HushSecrets {}
}
