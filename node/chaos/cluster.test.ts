import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChaosCluster, clearRunDir, MARKER } from './cluster.ts';

const root = mkdtempSync(join(tmpdir(), 'fractal-chaos-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the chaos run folder and ports', () => {
  it('deletes a previous run folder, and refuses a folder that is not one', () => {
    const run = join(root, 'run');
    mkdirSync(join(run, 'v0'), { recursive: true });
    writeFileSync(join(run, MARKER), '{}');
    clearRunDir(run);
    expect(existsSync(run)).toBe(false);
    const other = join(root, 'precious');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'keep me');
    expect(() => clearRunDir(other)).toThrow(/not a chaos run folder/);
    expect(existsSync(join(other, 'notes.txt'))).toBe(true);
    clearRunDir(join(root, 'absent')); // nothing there: nothing to do
  });

  it('gives every directed link its own proxy port, above the nodes’ ports', () => {
    for (const n of [4, 7, 10]) {
      const base = 30_000;
      const ports = new Set<number>();
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) if (i !== j) ports.add(ChaosCluster.proxyPort(base, n, i, j));
      expect(ports.size).toBe(n * (n - 1));
      expect(Math.min(...ports)).toBeGreaterThanOrEqual(base + 2 * n);
      expect(Math.max(...ports)).toBeLessThan(base + 2 * n + n * n);
    }
  });
});
