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

  it('a failing task rejects with its error', async () => {
    const pool = new WorkerPool(new URL('./testing/square-task.ts', import.meta.url).href, 1);
    try {
      await expect(pool.run<number, number>([-1])).rejects.toThrow(/negative/);
    } finally {
      await pool.close();
    }
  });
});
