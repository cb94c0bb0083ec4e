// Writes src/shared/run-spec.schema.json: the JSON Schema of a RunSpec (src/shared/run-spec.ts), for engines that
// do not read zod. `npm run gen:run-spec-schema`; src/main/engine/train/run-spec.test.ts fails when the file is stale.
import { renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { runSpecJsonSchema } from '../src/shared/run-spec';

const target = fileURLToPath(new URL('../src/shared/run-spec.schema.json', import.meta.url));
// Formatted as `npm run lint` (prettier --check) expects.
const text = await format(JSON.stringify(runSpecJsonSchema()), { ...(await resolveConfig(target)), filepath: target });
writeFileSync(`${target}.tmp`, text);
renameSync(`${target}.tmp`, target); // whole or not at all
process.stdout.write(`wrote ${target}\n`);
