import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { caughtBy, PLANTED_BUGS, plant } from './planted-bugs.ts';

const root = join(import.meta.dirname, '..');

describe('npm run planted', () => {
  it('every planted bug still applies to the tree, exactly once per edit, and changes it', () => {
    for (const bug of PLANTED_BUGS) {
      for (const e of bug.edits) {
        const source = readFileSync(join(root, e.file), 'utf8');
        const planted = plant(source, bug, e);
        expect(planted, bug.name).not.toBe(source);
      }
    }
    expect(new Set(PLANTED_BUGS.map((b) => b.name)).size).toBe(PLANTED_BUGS.length);
  });

  it('refuses an edit whose text is missing or ambiguous', () => {
    const bug = PLANTED_BUGS[0]!;
    expect(() => plant('nothing here', bug, { file: 'x.ts', find: 'absent', replace: '' })).toThrow(
      /nowhere/,
    );
    expect(() => plant('a a', bug, { file: 'x.ts', find: 'a', replace: '' })).toThrow(/more than once/);
  });

  it('counts a bug as caught by a property only when a property file failed', () => {
    const report = (name: string, status: string) => ({
      testResults: [{ name: `/tmp/x/${name}`, assertionResults: [{ fullName: 't', status }] }],
    });
    expect(caughtBy(report('props/consensus.test.ts', 'failed'), '/tmp/x')).toEqual({
      failed: ['props/consensus.test.ts > t'],
      byProperty: true,
    });
    expect(caughtBy(report('props/consensus-restart.test.ts', 'failed'), '/tmp/x').byProperty).toBe(false);
    const named = {
      testResults: [
        {
          name: '/tmp/x/props/consensus-restart.test.ts',
          assertionResults: [{ fullName: 'restarts property: locks survive', status: 'failed' }],
        },
      ],
    };
    expect(caughtBy(named, '/tmp/x').byProperty).toBe(true);
    expect(caughtBy(report('props/consensus.test.ts', 'passed'), '/tmp/x').failed).toEqual([]);
  });
});
