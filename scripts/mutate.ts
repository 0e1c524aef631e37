/**
 * `npm run mutate [-- <target>...] [--concurrency N] [--incremental] [--dry-run] [--mutate GLOB]`:
 * mutation testing with Stryker (issue 14) of the consensus and decryptor engines, TDH2 and the
 * DKG, each against its unit tests and the property tests that reach it (CI seed and size).
 *
 * One Stryker run per target, each with vitest.mutate.config.ts (FRACTAL_MUTATE_TARGET names the
 * target; the tests it runs, unit tests first, are `selectTests` below). Reports (html, json, an
 * `undetected.txt` of the surviving mutants) go to .scratch/mutation/<target>/. Prints one line
 * per target at the end: `BENCH mutation.<target> <score> % ratio=<score/100> vs=all-mutants`,
 * the score counting every valid mutant (a mutant no test reaches counts as undetected).
 * Slow (the consensus target takes hours), so not part of .ci/run.
 */
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatBench } from '../bench/report.ts';

export const TARGETS = {
  consensus: 'engines/consensus',
  decryptor: 'engines/decryptor',
  tdh2: 'crypto/tdh2.ts',
  dkg: 'crypto/dkg.ts',
} as const;

export type Target = keyof typeof TARGETS;

export const TARGET_NAMES = Object.keys(TARGETS) as Target[];

export function isTarget(name: string): name is Target {
  return Object.hasOwn(TARGETS, name);
}

export interface MutateOptions {
  targets: Target[];
  concurrency: number;
  incremental: boolean;
  dryRun: boolean;
  /** Stryker `mutate` patterns replacing the target's own (e.g. `engines/decryptor/pipeline.ts:270-340`) */
  mutate: string[];
}

const USAGE =
  'usage: npm run mutate [-- <target>...] [--concurrency N] [--incremental] [--dry-run] [--mutate GLOB]\n' +
  `targets: ${TARGET_NAMES.join(', ')} (default: all)`;

/** Parses the command line; throws with the usage on anything it does not know. */
export function parseArgs(argv: readonly string[]): MutateOptions {
  const options: MutateOptions = {
    targets: [],
    concurrency: 1,
    incremental: false,
    dryRun: false,
    mutate: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--concurrency': {
        const v = value();
        const n = Number(v);
        if (!Number.isSafeInteger(n) || n < 1)
          throw new Error(`--concurrency must be a positive integer, got ${v}`);
        options.concurrency = n;
        break;
      }
      case '--incremental':
        options.incremental = true;
        break;
      case '--dry-run':
        options.dryRun = true;
        break;
      case '--mutate':
        options.mutate.push(value());
        break;
      case '--help':
      case '-h':
        throw new Error(USAGE);
      default:
        if (flag!.startsWith('-')) throw new Error(`unknown flag ${flag}\n${USAGE}`);
        if (!isTarget(flag!)) throw new Error(`unknown target ${flag}\n${USAGE}`);
        if (!options.targets.includes(flag)) options.targets.push(flag);
    }
  }
  if (options.targets.length === 0) options.targets = [...TARGET_NAMES];
  return options;
}

// ---------------------------------------------------------------------------------------------
// Which tests a target runs

/** The relative modules a TypeScript source imports at run time (`import type` is left out). */
export function importsOf(source: string): string[] {
  const out = new Set<string>();
  const re =
    /(?:^|[\s;])(?:import|export)\s+(type\s+)?(?:[\w*\s{},$]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
  for (const m of source.matchAll(re)) {
    if (m[1] !== undefined) continue;
    const spec = m[2] ?? m[3];
    if (spec !== undefined) out.add(spec);
  }
  return [...out];
}

function listFiles(root: string, dir: string, accept: (rel: string) => boolean): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  const out: string[] = [];
  for (const name of readdirSync(abs).sort()) {
    const rel = dir === '' ? name : `${dir}/${name}`;
    if (name === 'node_modules' || name.startsWith('.')) continue;
    if (statSync(join(root, rel)).isDirectory()) out.push(...listFiles(root, rel, accept));
    else if (accept(rel)) out.push(rel);
  }
  return out;
}

