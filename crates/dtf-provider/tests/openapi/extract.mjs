// Extracts the GitHub REST operations dtf calls from GitHub's official OpenAPI description
// (the npm package @octokit/openapi) into github-subset.json, the test data of
// crates/dtf-provider/tests/contract.rs.
//
// Only what validation needs is kept: each operation's method, path template, parameters
// and request body schema, with every $ref resolved and descriptions and examples
// dropped, so the file stays small and its diff readable when GitHub changes an operation.
//
// Regenerate (Node 18 or later; nothing else is installed):
//   npm install --prefix /tmp/octokit-openapi @octokit/openapi@23.0.2
//   node crates/dtf-provider/tests/openapi/extract.mjs \
//     /tmp/octokit-openapi/node_modules/@octokit/openapi \
//     > crates/dtf-provider/tests/openapi/github-subset.json

import { readFileSync } from "node:fs";
import { join } from "node:path";

// Every operation the GitHub adapter sends; contract.rs fails on a request that matches
// none of them.
const OPERATIONS = [
  ["get", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"],
  ["get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"],
  ["post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"],
  ["patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"],
  ["post", "/repos/{owner}/{repo}/check-runs"],
  ["patch", "/repos/{owner}/{repo}/check-runs/{check_run_id}"],
  ["get", "/repos/{owner}/{repo}/actions/runs/{run_id}"],
  ["get", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs"],
  ["get", "/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts"],
  ["get", "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}"],
];

// Schema keywords the validator in contract.rs understands or that say what a value is;
// everything else (description, example, default, x-github, ...) is dropped.
const KEEP = new Set([
  "type", "properties", "required", "enum", "items", "maxItems", "minItems",
  "maxLength", "minLength", "minimum", "maximum", "nullable", "oneOf", "anyOf",
  "allOf", "additionalProperties", "format",
]);

const packageDir = process.argv[2];
if (!packageDir) {
  console.error("usage: node extract.mjs PATH/TO/node_modules/@octokit/openapi");
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
const spec = JSON.parse(
  readFileSync(join(packageDir, "generated", "api.github.com.json"), "utf8"),
);

function pointer(ref) {
  if (!ref.startsWith("#/")) throw new Error(`external $ref ${ref}`);
  return ref
    .slice(2)
    .split("/")
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((node, key) => {
      if (node === undefined || !(key in node)) throw new Error(`dangling $ref ${ref}`);
      return node[key];
    }, spec);
}

// Resolves $refs depth-first; a schema that refers to itself becomes {} (anything) at
// the second visit, which is enough for the request bodies dtf sends.
function resolve(node, seen = []) {
  if (Array.isArray(node)) return node.map((n) => resolve(n, seen));
  if (node === null || typeof node !== "object") return node;
  if (typeof node.$ref === "string") {
    if (seen.includes(node.$ref)) return {};
    return resolve(pointer(node.$ref), [...seen, node.$ref]);
  }
  const out = {};
  for (const [key, value] of Object.entries(node)) out[key] = resolve(value, seen);
  return out;
}

// Keeps the schema keywords in KEEP; under "properties" every key is a property name.
function prune(schema) {
  if (Array.isArray(schema)) return schema.map(prune);
  if (schema === null || typeof schema !== "object") return schema;
  const out = {};
  for (const key of Object.keys(schema).sort()) {
    if (!KEEP.has(key)) continue;
    const value = schema[key];
    if (key === "properties") {
      out.properties = {};
      for (const name of Object.keys(value).sort()) out.properties[name] = prune(value[name]);
    } else if (key === "additionalProperties" && typeof value === "object") {
      out[key] = prune(value);
    } else if (["items", "oneOf", "anyOf", "allOf"].includes(key)) {
      out[key] = prune(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

const operations = OPERATIONS.map(([method, path]) => {
  const op = spec.paths[path]?.[method];
  if (!op) throw new Error(`${method.toUpperCase()} ${path} is not in the description`);
  const parameters = resolve([...(spec.paths[path].parameters ?? []), ...(op.parameters ?? [])])
    .map((p) => ({
      name: p.name,
      in: p.in,
      required: p.required === true,
      schema: prune(p.schema ?? {}),
    }))
    .sort((a, b) => (a.in + a.name).localeCompare(b.in + b.name));
  const body = op.requestBody ? resolve(op.requestBody) : null;
  const json = body?.content?.["application/json"]?.schema;
  return {
    method: method.toUpperCase(),
    path,
    operationId: op.operationId,
    parameters,
    requestBody: body ? { required: body.required === true, schema: prune(json ?? {}) } : null,
  };
});

const subset = {
  schema: "dtf.openapi-subset.v1",
  source: {
    package: pkg.name,
    version: pkg.version,
    file: "generated/api.github.com.json",
    openapi: spec.openapi,
    apiVersion: spec.info?.version ?? null,
  },
  operations,
};
process.stdout.write(JSON.stringify(subset, null, 2) + "\n");
