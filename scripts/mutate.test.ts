import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  benchLine,
  importsOf,
  type MutationReport,
  mutatePatterns,
  parseArgs,
  parseDryRun,
  type ReportMutant,
  scoreOf,
  selectTests,
  strykerConfig,
  undetectedList,
} from './mutate.ts';

const root = join(import.meta.dirname, '..');

const mutant = (
  id: string,
  status: ReportMutant['status'],
  line: number,
  mutatorName = 'ConditionalExpression',
  replacement = 'false',
  column = 1,
): ReportMutant => ({
  id,
  mutatorName,
  replacement,
  status,
  location: { start: { line, column }, end: { line, column: column + 5 } },
});

/** A Stryker JSON report in the shape mutation-testing-report-schema gives it (fields not read left out). */
const fixture: MutationReport = {
  files: {
    'engines/decryptor/pipeline.ts': {
      mutants: [
        mutant('1', 'Killed', 10),
        mutant('2', 'Survived', 300, 'EqualityOperator', 'height <= end'),
        mutant('3', 'Timeout', 12),
        mutant('4', 'NoCoverage', 40, 'BlockStatement', '{}'),
        mutant('5', 'Survived', 275, 'StringLiteral', '"deal\n   window"'),
        mutant('6', 'CompileError', 50),
      ],
    },
    'engines/decryptor/machine.ts': {
      mutants: [
        mutant('7', 'Killed', 3),
        mutant('8', 'Killed', 4),
        mutant('9', 'Ignored', 5),
        mutant('10', 'RuntimeError', 6),
        mutant('11', 'Survived', 20, 'ArrayDeclaration', '[]', 9),
        mutant('12', 'Survived', 20, 'ObjectLiteral', '{}', 2),
      ],
    },
  },
};

describe('npm run mutate: arguments', () => {
  it('defaults to every target, one worker, a full run', () => {
    expect(parseArgs([])).toEqual({
      targets: ['consensus', 'decryptor', 'tdh2', 'dkg'],
      concurrency: 1,
      incremental: false,
      dryRun: false,
      mutate: [],
    });
  });

  it('reads targets in the order given, once each, and every flag', () => {
    const o = parseArgs([
      'tdh2',
      'dkg',
      'tdh2',
      '--concurrency',
      '2',
      '--incremental',
      '--dry-run',
      '--mutate',
      'crypto/tdh2.ts:10-20',
    ]);
    expect(o).toEqual({
      targets: ['tdh2', 'dkg'],
      concurrency: 2,
      incremental: true,
      dryRun: true,
      mutate: ['crypto/tdh2.ts:10-20'],
    });
    expect(parseArgs(['--concurrency=3', '--mutate=a.ts', '--mutate', 'b.ts'])).toMatchObject({
      concurrency: 3,
      mutate: ['a.ts', 'b.ts'],
    });
  });

  it('refuses an unknown target or flag, a missing value, a bad concurrency', () => {
    expect(() => parseArgs(['mempool'])).toThrow(/unknown target mempool/);
    expect(() => parseArgs(['--fast'])).toThrow(/unknown flag --fast/);
    expect(() => parseArgs(['--mutate'])).toThrow(/--mutate needs a value/);
    expect(() => parseArgs(['--concurrency', '0'])).toThrow(/positive integer/);
    expect(() => parseArgs(['--concurrency', '1.5'])).toThrow(/positive integer/);
    expect(() => parseArgs(['--help'])).toThrow(/usage: npm run mutate/);
  });
});

