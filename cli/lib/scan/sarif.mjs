// SARIF 2.1.0 for GitHub code scanning: one run, one rule per rule id, one result per finding.
// Results carry the redacted preview only; partialFingerprints let GitHub track a finding across runs.
import { RULE_DESCRIPTIONS, STORED_VALUE_RULE } from "./engine.mjs";
import { VERSION } from "../version.mjs";

const describeMatch = (m) => (m.current ? `the current value of ${m.path} (version ${m.version})` : `a previous value of ${m.path} (version ${m.version})`);

export function toSarif(findings, rulesActive) {
  const ids = [...new Set([...rulesActive, ...findings.map((f) => f.rule)])];
  const index = new Map(ids.map((id, i) => [id, i]));
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "hush scan",
            version: VERSION,
            informationUri: "https://github.com/hush/hush/blob/main/docs/scanning.md",
            rules: ids.map((id) => ({
              id,
              name: id.replace(/[^A-Za-z0-9]+/g, "_"),
              shortDescription: { text: RULE_DESCRIPTIONS[id] ? `Committed secret: ${RULE_DESCRIPTIONS[id]}` : `Committed secret (${id})` },
              defaultConfiguration: { level: "error" },
              properties: { tags: ["security", "secret"], "security-severity": id === STORED_VALUE_RULE ? "9.5" : "8.0" },
            })),
          },
        },
        results: findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: index.get(f.rule),
          level: "error",
          message: {
            text: `${RULE_DESCRIPTIONS[f.rule] ?? f.rule}: ${f.preview}${f.commit ? ` (added in ${f.commit.slice(0, 12)})` : ""}${
              f.matches?.length ? `. It is ${f.matches.map(describeMatch).join("; ")}: rotate it` : ""
            }`,
          },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: encodeURI(f.file), uriBaseId: "%SRCROOT%" },
                region: { startLine: f.line, ...(f.column ? { startColumn: f.column } : {}) },
              },
            },
          ],
          partialFingerprints: { "hushFinding/v1": f.fingerprint },
          ...(f.commit ? { properties: { commit: f.commit } } : {}),
        })),
        columnKind: "unicodeCodePoints",
      },
    ],
  };
}
