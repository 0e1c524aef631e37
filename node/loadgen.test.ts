import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import {
  dueAt,
  dueBy,
  formatParts,
  type HeightTimes,
  latencyParts,
  median,
  percentiles,
  quantile,
  scheduledCount,
  throughput,
} from './loadgen.ts';

describe('percentiles', () => {
  it('are nearest-rank: p50 of 1..100 is 50, p99 is 99, whatever the order', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(xs)).toEqual({ p50: 50, p99: 99, n: 100 });
  });

  it('a single slow outlier in a hundred moves p99 only when it is more than one in a hundred', () => {
    const fast = Array.from({ length: 99 }, () => 10);
    expect(percentiles([...fast, 5000])).toEqual({ p50: 10, p99: 10, n: 100 });
    expect(percentiles([...fast.slice(1), 5000, 5000])).toEqual({ p50: 10, p99: 5000, n: 100 });
  });

  it('zeros for no samples, the sample itself for one, rounded to ms', () => {
    expect(percentiles([])).toEqual({ p50: 0, p99: 0, n: 0 });
    expect(percentiles([12.6])).toEqual({ p50: 13, p99: 13, n: 1 });
    expect(median([3, 1, 2])).toBe(2);
    expect(median([])).toBe(0);
  });

  it('a quantile is a sample with at least that share of the samples at or below it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 200 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (xs, q) => {
          const s = [...xs].sort((a, b) => a - b);
          const v = quantile(s, q);
          expect(s).toContain(v);
          expect(s.filter((x) => x <= v).length).toBeGreaterThanOrEqual(q * s.length);
          // and it is the smallest such sample
          expect(s.filter((x) => x < v).length).toBeLessThan(q * s.length);
        },
      ),
      propParams('loadgen.quantile', 200),
    );
  });
});

describe('the open-loop schedule', () => {
  it('offers rate × seconds transactions, the k-th at k / rate s', () => {
    expect(scheduledCount(50, 8)).toBe(400);
    expect(scheduledCount(12.5, 2)).toBe(25);
    expect(scheduledCount(0, 8)).toBe(0);
    expect(dueAt(0, 50)).toBe(0);
    expect(dueAt(10, 50)).toBe(200);
  });

  it('the first is due at once; then one more each 1/rate s, never beyond the total', () => {
    expect(dueBy(0, 50, 400)).toBe(1);
    expect(dueBy(19.9, 50, 400)).toBe(1);
    expect(dueBy(20, 50, 400)).toBe(2);
    expect(dueBy(1000, 50, 400)).toBe(51);
    expect(dueBy(60_000, 50, 400)).toBe(400);
    expect(dueBy(-1, 50, 400)).toBe(0);
  });

  it('a late wake-up catches up: what is due depends on the time only, not on the wake-ups', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.5, max: 2000, noNaN: true }),
        fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 50 }),
        (rate, gaps) => {
          const total = 1_000_000;
          let t = 0;
          let sent = 0;
          for (const g of gaps) {
            t += g;
            const due = dueBy(t, rate, total);
            expect(due).toBeGreaterThanOrEqual(sent); // never goes back
            sent = due;
            // every one sent is due by now, and the next one is not yet
            expect(dueAt(sent - 1, rate)).toBeLessThanOrEqual(t + 1e-6);
            expect(dueAt(sent, rate)).toBeGreaterThan(t - 1e-6);
          }
          // the offered rate over the run is the rate, within one transaction
          expect(Math.abs(sent - (t * rate) / 1000)).toBeLessThanOrEqual(1 + 1e-6);
        },
      ),
      propParams('loadgen.schedule', 200),
    );
  });
});

describe('throughput and where the latency went', () => {
  it('throughput is executed over the time from the start to the last execution', () => {
    expect(throughput(400, 1000, 9000)).toBe(50);
    expect(throughput(0, 1000, 1000)).toBe(0);
  });

  it('splits each transaction at admission, the block built, its commit, its receipt and its delivery', () => {
    const heights = new Map<number, HeightTimes>([
      [9, { proposed: 700, committed: 760 }],
      [10, { proposed: 1000, committed: 1060 }],
      [11, { proposed: 1300, committed: 1370 }],
    ]);
    const tx = (submitted: number, height: number, executed: number) => ({
      submitted,
      admitted: submitted + 4,
      included: height,
      height,
      executed,
      seen: executed + 2,
    });
    const p = latencyParts([tx(800, 10, 1080), tx(900, 10, 1080), tx(1100, 11, 1400)], heights);
    // medians: admission 4; to block 1000-804=196, 1000-904=96, 1300-1104=196 → 196;
    // consensus 60, 60, 70 → 60; execution 20, 20, 30 → 20; delivery 2; whole 282, 182, 302 → 282
    expect(p).toEqual({
      admission: 4,
      toBlock: 196,
      consensus: 60,
      shares: 0,
      execution: 20,
      notification: 2,
      total: 282,
      height: 300, // the heights used, 10 and 11, came 300 and 310 ms after the one before
      n: 3,
    });
  });

  it("an encrypted one waits from its block's commit to the commit of the block completing its shares", () => {
    const heights = new Map<number, HeightTimes>([
      [20, { proposed: 1000, committed: 1050 }],
      [21, { proposed: 1250, committed: 1300 }],
      [22, { proposed: 1500, committed: 1560 }],
    ]);
    const p = latencyParts(
      [{ submitted: 900, admitted: 910, included: 20, height: 22, executed: 1600, seen: 1601 }],
      heights,
    );
    expect(p).toMatchObject({ toBlock: 90, consensus: 50, shares: 510, execution: 40, total: 701 });
    expect(p.height).toBe(260); // 22 came 260 ms after 21
  });

  it('a transaction whose height was not seen is left out of the parts', () => {
    const p = latencyParts(
      [{ submitted: 0, admitted: 1, included: 5, height: 5, executed: 10, seen: 11 }],
      new Map<number, HeightTimes>(),
    );
    expect(p.n).toBe(0);
    expect(formatParts(p)).toContain('medians of 0');
  });
});
