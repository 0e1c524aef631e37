import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WorkerPool } from './workers.ts';

describe('worker pool', () => {
  it('runs tasks in workers and returns results in task order', async () => {
    const pool = new WorkerPool(new URL('./testing/square-task.ts', import.meta.url).href, 2);
    try {
      const results = await pool.run<number, number>([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(results).toEqual([1, 4, 9, 16, 25, 36, 49, 64]);
    } finally {
      await pool.close();
    }
  });

  it('close() of idle workers holds the process until they exited (no unsettled await, exit 0)', () => {
    // in a process of its own: nothing else keeps its event loop alive while close() is awaited
    const script = `
      const { WorkerPool } = await import(${JSON.stringify(new URL('./workers.ts', import.meta.url).href)});
      for (let i = 0; i < 3; i++) {
        const pool = new WorkerPool(${JSON.stringify(new URL('./testing/square-task.ts', import.meta.url).href)}, 2);
        await pool.run([1, 2, 3]);
        await pool.close();
      }
      console.log('closed');
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stdout.trim()).toBe('closed');
    expect(r.status).toBe(0);
  });

  it('a failing task rejects with its error', async () => {
    const pool = new WorkerPool(new URL('./testing/square-task.ts', import.meta.url).href, 1);
    try {
      await expect(pool.run<number, number>([-1])).rejects.toThrow(/negative/);
    } finally {
      await pool.close();
    }
  });
});