describe('npm run mutate: score, BENCH line, undetected list', () => {
  it('scores detected (killed + timeout) over valid mutants; errors and ignored do not count', () => {
    const s = scoreOf(fixture);
    expect(s).toMatchObject({ killed: 3, timeout: 1, survived: 4, noCoverage: 1, errors: 2, ignored: 1 });
    expect(s.score).toBeCloseTo((100 * 4) / 9, 10); // 4 detected of 9 valid
    expect(scoreOf({ files: {} }).score).toBe(0);
    expect(() => scoreOf({ files: { 'a.ts': { mutants: [mutant('1', 'Pending', 1)] } } })).toThrow(/pending/);
  });

  it('prints the BENCH line with the score and its ratio', () => {
    expect(benchLine('consensus', 85.4321)).toBe(
      'BENCH mutation.consensus 85.4 % ratio=0.854 vs=all-mutants',
    );
    expect(benchLine('tdh2', 100)).toBe('BENCH mutation.tdh2 100.0 % ratio=1.000 vs=all-mutants');
    expect(benchLine('dkg', 7.25)).toBe('BENCH mutation.dkg 7.25 % ratio=0.072 vs=all-mutants');
    expect(benchLine('decryptor', 12.34)).toBe('BENCH mutation.decryptor 12.3 % ratio=0.123 vs=all-mutants');
  });

  it('lists each undetected mutant as file:line mutator replacement, by file and position', () => {
    expect(undetectedList(fixture)).toEqual([
      'engines/decryptor/machine.ts:20 ObjectLiteral {}',
      'engines/decryptor/machine.ts:20 ArrayDeclaration []',
      'engines/decryptor/pipeline.ts:40 BlockStatement {} (no coverage)',
      'engines/decryptor/pipeline.ts:275 StringLiteral "deal window"',
      'engines/decryptor/pipeline.ts:300 EqualityOperator height <= end',
    ]);
    const long = 'x'.repeat(300);
    const [line] = undetectedList({
      files: { 'a.ts': { mutants: [mutant('1', 'Survived', 1, 'M', long)] } },
    });
    expect(line).toBe(`a.ts:1 M ${'x'.repeat(97)}...`);
  });

  it("reads a dry run's mutant count and initial test run from Stryker's log", () => {
    const log = [
      'INFO Instrumenter Instrumented 3 source file(s) with 1234 mutant(s)',
      'INFO DryRunExecutor Initial test run succeeded. Ran 57 tests in 2 minutes and 3 seconds (net 119500.7 ms, overhead 3000.2 ms).',
    ].join('\n');
    expect(parseDryRun(log)).toEqual({
      mutants: 1234,
      tests: 57,
      elapsed: '2 minutes and 3 seconds',
      netMs: 119501,
    });
    expect(parseDryRun('nothing')).toEqual({
      mutants: undefined,
      tests: undefined,
      elapsed: undefined,
      netMs: undefined,
    });
  });
});

describe('npm run mutate: what runs', () => {
  it('finds run-time imports, not type-only ones', () => {
    const src = [
      "import { a } from './a.ts';",
      "import type { B } from './b.ts';",
      "import { type C, d } from '../c.ts';",
      "export { e } from './e.ts';",
      "import './side.ts';",
      "import fc from 'fast-check';",
      "const m = await import('./lazy.ts');",
    ].join('\n');
    expect(importsOf(src).sort()).toEqual(['../c.ts', './a.ts', './e.ts', './lazy.ts', './side.ts']);
  });

  it("runs a target's own unit tests first, then the properties that reach it", () => {
    // the pipeline simulations reach TDH2 and the decryptor: the plain one and the one with intents
    const pipelines = ['props/intents-pipeline.test.ts', 'props/pipeline.test.ts'];
    expect(selectTests(root, 'tdh2')).toEqual(['crypto/tdh2.test.ts', ...pipelines]);
    const decryptor = selectTests(root, 'decryptor');
    expect(decryptor.slice(0, -2).every((f) => f.startsWith('engines/decryptor/'))).toBe(true);
    expect(decryptor).toContain('engines/decryptor/pipeline.test.ts');
    expect(decryptor.slice(-2)).toEqual(pipelines);
    expect(decryptor).not.toContain('crypto/tdh2.test.ts');
    const consensus = selectTests(root, 'consensus');
    const firstProp = consensus.findIndex((f) => f.startsWith('props/'));
    expect(firstProp).toBeGreaterThan(0);
    expect(consensus.slice(0, firstProp).every((f) => f.startsWith('engines/consensus/'))).toBe(true);
    expect(consensus).toContain('props/consensus.test.ts');
    expect(consensus).not.toContain('props/executor-shards.test.ts');
  });

  it('mutates the sources of a target, not its tests, with reports under .scratch/mutation/<target>', () => {
    expect(mutatePatterns('dkg')).toEqual(['crypto/dkg.ts']);
    expect(mutatePatterns('consensus')).toEqual([
      'engines/consensus/**/*.ts',
      '!engines/consensus/**/*.test.ts',
    ]);
    const options = parseArgs(['decryptor', '--dry-run']);
    const config = strykerConfig('decryptor', options);
    expect(config).toMatchObject({
      testRunner: 'vitest',
      coverageAnalysis: 'perTest',
      concurrency: 1,
      dryRunOnly: true,
      mutate: mutatePatterns('decryptor'),
      jsonReporter: { fileName: '.scratch/mutation/decryptor/mutation.json' },
      vitest: { configFile: 'vitest.mutate.config.ts' },
    });
    expect(strykerConfig('decryptor', parseArgs(['--mutate', 'x.ts'])).mutate).toEqual(['x.ts']);
  });
});
