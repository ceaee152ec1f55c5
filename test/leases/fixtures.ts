// Shared between the node-side global setup and the workerd suites: constants only.

/** The HMAC key the local webhook receiver checks (test-only). */
export const WEBHOOK_SIGNING_KEY = "test-webhook-signing-key-0123456789abcdef";
/** Ports 8830-8839 belong to this feature's test servers. */
export const WEBHOOK_PORT = Number(process.env.HUSH_TEST_WEBHOOK_PORT ?? 8831);
/** A role the issued PostgreSQL logins are granted; it may read `hush_probe`. */
export const PG_READER_ROLE = "hush_test_reader";
export const PG_PROVISIONER = "hush_test_provisioner";
export const PG_DATABASE = "hush_leases_test";

declare module "vitest" {
  export interface ProvidedContext {
    webhookUrl: string;
    pgProvisionerUrl: string;
  }
}
