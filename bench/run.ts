/**
 * `npm run bench [-- filter]`: runs every bench/*.bench.ts (or those whose name contains filter).
 * Each module's default export is an async function that prints its BENCH lines.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filter === undefined || f.includes(filter))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${JSON.stringify(filter)}; have: ${readdirSync(here).join(', ')}`);
  process.exit(1);
}
for (const file of files) {
  console.error(`bench: ${file}`);
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: () => Promise<void> };
  await mod.default();
}
