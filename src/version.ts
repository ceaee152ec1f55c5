// The one version string: package.json's. The Worker bundles this field (esbuild keeps only the
// named import), the CLI reads the same file, and test/cli/version-source.test.ts checks that
// /healthz, /openapi.json and `hush version` all report it.
import { version } from "../package.json";

export const VERSION: string = version;
