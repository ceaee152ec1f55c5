// Bundled in place of `asn1js` (wrangler.jsonc `alias`; only @peculiar/asn1-schema imports it).
// The bundle is built without `keep_names` (20 KiB gzipped of `__name` wrappers), so minified
// classes lose their names, but asn1-schema's parser tests `element.constructor.name === "Sequence"`
// (a repeated field holding one SEQUENCE, e.g. a CSR's extension request with one extension).
// This gives asn1js's exported classes their names back, exactly as `keep_names` would.
// By path: the specifier `asn1js` itself resolves to this file.
// @ts-expect-error the built module has no declaration file at this path; its API is asn1js's own.
import * as asn1js from "../../node_modules/asn1js/build/index.es.js";

for (const [name, value] of Object.entries(asn1js as Record<string, unknown>)) {
  if (typeof value === "function" && value.name !== name) Object.defineProperty(value, "name", { value: name, configurable: true });
}

// @ts-expect-error as above.
export * from "../../node_modules/asn1js/build/index.es.js";
