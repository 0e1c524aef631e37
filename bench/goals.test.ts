import { describe, expect, it } from 'vitest';
import { GOALS, parseBenchLine, summaryTable, verdict } from './goals.ts';
import { formatBench } from './report.ts';

describe('bench goals and the closing table', () => {
  it('reads back what formatBench prints, and nothing else', () => {
    const line = formatBench({
      name: 'sim.heights.4v',
      value: 152.34,
      unit: 'heights/s',
      ratio: 0.0131,
      vs: 'a b',
    });
    expect(parseBenchLine(line)).toEqual({
      name: 'sim.heights.4v',
      value: 152.3,
      unit: 'heights/s',
      ratio: 0.013,
      vs: 'a_b',
    });
    expect(parseBenchLine('bench: consensus.bench.ts')).toBeUndefined();
    expect(parseBenchLine('BENCH x NaN ops/s ratio=1 vs=y')).toBeUndefined();
  });

  it('a figure meets its goal at the bound and falls short below it; no goal, no verdict', () => {
    const fig = (name: string, value: number, ratio: number) => ({ name, value, unit: 'u', ratio, vs: 'v' });
    expect(verdict(fig('sim.heights.4v', 1, 0.1), GOALS['sim.heights.4v'])).toBe('met');
    expect(verdict(fig('sim.heights.4v', 1, 0.099), GOALS['sim.heights.4v'])).toBe('short');
    expect(verdict(fig('executor.parallel', 1.29, 0.9), GOALS['executor.parallel'])).toBe('short');
    expect(verdict(fig('executor.parallel', 1.3, 0.1), GOALS['executor.parallel'])).toBe('met');
    expect(verdict(fig('wire.codec', 1, 1), GOALS['wire.codec'])).toBe('');
    expect(verdict(fig('x', 1, 1), { on: 'value', atMost: 3, source: 't' })).toBe('met');
    expect(verdict(fig('x', 4, 1), { on: 'value', atMost: 3, source: 't' })).toBe('short');
  });

  it('the table lists every line with its verdict, the files that failed, and the counts', () => {
    const table = summaryTable([
      {
        file: 'a.bench.ts',
        code: 0,
        seconds: 3,
        bench: [
          { name: 'runtime.hop', value: 190805, unit: 'msgs/s', ratio: 0.651, vs: 'x' },
          { name: 'sim.heights.4v', value: 152, unit: 'heights/s', ratio: 0.013, vs: 'y' },
        ],
      },
      { file: 'b.bench.ts', code: 13, seconds: 40, bench: [] },
    ]);
    const lines = table.split('\n');
    expect(lines[1]).toMatch(/^runtime\.hop\s+190805\s+msgs\/s\s+0\.651\s+ratio >= 0\.5\s+met$/);
    expect(lines[2]).toMatch(/^sim\.heights\.4v .* short$/);
    expect(lines).toContain('FAILED b.bench.ts (exit 13, after 40 s)');
    expect(lines.at(-1)).toBe('bench: 1 of 2 files ran; goals: 1 met, 1 short');
  });
});
