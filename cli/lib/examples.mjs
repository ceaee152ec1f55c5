// Examples shown at the end of `hush help <command>`, for the commands that do not add their own
// next to their definition. Keyed by the command's words.
export const EXAMPLES = {
  get: [
    "hush get app/db/password",
    "hush get app/db/password --provider local",
    "hush get app/db/password --raw | pbcopy",
    "hush get app/db/password --version 2 --json",
  ],
  set: ["hush set app/db/password --stdin", "hush set app/tls/key --from-file key.pem --type CERTIFICATE --expires 90d"],
  list: ["hush list --prefix app/", "hush list --provider azure-keyvault", "hush list --pattern 'api-key-*'", "hush list --tags db --env production --json"],
  rotate: ["hush rotate app/api-key --generate", "hush rotate app/db/password --stdin --expire-old 7d"],
  history: ["hush history app/db/password", "hush history app/db/password --provider local"],
  recover: ["hush recover app/db/password --at 2h", "hush recover app/db/password --at 2026-01-31T12:00:00Z"],
  delete: ["hush delete app/old-key", "hush delete app/old-key --yes"],
  undelete: ["hush undelete app/old-key"],
  destroy: ["hush destroy app/old-key --versions 1,2"],
  audit: ["hush audit app/db/password", "hush audit --failed-only --limit 20"],
  "audit verify": ["hush audit verify"],
  login: ["hush login", "hush login --addr https://hush.example.com --token-stdin < token.txt", 'hush login --role ci --jwt-file "$OIDC_TOKEN_FILE"'],
  logout: ["hush logout"],
  status: ["hush status", "hush status --json"],
  health: ["hush health", "HUSH_CHAIN=azure-keyvault,local,env hush health --json"],
  token: ["hush token create --subject ci --scopes secrets:read --paths 'app/*'"],
  "token create": ["hush token create --subject ci-deploy --scopes secrets:read --paths 'app/*' --ttl 7d"],
  "token list": ["hush token list --subject ci-deploy"],
  "token revoke": ["hush token revoke tok_0123"],
  help: ["hush help", "hush help share create"],
};