/** Whether `file` (repository-relative) imports, transitively, a file under `target`. */
export function reaches(root: string, file: string, target: string, seen = new Set<string>()): boolean {
  if (isUnder(file, target)) return true;
  if (seen.has(file)) return false;
  seen.add(file);
  const abs = join(root, file);
  if (!existsSync(abs)) return false;
  for (const spec of importsOf(readFileSync(abs, 'utf8'))) {
    const dep = relative(root, resolve(dirname(abs), spec))
      .split('\\')
      .join('/');
    if (reaches(root, dep, target, seen)) return true;
  }
  return false;
}

function isUnder(file: string, target: string): boolean {
  return target.endsWith('.ts') ? file === target : file.startsWith(`${target}/`);
}

const isTest = (rel: string): boolean => rel.endsWith('.test.ts');

/**
 * The test files a target is mutation-tested against, in the order they run: its unit tests
 * (the tests beside it that reach it; its own `<name>.test.ts` first), then the property tests
 * (props/*.test.ts and apps/**\/*.test.ts) that reach it. Unit tests are fast and pointed, so
 * Stryker's bail finds a killer before it starts a slow property.
 */
export function selectTests(root: string, target: Target): string[] {
  const path = TARGETS[target];
  const dir = path.endsWith('.ts') ? dirname(path) : path;
  const own = path.endsWith('.ts') ? path.replace(/\.ts$/, '.test.ts') : undefined;
  const unit = listFiles(root, dir, isTest).filter((f) => reaches(root, f, path));
  unit.sort((a, b) => Number(b === own) - Number(a === own));
  const props = [
    ...listFiles(root, 'props', (f) => isTest(f) && !f.slice('props/'.length).includes('/')),
    ...listFiles(root, 'apps', isTest),
  ].filter((f) => reaches(root, f, path));
  return [...unit, ...props];
}

/** Stryker `mutate` patterns of a target: its sources, not its tests. */
export function mutatePatterns(target: Target): string[] {
  const path = TARGETS[target];
  return path.endsWith('.ts') ? [path] : [`${path}/**/*.ts`, `!${path}/**/*.test.ts`];
}

// ---------------------------------------------------------------------------------------------
// Stryker's JSON report (mutation-testing-report-schema), as much of it as is read here

export type MutantStatus =
  | 'Killed'
  | 'Survived'
  | 'NoCoverage'
  | 'Timeout'
  | 'CompileError'
  | 'RuntimeError'
  | 'Ignored'
  | 'Pending';

export interface ReportMutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: MutantStatus;
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}

export interface MutationReport {
  files: Record<string, { mutants: ReportMutant[] }>;
}

export interface Score {
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  /** compile and run-time errors: not valid mutants, left out of the score */
  errors: number;
  ignored: number;
  /** (killed + timeout) / (killed + timeout + survived + no coverage), in percent */
  score: number;
}

/** The mutation score over all valid mutants, as Stryker computes it (a timeout counts as detected). */
export function scoreOf(report: MutationReport): Score {
  const s: Score = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0, ignored: 0, score: 0 };
  for (const file of Object.values(report.files)) {
    for (const m of file.mutants) {
      switch (m.status) {
        case 'Killed':
          s.killed++;
          break;
        case 'Timeout':
          s.timeout++;
          break;
        case 'Survived':
          s.survived++;
          break;
        case 'NoCoverage':
          s.noCoverage++;
          break;
        case 'CompileError':
        case 'RuntimeError':
          s.errors++;
          break;
        case 'Ignored':
          s.ignored++;
          break;
        case 'Pending':
          throw new Error(`mutant ${m.id} is still pending: the report is incomplete`);
      }
    }
  }
  const detected = s.killed + s.timeout;
  const valid = detected + s.survived + s.noCoverage;
  s.score = valid === 0 ? 0 : (100 * detected) / valid;
  return s;
}

