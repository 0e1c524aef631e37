/**
 * `npm run bench [-- filter] [-- flags]`: runs every bench/*.bench.ts (or those whose name contains
 * filter), each in a process of its own, so a file that leaves a handle open or a promise unsettled
 * cannot end the run or the files after it. Each module's default export is an async function that
 * prints its BENCH lines; flags after the filter (e.g. `--profile`) reach it in `process.argv`.
 *
 * Ends with a table of every BENCH line against its goal (bench/goals.ts), and exits 0 only when
 * every file ran to its end.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type FileOutcome, parseBenchLine, summaryTable } from './goals.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** The child's part: run one file's benchmarks, then end the process whatever it left running. */
async function runOne(file: string): Promise<void> {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: () => Promise<void> };
  await mod.default();
}

function runChild(file: string, flags: readonly string[]): Promise<FileOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--one', file, ...flags],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines: string[] = [];
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      process.stdout.write(chunk);
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      lines.push(...parts);
    });
    child.on('close', (code, signal) => {
      if (pending !== '') lines.push(pending);
      const bench = lines.map(parseBenchLine).filter((b) => b !== undefined);
      resolve({
        file,
        code: code ?? (signal === null ? 1 : 128),
        seconds: (performance.now() - started) / 1000,
        bench,
      });
    });
  });
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--one') {
    const file = argv[1];
    if (file === undefined) throw new Error('--one needs a file');
    await runOne(file);
    process.exit(0);
  }
  const filter = argv[0] !== undefined && !argv[0].startsWith('--') ? argv[0] : undefined;
  const flags = filter === undefined ? argv : argv.slice(1);
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => filter === undefined || f.includes(filter))
    .sort();
  if (files.length === 0) {
    console.error(`no benchmark matches ${JSON.stringify(filter)}; have: ${readdirSync(here).join(', ')}`);
    process.exit(1);
  }
  const outcomes: FileOutcome[] = [];
  for (const file of files) {
    console.error(`bench: ${file}`);
    const outcome = await runChild(file, flags);
    if (outcome.code !== 0) console.error(`bench: ${file} FAILED (exit ${outcome.code})`);
    outcomes.push(outcome);
  }
  console.log('');
  console.log(summaryTable(outcomes));
  process.exit(outcomes.every((o) => o.code === 0) ? 0 : 1);
}

await main(process.argv.slice(2));
