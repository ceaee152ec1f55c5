/**
 * Every problem `type` the service emits, with the page `/problems/<type>` serves for it.
 * `Problem` only accepts a key of this table, so a new type cannot ship without its page
 * (the type check fails), and test/node/problem-pages.test.ts fetches every page.
 */
export interface ProblemTypeDoc {
  /** The HTTP statuses this type is sent with. */
  status: readonly number[];
  /** A short human title (the document's own `title` is the status text). */
  summary: string;
  /** What happened and what to do about it. Plain text. */
  description: string;
}

export const PROBLEM_TYPES = {
  // Requests
  "validation-failed": {
    status: [400],
    summary: "The request body, path or query is not valid",
    description:
      "A field is missing, has the wrong type or is out of range. The `errors` member lists each field with a code and a message; fix those and send the request again.",
  },
  "invalid-request": {
    status: [400],
    summary: "The request is not valid",
    description:
      "The request is well formed but asks for something that cannot be done as sent (for example a bad path or a combination of fields that excludes each other). `detail` says which.",
  },
  "malformed-request": {
    status: [400],
    summary: "The request could not be parsed",
    description: "The body is not valid JSON, or a header could not be read. Send a JSON body with `content-type: application/json`.",
  },
  "body-too-large": {
    status: [413],
    summary: "The request body is too large",
    description: "Request bodies are limited to 1 MiB (16 MiB for imports, 4 MiB for transit). Split the request.",
  },
  "unsupported-media-type": {
    status: [415],
    summary: "The body is not JSON",
    description: "Every request with a body must send it as `application/json`.",
  },
  "method-not-allowed": {
    status: [405],
    summary: "The route exists but not with this method",
    description: "The `Allow` header lists the methods the route answers.",
  },
  "not-found": {
    status: [404],
    summary: "No such resource",
    description:
      "The resource does not exist, or belongs to another tenant (Hush answers 404, never 403, for another tenant's resources). Check the path and the token's tenant.",
  },
  "http-error": {
    status: [400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503],
    summary: "An HTTP error without a more specific type",
    description: "The status code says what went wrong; `detail` may say more.",
  },
  "internal-error": {
    status: [500],
    summary: "An unexpected error",
    description:
      "Something failed inside the service. Nothing about the request is shown; quote the `request_id` to an operator, who finds the details in the logs.",
  },
  conflict: {
    status: [409],
    summary: "The resource changed while the request ran",
    description: "Another request changed the same resource at the same time, and this one was not applied. Read the resource again and retry.",
  },
  "rate-limited": {
    status: [429],
    summary: "Too many requests",
    description: "Wait the number of seconds in `Retry-After` before trying again.",
  },

  // Idempotency
  "invalid-idempotency-key": {
    status: [400],
    summary: "The Idempotency-Key header is not valid",
    description: "An `Idempotency-Key` is 1 to 255 printable ASCII characters.",
  },
  "idempotency-key-reused": {
    status: [422],
    summary: "The Idempotency-Key was used for a different request",
    description: "A key names one request: the same key with another method, path or body is refused. Use a new key for a new request.",
  },
  "request-in-flight": {
    status: [409],
    summary: "A request with this Idempotency-Key is still running",
    description: "Retry after the `Retry-After` delay; you will then get the first request's stored response.",
  },

  // Authentication and access
  unauthorized: {
    status: [401],
    summary: "No valid credential",
    description: "The `Authorization: Bearer <token>` header is missing, or the token is unknown, expired or revoked. Get a new token (or log in again).",
  },
  "too-many-failed-attempts": {
    status: [429],
    summary: "Too many failed authentication attempts",
    description:
      "Ten failed authentications a minute from one client address, or with one token prefix, lock it out for the rest of the minute. Wait `Retry-After` seconds and check the token.",
  },
  forbidden: {
    status: [403],
    summary: "The token may not do this",
    description:
      "The token is valid but lacks the scope, policy capability or path this action needs. The denial is audited. Ask an administrator for a token that holds it.",
  },
  "service-not-allowed": {
    status: [403],
    summary: "This caller is not one of the secret's allowed services",
    description: "The secret lists `allowed_services`, and the token's subject is not among them.",
  },
  csrf: {
    status: [403],
    summary: "The console request failed its cross-site check",
    description: "Console calls must come from the console page itself, with its CSRF token. Reload the console.",
  },
  "approval-required": {
    status: [403],
    summary: "The action needs approval (dual control)",
    description:
      "An approval policy covers this action. The response names the approval request; once the required approvers approve it, retry the same request.",
  },
  "approval-consumed": {
    status: [410],
    summary: "The approval was already used",
    description: "An approval permits one action. Retry the action to open a new request.",
  },
  "approval-expired": {
    status: [410],
    summary: "The approval request expired",
    description: "Retry the action to open a new approval request.",
  },
  "role-exists": {
    status: [409],
    summary: "A login role of that name exists",
    description: "Delete the role first to replace it.",
  },
  "tenant-exists": {
    status: [409],
    summary: "A tenant with that id exists",
    description: "Tenant ids are unique; pick another id or use the existing tenant.",
  },

  // Master key and stored data
  "master-key-unavailable": {
    status: [503],
    summary: "The service has no usable master key",
    description:
      "`MASTER_KEYS` is missing or malformed, so nothing is read or written (Hush fails closed). An operator sets it with `wrangler secret put MASTER_KEYS`.",
  },
  "master-key-removed": {
    status: [500],
    summary: "The data is sealed under a master key that is no longer configured",
    description:
      "Add the key named in `key_id` back to `MASTER_KEYS`, run `POST /api/v1/sys/rewrap`, and remove the old key only when the rewrap has finished.",
  },
  "integrity-failure": {
    status: [500],
    summary: "Stored data failed its integrity check",
    description: "A sealed value did not authenticate: it was altered or corrupted in storage. The event is audited; an operator should investigate.",
  },

  // Secret store
  "secret-exists": {
    status: [409],
    summary: "The secret already exists",
    description: "`POST` creates a secret only once. `PUT` writes its next version.",
  },
  "secrets-exist": {
    status: [409],
    summary: "Some paths of the import already exist",
    description: "An import is all or nothing: `conflicts` lists the paths that exist, and nothing was written.",
  },
  "version-conflict": {
    status: [409],
    summary: "The secret is not at the expected version",
    description: "The write was conditional (`cas`) and the current version is another (`current_version`). Read the secret again and decide.",
  },
  "version-not-found": {
    status: [404],
    summary: "No such version",
    description: "The versions in `versions` do not exist for this secret.",
  },
  "version-destroyed": {
    status: [410],
    summary: "The version was destroyed",
    description: "Destroyed versions are crypto-shredded and cannot be read or recovered.",
  },
  "version-expired": {
    status: [410],
    summary: "The old version is past its grace period",
    description:
      "After a rotation with `expire_old_after_seconds`, the previous version stops being readable at the end of the grace period. Read the current version.",
  },
  "secret-expired": {
    status: [410],
    summary: "The secret has expired",
    description: "The secret is past its `expires_at`. A token that may write it can still read it with `include_expired=true`, and should rotate it.",
  },
  "not-deleted": {
    status: [409],
    summary: "The secret is not deleted",
    description: "Only a soft-deleted secret can be undeleted.",
  },
  "value-too-large": {
    status: [413],
    summary: "The value is too large",
    description: "Secret values are at most 64 KiB of UTF-8.",
  },
  "too-many-entries": {
    status: [413],
    summary: "The import holds too many entries",
    description: "An import holds at most `max_entries` entries; split it into several imports.",
  },
  "rotation-period-required": {
    status: [422],
    summary: "Automatic rotation needs a rotation period",
    description:
      "`rotation_policy: AUTOMATIC` without `rotation_days` would never be due, so it would never rotate. Send `rotation_days` (1-3650) with it, or set it first.",
  },
  "reference-cycle": {
    status: [409],
    summary: "The secret references form a cycle",
    description: "`${secret.path}` references cannot expand because they refer back to themselves; `cycle` lists the loop.",
  },
  "reference-invalid": {
    status: [422],
    summary: "A reference names an invalid path",
    description: "A `${secret.path}` reference in the value does not name a valid secret path.",
  },
  "reference-missing": {
    status: [422],
    summary: "A referenced secret does not exist",
    description: "A `${secret.path}` reference names a secret that does not exist (or that the caller may not read).",
  },
  "reference-too-deep": {
    status: [422],
    summary: "References nest too deeply",
    description: "References expand at most 10 levels deep.",
  },
  "reference-too-large": {
    status: [422],
    summary: "The expanded value is too large",
    description: "Expanding the references would make the value larger than the limit; reference fewer or smaller secrets.",
  },

  // Shares
  "share-gone": {
    status: [410],
    summary: "The share was viewed, expired or revoked",
    description:
      "A share can be revealed only as many times as it allows and before it expires. `state` and `viewed_at` say what happened; ask the sender for a new link.",
  },
  "share-not-active": {
    status: [409],
    summary: "The share is no longer active",
    description: "Only an active share can be revoked.",
  },
  "invalid-nonce": {
    status: [403],
    summary: "The reveal nonce is unknown or used",
    description: "Fetch a new nonce from `/nonce` and reveal again.",
  },
  "nonce-expired": {
    status: [403],
    summary: "The reveal nonce expired",
    description: "Fetch a new nonce from `/nonce` and reveal again.",
  },
  "invalid-share-token": {
    status: [403],
    summary: "The share token does not match",
    description: "The token is not this share's. Use the link exactly as it was sent.",
  },
  "passphrase-required": {
    status: [403],
    summary: "The share needs a passphrase",
    description: "Send the passphrase the sender gave you as `passphrase`.",
  },
  "wrong-passphrase": {
    status: [403],
    summary: "The passphrase is wrong",
    description: "Too many wrong passphrases end the share. `attempts_left` says how many tries remain.",
  },
  "reveal-interrupted": {
    status: [409],
    summary: "The reveal did not complete",
    description: "No view was spent. Fetch a new nonce and try again.",
  },

  // Leases, providers and static rotation
  "ttl-too-long": {
    status: [400],
    summary: "The TTL is longer than the role allows",
    description: "Ask for at most the role's `max_ttl_seconds`, or leave the TTL out to get the role's maximum.",
  },
  "beyond-max-ttl": {
    status: [400],
    summary: "The renewal goes past the lease's maximum",
    description: "A lease cannot be renewed past its role's max TTL; extend by less, or issue a new lease.",
  },
  "lease-not-active": {
    status: [409],
    summary: "The lease is not active",
    description: "The lease expired or was revoked; issue a new one.",
  },
  "provider-missing": {
    status: [409],
    summary: "The lease's provider is no longer configured",
    description: "The provider that issued the lease was deleted. Configure it again to revoke the lease there.",
  },
  "provider-failed": {
    status: [502],
    summary: "The provider refused or failed",
    description:
      "The database or webhook behind the provider did not issue the credential. `detail` says why (never a credential); check the provider's health.",
  },
  "use-ephemeral-endpoint": {
    status: [400],
    summary: "Use the ephemeral API key endpoint",
    description: "Ephemeral Hush API keys are issued by `POST /api/v1/ephemeral/api-keys`.",
  },
  "not-a-database-provider": {
    status: [422],
    summary: "Static rotation needs a database provider",
    description: "Only `postgresql` and `mysql` providers can rotate bound database logins.",
  },
  "invalid-username": {
    status: [422],
    summary: "The database user name is not valid",
    description: "User names must be valid role names of the database (lower-case letters, digits and underscores).",
  },
  "not-bound": {
    status: [404],
    summary: "No database logins are bound to the secret",
    description: "Bind logins with `PUT /api/v1/secrets/rotations/static-roles` first.",
  },
  "provider-mismatch": {
    status: [409],
    summary: "The secret is bound to another provider",
    description: "A secret's logins are bound to one provider; unbind them first.",
  },
  "rotation-in-progress": {
    status: [409],
    summary: "A rotation is already running",
    description: "Wait for the running rotation of this secret to finish.",
  },
  "rotation-rolled-back": {
    status: [502],
    summary: "The rotation failed and was rolled back",
    description: "A phase of the rotation failed at the database; the old credential stays current. The response says which phase and why.",
  },
  "not-rotatable": {
    status: [422],
    summary: "The login cannot be rotated",
    description: "The provider cannot rotate this login as configured; `detail` says why.",
  },
  "stale-ref": {
    status: [409],
    summary: "The reference is not the current one",
    description: "Another rotation moved on; `current_ref` is the current reference.",
  },

  // Transit
  "key-exists": {
    status: [409],
    summary: "The transit key exists",
    description: "Rotate the key to add a version instead of creating it again.",
  },
  "deletion-not-allowed": {
    status: [409],
    summary: "The key may not be deleted",
    description: "The key has `deletion_allowed: false`; PATCH it to true first.",
  },
  "unknown-key-version": {
    status: [400],
    summary: "The key has no such version",
    description: "The ciphertext or signature names a key version that does not exist.",
  },
  "below-min-decryption-version": {
    status: [400],
    summary: "The key version is below the minimum decryption version",
    description: "The key no longer decrypts data of this version; it should have been rewrapped before `min_decryption_version` was raised.",
  },
  "decryption-failed": {
    status: [400],
    summary: "The ciphertext does not open",
    description: "It was altered, the `context` differs from the one used to encrypt, or it belongs to another key.",
  },
  "unsupported-operation": {
    status: [400],
    summary: "The key type does not support this operation",
    description: "For example, an encryption key cannot sign; create a key of the right type.",
  },
  "invalid-ciphertext": {
    status: [400],
    summary: "The ciphertext is not in Hush's form",
    description: "Transit ciphertexts look like `hush:v<version>:<base64>`, exactly as encrypt returned them.",
  },
  "invalid-hmac": {
    status: [400],
    summary: "The HMAC is not in Hush's form",
    description: "Transit HMACs look like `hush:v<version>:<base64>`, exactly as hmac returned them.",
  },
  "invalid-signature": {
    status: [400],
    summary: "The signature is not in Hush's form",
    description: "Transit signatures look like `hush:v<version>:<base64>`, exactly as sign returned them.",
  },
  "invalid-base64": {
    status: [400],
    summary: "A field is not base64",
    description: "`plaintext`, `context` and `input` are sent base64-encoded.",
  },
  "batch-too-large": {
    status: [413],
    summary: "The batch holds too many items",
    description: "Split `batch_input` into smaller batches.",
  },

  // PKI
  "pki-role-violation": {
    status: [400],
    summary: "The certificate request breaks the role's rules",
    description: "A name, key, TTL or usage is not allowed by the PKI role; `rule` says which.",
  },
  "csr-signature": {
    status: [400],
    summary: "The CSR's signature does not verify",
    description: "A certificate signing request must be signed by its own key (proof of possession).",
  },
  "chain-mismatch": {
    status: [400],
    summary: "The chain does not link up",
    description: "Each certificate of the chain must be signed by the next one.",
  },
  "key-mismatch": {
    status: [400],
    summary: "The certificate is not for this issuer's key",
    description: "Upload the certificate that the CA issued for this issuer's CSR.",
  },
  "not-a-ca": {
    status: [400],
    summary: "The certificate is not a CA",
    description: "An issuer certificate needs basicConstraints CA:true.",
  },
  "unsupported-key": {
    status: [400],
    summary: "The key type is not supported",
    description: "Hush signs with ECDSA P-256, Ed25519 and RSA keys.",
  },
  "issuer-pending": {
    status: [409],
    summary: "The issuer waits for its signed certificate",
    description: "Upload the signed certificate (`POST /api/v1/pki/issuers/<id>/signed`) before issuing.",
  },
  "issuer-not-pending": {
    status: [409],
    summary: "The issuer is not waiting for a certificate",
    description: "Only an intermediate issuer created with a CSR takes a signed certificate.",
  },

  "approval-denied": {
    status: [410],
    summary: "The approval request was denied",
    description:
      "An approver denied this request, so it can no longer be approved or used. Retry the action to open a new request, and settle the disagreement with the approvers first.",
  },
  "compare-too-large": {
    status: [422],
    summary: "A side of the comparison holds too many secrets",
    description:
      "A compare reads every secret under both prefixes; one side holds more than the limit (`max`). Compare narrower prefixes or single environments.",
  },
  // Sync and scanning
  "invalid-private-key": {
    status: [422],
    summary: "The GitHub App private key cannot be used",
    description:
      "A GitHub App sync target needs the app's RSA private key as PEM (PKCS#1 or PKCS#8, at least 2048 bits), as GitHub lets you download it. The key is refused when the target is configured, never quoted back.",
  },
  "invalid-remote-key": {
    status: [422],
    summary: "The remote secret name is not valid for the target",
    description: "Each platform has its own naming rules for secrets; pick a `remote_key` the target accepts.",
  },
  "kind-mismatch": {
    status: [409],
    summary: "The target is of another kind",
    description: "Delete the sync target to change its kind.",
  },
  "target-in-use": {
    status: [409],
    summary: "Syncs still push to this target",
    description: "Delete the syncs that use the target first.",
  },
  "too-many-syncs": {
    status: [409],
    summary: "The tenant holds the maximum number of syncs",
    description: "Delete syncs that are no longer needed.",
  },
  "too-many-candidates": {
    status: [413],
    summary: "The scan carries too many candidates",
    description: "Split the scan into smaller ones.",
  },

  // Vault compatibility
  vault: {
    status: [400, 403, 404, 405, 409, 412, 413, 415, 422, 429, 500, 503],
    summary: "An error of the Vault-compatible API",
    description: "The `/v1/` routes answer in Vault's format: `errors` is a list of messages, as Vault clients expect. See docs/vault.md.",
  },
} as const satisfies Record<string, ProblemTypeDoc>;

export type ProblemType = keyof typeof PROBLEM_TYPES;

export const isProblemType = (name: string): name is ProblemType => Object.hasOwn(PROBLEM_TYPES, name);
