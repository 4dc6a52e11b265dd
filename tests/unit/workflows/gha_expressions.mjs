// Evaluates GitHub Actions `if:` expressions with GitHub's own evaluator, the npm package @actions/expressions.
// stdin: {"package": "<dir of @actions/expressions>", "cases": [{"expr", "context", "status": {...}}]}
// stdout: a JSON list with the truthiness of each expression ("raw": true — its value, as a string is coerced, the
// way a `with:` input receives it). The status functions (success, failure, cancelled, always) answer from
// "status", as the runner's job-level implementations would.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const input = JSON.parse(readFileSync(0, "utf8"));
const load = (file) => import(pathToFileURL(join(input.package, "dist", file)).href);
const { Lexer, Parser, Evaluator, data } = await load("index.js");
const { truthy } = await load("result.js");

const STATUS = ["success", "failure", "cancelled", "always"];
const results = input.cases.map(({ expr, context, status }) => {
  const { tokens } = new Lexer(expr).lex();
  const signatures = STATUS.map((name) => ({ name, minArgs: 0, maxArgs: 0 }));
  const ast = new Parser(tokens, Object.keys(context), signatures).parse();
  const functions = new Map(STATUS.map((name) => [name, {
    name, minArgs: 0, maxArgs: 0,
    call: () => new data.BooleanData(name === "always" ? true : Boolean(status[name])),
  }]));
  const value = new Evaluator(ast, JSON.parse(JSON.stringify(context), data.reviver), functions).evaluate();
  if (!input.raw) return truthy(value);
  return value.kind === data.Kind.Null ? "" : value.kind === data.Kind.Boolean ? String(value.value) : value.coerceString();
});
process.stdout.write(JSON.stringify(results));
