/**
 * Crash durability of SqliteStorage: a child process (storage/testing/batch-writer.ts) commits
 * large batches in a loop; we SIGKILL it at varied points (mostly in the middle of a batch), then
 * reopen the same file and check that
 *   - the file passes SQLite's full integrity check,
 *   - every batch the child reported as committed is present (durability),
 *   - every batch is entirely present or entirely absent, including its deletes of an older
 *     batch and its HEAD update (atomicity): exactly batches HEAD-1 and HEAD exist, complete.
 * The next round resumes on the same file, so recovery from a WAL left by a kill is exercised too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStorage } from './sqlite.ts';
import { BATCH_TAG, batchValue, readHead } from './testing/batch-writer.ts';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const script = join(root, 'storage', 'testing', 'batch-writer.ts');
const dir = mkdtempSync(join(tmpdir(), 'fractal-storage-durability-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEYS_PER_BATCH = 2000;

interface Round {
  /** Kill this many ms after the child starts its target batch (-1: kill while it is still starting up). */
  delayMs: number;
}

interface Outcome {
  lastCommitted: number;
  lastBegun: number;
  /** The child had begun a batch it never reported committed: the kill landed inside a batch. */
  midBatch: boolean;
}

function runAndKill(path: string, round: Round): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', script, path, String(KEYS_PER_BATCH)],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let lastCommitted = -1;
    let lastBegun = -1;
    let commitsSeen = 0;
    let killed = false;
    let buf = '';
    let stderr = '';
    const kill = () => {
      if (killed) return;
      killed = true;
      child.kill('SIGKILL');
    };
    const safety = setTimeout(() => {
      kill();
      reject(new Error(`child made no progress; stderr: ${stderr}`));
    }, 20_000);
    if (round.delayMs < 0) setTimeout(kill, 150);
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const [what, n] = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        const b = Number(n);
        if (what === 'commit') {
          lastCommitted = b;
          commitsSeen++;
        } else if (what === 'begin') {
          lastBegun = b;
          // let a few batches go through first, then kill partway into this one
          if (commitsSeen >= 3 && !killed && round.delayMs >= 0) {
            if (round.delayMs === 0) kill();
            else setTimeout(kill, round.delayMs);
          }
        }
      }
    });
    // 'close' comes after stdout is drained, so every line the child wrote has been seen
    child.on('close', (code, signal) => {
      clearTimeout(safety);
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code ?? signal}; stderr: ${stderr}`));
      else resolve({ lastCommitted, lastBegun, midBatch: lastBegun > lastCommitted });
    });
  });
}

/** Batch number -> number of its keys present, checking every value carries its batch number. */
function batchesPresent(s: SqliteStorage): Map<number, number> {
  const counts = new Map<number, number>();
  for (const [k, v] of s.scan(Uint8Array.of(BATCH_TAG))) {
    const kv = new DataView(k.buffer, k.byteOffset, k.byteLength);
    const b = kv.getUint32(1);
    const i = kv.getUint32(5);
    expect(Buffer.from(v).equals(Buffer.from(batchValue(b, i)))).toBe(true);
    counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  return counts;
}

describe('SqliteStorage durability across SIGKILL', () => {
  it('every batch is all-or-nothing and every reported commit survives', async () => {
    const path = join(dir, 'kill.sqlite');
    const rounds: Round[] = [
      { delayMs: 0 },
      { delayMs: 1 },
      { delayMs: 3 },
      { delayMs: -1 },
      { delayMs: 5 },
      { delayMs: 8 },
      { delayMs: 2 },
    ];
    let previousHead = -1;
    let midBatchKills = 0;
    const log: string[] = [];
    for (const round of rounds) {
      const out = await runAndKill(path, round);
      if (out.midBatch) midBatchKills++;
      const s = SqliteStorage.open(path, { integrityCheck: 'full' });
      try {
        expect(s.integrityCheck('full')).toEqual([]);
        const head = readHead(s) ?? -1;
        const present = batchesPresent(s);
        log.push(
          `delay=${round.delayMs}ms committed=${out.lastCommitted} begun=${out.lastBegun} head=${head} ` +
            `midBatch=${out.midBatch} inflight=${out.lastBegun > out.lastCommitted ? (head === out.lastBegun ? 'present' : 'absent') : 'none'}`,
        );
        // durability: nothing reported committed was lost, nothing not yet begun appeared
        expect(head).toBeGreaterThanOrEqual(out.lastCommitted);
        expect(head).toBeGreaterThanOrEqual(previousHead);
        if (out.lastBegun >= 0) expect(head).toBeLessThanOrEqual(out.lastBegun);
        // atomicity: exactly batches head-1 and head, each complete
        const expected = new Map<number, number>();
        if (head >= 1) expected.set(head - 1, KEYS_PER_BATCH);
        if (head >= 0) expected.set(head, KEYS_PER_BATCH);
        expect(present).toEqual(expected);
        previousHead = head;
      } finally {
        s.close();
      }
    }
    console.log(`durability rounds:\n  ${log.join('\n  ')}`);
    expect(previousHead).toBeGreaterThanOrEqual(rounds.length); // the child made progress every round
    // the kill points really were inside batches (the child spends most of its time in s.batch)
    expect(midBatchKills).toBeGreaterThanOrEqual(2);
  });
});