/** `BENCH mutation.<target> <score> % ratio=<score/100> vs=all-mutants` */
export function benchLine(target: Target, score: number): string {
  return formatBench({
    name: `mutation.${target}`,
    value: score,
    unit: '%',
    ratio: score / 100,
    vs: 'all-mutants',
  });
}

/**
 * One line per undetected mutant, `file:line Mutator replacement`, by file and position; a
 * mutant no test reaches is marked `(no coverage)`. Long or multi-line replacements are cut.
 */
export function undetectedList(report: MutationReport): string[] {
  const rows: { file: string; line: number; column: number; text: string }[] = [];
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const m of mutants) {
      if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
      let replacement = (m.replacement ?? '').replace(/\s+/g, ' ').trim();
      if (replacement.length > 100) replacement = `${replacement.slice(0, 97)}...`;
      const mark = m.status === 'NoCoverage' ? ' (no coverage)' : '';
      const { line, column } = m.location.start;
      rows.push({ file, line, column, text: `${file}:${line} ${m.mutatorName} ${replacement}${mark}` });
    }
  }
  rows.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column));
  return rows.map((r) => r.text);
}

/** What a dry run (`--dry-run`) says: the mutant count and the initial test run. */
export interface DryRunSummary {
  mutants: number | undefined;
  tests: number | undefined;
  /** the initial test run's wall time as Stryker words it, e.g. `2 minutes and 3 seconds` */
  elapsed: string | undefined;
  netMs: number | undefined;
}

export function parseDryRun(log: string): DryRunSummary {
  const inst = /Instrumented (\d+) source file\(s\) with (\d+) mutant\(s\)/.exec(log);
  const run =
    /Initial test run succeeded\. Ran (\d+) tests in (.+?) \(net ([\d.]+) ms, overhead ([\d.]+) ms\)/.exec(
      log,
    );
  return {
    mutants: inst ? Number(inst[2]) : undefined,
    tests: run ? Number(run[1]) : undefined,
    elapsed: run?.[2],
    netMs: run ? Math.round(Number(run[3])) : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Running Stryker

export const REPORT_DIR = '.scratch/mutation';

/** The Stryker configuration of one target's run (paths relative to the repository root). */
export function strykerConfig(target: Target, options: MutateOptions): Record<string, unknown> {
  const out = `${REPORT_DIR}/${target}`;
  return {
    $schema: '../../../node_modules/@stryker-mutator/core/schema/stryker-schema.json',
    packageManager: 'npm',
    testRunner: 'vitest',
    plugins: ['@stryker-mutator/vitest-runner'],
    vitest: { configFile: 'vitest.mutate.config.ts', related: false },
    mutate: options.mutate.length > 0 ? options.mutate : mutatePatterns(target),
    coverageAnalysis: 'perTest',
    concurrency: options.concurrency,
    // property tests are slow, and the machine is shared: a mutant is a timeout only when it
    // takes three times its tests' normal time and a minute more
    timeoutMS: 60_000,
    timeoutFactor: 3,
    dryRunTimeoutMinutes: 180,
    dryRunOnly: options.dryRun,
    incremental: options.incremental,
    incrementalFile: `${out}/incremental.json`,
    reporters: ['html', 'json', 'progress-append-only'],
    htmlReporter: { fileName: `${out}/index.html` },
    jsonReporter: { fileName: `${out}/mutation.json` },
    tempDirName: `.scratch/stryker-tmp/${target}`,
    ignorePatterns: ['.scratch', '.fractal', 'viz/page/node_modules', '*.sqlite*'],
    cleanTempDir: true,
    allowConsoleColors: false,
    logLevel: 'info',
    fileLogLevel: 'off',
  };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => {
      output += b.toString();
      process.stdout.write(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      output += b.toString();
      process.stderr.write(b);
    });
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code: code ?? (signal ? 1 : 0), output }));
  });
}

