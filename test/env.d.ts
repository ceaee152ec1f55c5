interface HushTestBindings {
  TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
}
interface Env extends HushTestBindings {}
declare namespace Cloudflare {
  interface Env extends HushTestBindings {}
}
