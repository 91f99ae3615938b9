// Validates an OpenAPI document with @apidevtools/swagger-parser (OpenAPI 3.1 schema and
// semantics: unique operationIds, path parameters declared, $refs resolved).
//   node tests/openapi/validate.mjs FILE [more files]
// Prints one line per document and ends with "N passed, M failed".
import SwaggerParser from '@apidevtools/swagger-parser';
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    if (doc.openapi !== '3.1.0') throw new Error(`openapi is ${doc.openapi}, not 3.1.0`);
    const api = await SwaggerParser.validate(doc);
    const ops = Object.values(api.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    console.log(`ok ${file}: OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths, ${ops} operations`);
    passed++;
  } catch (e) {
    console.log(`FAILED ${file}: ${e.message}`);
    failed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