interface TargetResult {
  target: Target;
  ok: boolean;
  score?: Score;
  dry?: DryRunSummary;
  seconds: number;
}

async function mutateOne(root: string, target: Target, options: MutateOptions): Promise<TargetResult> {
  const started = Date.now();
  const out = join(root, REPORT_DIR, target);
  mkdirSync(out, { recursive: true });
  const configFile = join(out, 'stryker.config.json');
  writeFileSync(configFile, `${JSON.stringify(strykerConfig(target, options), null, 2)}\n`);
  const incremental = join(out, 'incremental.json');
  const lastReport = join(out, 'mutation.json');
  if (options.incremental && !existsSync(incremental) && existsSync(lastReport)) {
    // Stryker's incremental file is its full report: the last run's, when it was not incremental
    copyFileSync(lastReport, incremental);
    console.log(`mutate: ${target}: incremental from the last report, ${relative(root, lastReport)}`);
  }
  // so that a report read below is this run's
  if (!options.dryRun && existsSync(lastReport)) renameSync(lastReport, join(out, 'mutation.previous.json'));
  const tests = selectTests(root, target);
  console.log(
    `mutate: ${target}: mutating ${strykerConfig(target, options).mutate} against ${tests.length} test files:`,
  );
  for (const t of tests) console.log(`mutate:   ${t}`);
  const env: NodeJS.ProcessEnv = { ...process.env, FRACTAL_MUTATE_TARGET: target, FORCE_COLOR: '0' };
  // the CI seed and size: a run count or seed from the environment would change what is measured
  delete env.FRACTAL_PROPS_SEED;
  delete env.FRACTAL_PROPS_RUNS;
  delete env.FRACTAL_PROPS_FIRST_FAILURE;
  const stryker = join(root, 'node_modules', '.bin', 'stryker');
  const { code, output } = await run(stryker, ['run', relative(root, configFile)], env);
  const seconds = Math.round((Date.now() - started) / 1000);
  if (code !== 0) {
    console.error(`mutate: ${target}: Stryker exited with ${code}`);
    return { target, ok: false, seconds };
  }
  if (options.dryRun) {
    const dry = parseDryRun(output);
    console.log(
      `mutate: ${target}: dry run: ${dry.mutants ?? '?'} mutants; initial test run of ${dry.tests ?? '?'} tests ` +
        `took ${dry.elapsed ?? '?'} (net ${dry.netMs ?? '?'} ms)`,
    );
    return { target, ok: true, dry, seconds };
  }
  if (!existsSync(lastReport)) {
    console.error(`mutate: ${target}: Stryker wrote no report (nothing to mutate?)`);
    return { target, ok: false, seconds };
  }
  const report = JSON.parse(readFileSync(lastReport, 'utf8')) as MutationReport;
  const score = scoreOf(report);
  const undetected = undetectedList(report);
  writeFileSync(join(out, 'undetected.txt'), undetected.map((l) => `${l}\n`).join(''));
  console.log(
    `mutate: ${target}: ${score.score.toFixed(2)} % (killed ${score.killed}, timeout ${score.timeout}, ` +
      `survived ${score.survived}, no coverage ${score.noCoverage}, errors ${score.errors}) in ${seconds} s; ` +
      `report ${relative(root, join(out, 'index.html'))}, undetected ${relative(root, join(out, 'undetected.txt'))}`,
  );
  return { target, ok: true, score, seconds };
}

async function main(): Promise<void> {
  let options: MutateOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  const root = resolve(import.meta.dirname, '..');
  const results: TargetResult[] = [];
  for (const [i, target] of options.targets.entries()) {
    console.log(`mutate: [${i + 1}/${options.targets.length}] ${target}`);
    results.push(await mutateOne(root, target, options));
  }
  for (const r of results) {
    if (r.score) console.log(benchLine(r.target, r.score.score));
    else if (!r.ok) console.log(`mutate: ${r.target} FAILED (Stryker error, see above)`);
  }
  if (results.some((r) => !r.ok)) process.exit(1);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
