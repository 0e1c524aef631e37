/**
 * `npm run build:wasm`: compiles the AssemblyScript validity predicates under apps/ to WebAssembly
 * with the project's pinned `assemblyscript`, offline, into `<dir>/build/<name>.wasm`.
 *
 * The sources use the extension `.as` so that TypeScript and Biome, which cannot read
 * AssemblyScript, leave them alone; the compiler is handed them under a `.ts` name in memory.
 * Options: stub runtime (no GC), `abort` removed (no `env` import), no assertions, bulk memory off
 * (the metered VM refuses 0xFC instructions), -O3. AssemblyScript emits no float instruction unless
 * the source uses floats; the metered loader checks that on every load. The output is committed and
 * `apps/token/vp/build.test.ts` checks that rebuilding reproduces it byte for byte.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The AssemblyScript predicates, relative to the repository root. */
export const PREDICATES = ['apps/token/vp/amount-cap.as'];

export const ASC_OPTIONS = [
  '--runtime',
  'stub',
  '-O3',
  '--noAssert',
  '--use',
  'abort=',
  '--disable',
  'bulk-memory',
];

export function outputPath(source: string): string {
  return join(ROOT, dirname(source), 'build', `${basename(source, '.as')}.wasm`);
}

/** Compiles one `.as` source and returns the binary (throws with the compiler's messages). */
export async function compilePredicate(source: string): Promise<Uint8Array> {
  const text = readFileSync(join(ROOT, source), 'utf8');
  const entry = `${basename(source, '.as')}.ts`;
  let binary: Uint8Array | undefined;
  let messages = '';
  const result = await asc.main([entry, '--outFile', 'out.wasm', ...ASC_OPTIONS], {
    readFile: (name: string) => (name === entry ? text : null),
    writeFile: (name: string, contents: Uint8Array | string) => {
      if (name.endsWith('.wasm') && typeof contents !== 'string') binary = contents;
    },
    listFiles: () => [],
    stdout: {
      write: (s: string) => {
        messages += s;
        return true;
      },
    } as never,
    stderr: {
      write: (s: string) => {
        messages += s;
        return true;
      },
    } as never,
  });
  if (result.error !== null || binary === undefined)
    throw new Error(`asc failed for ${source}: ${result.error?.message ?? 'no output'}\n${messages}`);
  return binary;
}

/** Builds every predicate into its build/ folder; returns the written paths. */
export async function buildAll(): Promise<string[]> {
  const written: string[] = [];
  for (const source of PREDICATES) {
    const bytes = await compilePredicate(source);
    const out = outputPath(source);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, bytes);
    written.push(out);
  }
  return written;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const p of await buildAll()) console.log(`wrote ${p.slice(ROOT.length + 1)}`);
}
