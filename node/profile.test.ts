import { describe, expect, it } from 'vitest';
import {
  addSummaries,
  type CpuProfile,
  formatSummary,
  layerOf,
  ownerOf,
  summarizeProfile,
} from './profile.ts';

const root = 'file:///work/main';

describe('CPU profile summary', () => {
  it('puts sources in their layers', () => {
    expect(layerOf(`${root}/wire/schema.ts`, 'read')).toBe('codec');
    expect(layerOf(`${root}/wire/sign.ts`, 'verify')).toBe('crypto');
    expect(layerOf(`${root}/storage/merkle.ts`, 'stage')).toBe('merkle');
    expect(layerOf(`${root}/storage/sqlite.ts`, 'batch')).toBe('sqlite');
    expect(layerOf(`${root}/node_modules/xstate/dist/raise.cjs.js`, 'macrostep')).toBe('xstate');
    expect(layerOf(`${root}/node_modules/ws/lib/receiver.js`, 'x')).toBe('network');
    expect(layerOf(`${root}/node/net/network.ts`, 'x')).toBe('network');
    expect(layerOf(`${root}/node/rpc/server.ts`, 'x')).toBe('rpc');
    expect(layerOf(`${root}/engines/consensus/node.ts`, 'onNet')).toBe('engines');
    expect(layerOf('node:internal/crypto/hash', 'hash')).toBe('crypto');
    expect(layerOf('node:internal/crypto/sig', 'verifyOneShot')).toBe('crypto');
    expect(layerOf('node:internal/modules/esm/utils', 'compile')).toBe('loading');
    expect(layerOf('node:zlib', 'crc32')).toBeUndefined();
    expect(layerOf('wasm://wasm/0011650e', 'wasm-function[5]')).toBe('wasm');
    expect(layerOf('', '(garbage collector)')).toBe('gc');
    expect(layerOf('', 'run')).toBeUndefined();
    expect(ownerOf(`${root}/engines/mempool/pool.ts`)).toBe('mempool');
    expect(ownerOf(`${root}/node/rpc/server.ts`)).toBe('rpc');
    expect(ownerOf(`${root}/runtime/instance.ts`)).toBe('runtime');
    expect(ownerOf(`${root}/wire/schema.ts`)).toBeUndefined();
  });

  it('sums self time by layer and by the engine on the stack; a native function takes its caller', () => {
    // main -> consensus onNet -> schema read (2 ms) ; main -> consensus onNet -> native run (3 ms)
    // main -> rpc handler -> sqlite (1 ms) ; gc (4 ms) ; idle (10 ms)
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '' }, children: [2, 6, 7] },
        { id: 2, callFrame: { functionName: 'main', url: `${root}/cli/main.ts` }, children: [3, 8] },
        {
          id: 3,
          callFrame: { functionName: 'onNet', url: `${root}/engines/consensus/node.ts` },
          children: [4, 5],
        },
        { id: 4, callFrame: { functionName: 'read', url: `${root}/wire/schema.ts` } },
        { id: 5, callFrame: { functionName: 'run', url: '' } },
        { id: 6, callFrame: { functionName: '(garbage collector)', url: '' } },
        { id: 7, callFrame: { functionName: '(idle)', url: '' } },
        { id: 8, callFrame: { functionName: 'handle', url: `${root}/node/rpc/server.ts` }, children: [9] },
        { id: 9, callFrame: { functionName: 'get', url: `${root}/storage/sqlite.ts` } },
      ],
      samples: [4, 5, 9, 6, 7],
      timeDeltas: [2000, 3000, 1000, 4000, 10000],
    };
    const s = summarizeProfile(profile);
    expect(s.totalMs).toBe(20);
    expect(s.layers).toEqual({ codec: 2, engines: 3, sqlite: 1, gc: 4, idle: 10 });
    expect(s.engines).toEqual({
      consensus: { codec: 2, engines: 3 },
      rpc: { sqlite: 1 },
      node: { gc: 4, idle: 10 },
    });
    const both = addSummaries([s, s]);
    expect(both.totalMs).toBe(40);
    expect(both.engines.consensus).toEqual({ codec: 4, engines: 6 });
    const text = formatSummary('v0', s);
    expect(text[0]).toBe('v0: 0.0 s sampled, 0.0 s busy');
    // shares of the busy time (10 ms): gc 40 %, engines 30 %, codec 20 %, sqlite 10 %
    expect(text[1]).toBe('  by layer:  gc 40.0%, engines 30.0%, codec 20.0%, sqlite 10.0%');
    expect(text[2]).toMatch(/^ {2}consensus +50\.0% {2}\(engines 30\.0%, codec 20\.0%\)$/);
  });
});
