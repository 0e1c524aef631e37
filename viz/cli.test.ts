import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { exportStatecharts } from './export.ts';

const FRACTAL = fileURLToPath(new URL('../bin/fractal.js', import.meta.url));
const fractal = (...args: string[]) => spawnSync(process.execPath, [FRACTAL, ...args], { encoding: 'utf8' });

describe('fractal viz export', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fractal-viz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes Mermaid to stdout by default, JSON with --format json, to a file with --out', () => {
    const md = fractal('viz', 'export');
    expect(md.status).toBe(0);
    expect(md.stdout).toBe(exportStatecharts('mermaid'));
    const out = join(dir, 'charts.json');
    const json = fractal('viz', 'export', '--format', 'json', '--out', out);
    expect(json.status).toBe(0);
    expect(json.stdout).toBe('');
    expect(readFileSync(out, 'utf8')).toBe(exportStatecharts('json'));
  });

  it('refuses an unknown format clearly', () => {
    const r = fractal('viz', 'export', '--format', 'svg');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('--format must be mermaid or json, got "svg"');
    expect(r.stdout).toBe('');
  });
});
