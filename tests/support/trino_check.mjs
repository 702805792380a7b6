// Trino's grammar (Athena engine v3) over a batch of statements: reads a JSON array of SQL
// strings on stdin, prints a JSON array with, per statement, null or its first syntax error.
// One process per batch: loading the ANTLR parser takes half a second.
//
// dt-sql-parser's ESM build imports its own files without extensions (it is written for
// bundlers), which Node refuses; the resolve hook below retries such imports as `.js` and
// `/index.js`, only for files inside dt-sql-parser.
import { register } from "node:module";

const hooks = `
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    const parent = context.parentURL || "";
    if (!parent.includes("/node_modules/dt-sql-parser/") || !specifier.startsWith(".")) {
      throw error;
    }
    for (const suffix of [".js", "/index.js"]) {
      try {
        return await next(specifier + suffix, context);
      } catch {}
    }
    throw error;
  }
}`;
register("data:text/javascript," + encodeURIComponent(hooks), import.meta.url);

// Only the Trino parser: the package's index loads every dialect's, three times slower. The
// path is that of the exact version package.json pins.
const { TrinoSQL } = await import("dt-sql-parser/dist/parser/trino/index.js");

let input = "";
for await (const chunk of process.stdin) input += chunk;
const parser = new TrinoSQL();
const answers = JSON.parse(input).map((sql) => {
  const [first] = parser.validate(sql);
  return first ? `line ${first.startLine}:${first.startColumn} ${first.message}` : null;
});
process.stdout.write(JSON.stringify(answers));
