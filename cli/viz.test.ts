import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { exportStatecharts } from '../viz/export.ts';

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

/** Starts `fractal …` and resolves with the process and the first URL it prints. */
function serving(args: string[]): Promise<{ child: ChildProcess; url: string; out: () => string }> {
  const child = spawn(process.execPath, [FRACTAL, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 30 s; printed: ${out}`)), 30_000);
    const look = () => {
      const url = /http:\/\/127\.0\.0\.1:\d+\/viz\//.exec(out)?.[0];
      if (url === undefined) return;
      clearTimeout(timer);
      child.stdout!.off('data', look);
      resolve({ child, url, out: () => out });
    };
    child.stdout!.on('data', look);
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing a URL: ${out}`)));
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

describe('fractal sim --viz, fractal sim --record and fractal viz open', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fractal-viz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sim --viz prints the URL of a page that is served, and stops on Ctrl-C', async () => {
    const { child, url, out } = await serving(['sim', '--viz', '--viz-port', '0', '--seed', '9']);
    expect(out()).toMatch(/fractal sim: sim seed 9: 4 validators/);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script');
    const code = exited(child);
    child.kill('SIGINT');
    expect(await code).toBe(0);
  });

  it('sim --record writes a trace that viz open serves; a broken file is refused clearly', async () => {
    const file = join(dir, 'run.jsonl');
    const rec = fractal('sim', '--seed', '4', '--heights', '3', '--quiet', '--no-replay', '--record', file);
    expect(rec.status).toBe(0);
    expect(rec.stdout).toContain(`trace recorded to ${file}`);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toContain('"fractal-trace"');
    const { child, url } = await serving(['viz', 'open', file, '--port', '0']);
    expect((await fetch(url)).status).toBe(200);
    const code = exited(child);
    child.kill('SIGTERM');
    expect(await code).toBe(0);
    writeFileSync(
      join(dir, 'bad.jsonl'),
      '{"type":"fractal-trace","version":1,"title":"t","nodes":[]}\n{oops\n',
    );
    const bad = fractal('viz', 'open', join(dir, 'bad.jsonl'), '--port', '0');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('trace line 2: not JSON');
  });
});
