// Parses workflows with GitHub's own workflow parser (npm @actions/workflow-parser, the parser of GitHub's language
// services) and follows calls of reusable workflows in the same repository, checking the caller's inputs and secrets
// against the called workflow. stdin: {"package": "<node_modules dir>", "root": "<repository>", "files": [...]}
// stdout: {"<file>": ["error", ...]}
import { readFileSync } from "node:fs";
import { register } from "node:module";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";

// The package imports its JSON schema without an import attribute (it is meant for bundlers); node asks for one.
const jsonHook = `export async function load(url, context, next) {
  return next(url, url.endsWith(".json") ? { ...context, importAttributes: { type: "json" } } : context);
}`;
register(`data:text/javascript,${encodeURIComponent(jsonHook)}`);

const input = JSON.parse(readFileSync(0, "utf8"));
const parserDir = join(input.package, "@actions", "workflow-parser", "dist");
const { parseWorkflow, convertWorkflowTemplate, NoOperationTraceWriter } = await import(
  pathToFileURL(join(parserDir, "index.js")).href);

const read = (path) => ({ name: relative(input.root, path), content: readFileSync(path, "utf8") });
const fileProvider = {
  getFileContent: async (ref) => {
    if (ref.repository) throw new Error(`not in this repository: ${ref.owner}/${ref.repository}`);
    return read(join(input.root, ref.path));
  },
};
const report = {};
for (const file of input.files) {
  const parsed = parseWorkflow(read(file), new NoOperationTraceWriter());
  const template = await convertWorkflowTemplate(parsed.context, parsed.value, fileProvider,
                                                 { fetchReusableWorkflowDepth: 1 });
  report[file] = (template.errors ?? []).map((e) => e.Message);
}
process.stdout.write(JSON.stringify(report));
