// Credentials the sync contract server (global-setup.ts) accepts: test-only values.
export const SYNC_FIXTURES = {
  githubToken: "ghp_testtoken0123456789abcdefghijklmnop",
  githubAppId: "424242",
  githubInstallationId: "31337",
  awsAccessKeyId: "AKIATESTSYNC0000000A",
  awsSecretAccessKey: "testSecretAccessKey/0123456789abcdefghijKL",
  awsRegion: "eu-west-1",
  k8sToken: "k8s-test-bearer-token-0123456789",
  cfToken: "cf-test-api-token-0123456789abcdef",
  cfAccount: "0123456789abcdef0123456789abcdef",
  webhookKey: "sync-webhook-signing-key-0123456789abcdef",
} as const;

declare module "vitest" {
  export interface ProvidedContext {
    syncServerUrl: string;
    /** The GitHub App's private key (PKCS#1 PEM), generated per run by global-setup.ts. */
    githubAppKey: string;
  }
}
