import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { hostStateKey, ibcPrefix, objectKey, parseObjectKey, stateKey } from './notes.ts';
import { commitmentPath } from './paths.ts';

const HOST = new Uint8Array(32).fill(7);

describe('IBC paths as note keys', () => {
  it('a path and version round-trip through the key; other keys are refused', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 100 }).filter((p) => !p.includes('\0')),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (path, version) => {
          expect(parseObjectKey(objectKey(path, version))).toEqual(
            path.length === 0 ? undefined : { path, version },
          );
        },
      ),
      propParams('ibc object keys round-trip', 200),
    );
    expect(parseObjectKey(new Uint8Array(5))).toBeUndefined();
    const k = objectKey('a/b', 3n);
    k[3] = 1; // the separator is gone
    expect(parseObjectKey(k)).toBeUndefined();
    expect(parseObjectKey(Uint8Array.of(0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 1))).toBeUndefined();
  });

  it('the state key a counterparty proves is the note key of the host note', () => {
    const path = commitmentPath('transfer', 'channel-0', 12n);
    expect(stateKey(ibcPrefix(HOST), path, 4n)).toEqual(hostStateKey(HOST, path, 4n));
    expect(stateKey(ibcPrefix(HOST), path, 4n)).not.toEqual(hostStateKey(HOST, path, 5n));
  });
});
