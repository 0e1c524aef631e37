import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  check,
  checkEdges,
  type Edge,
  findCycles,
  formatViolation,
  isLocal,
  LAYERS,
  layerClosure,
  layerOf,
  parseSpecifiers,
  resolveSpecifier,
} from './layering.ts';

const edge = (from: string, to: string): Edge => ({ from, to, typeOnly: false, line: 1 });
const rules = (edges: Edge[]) => checkEdges(edges).map(formatViolation);

describe('parseSpecifiers', () => {
  it('finds every kind of import, in order, with its line and whether it is type-only', () => {
    const src = [
      "import a from './a.ts';",
      "import type { B } from './b.ts';",
      "import { type C, type D } from './cd.ts';",
      "import { type E, f } from './ef.ts';",
      "export { g } from './g.ts';",
      "export type { H } from './h.ts';",
      "export * from './star.ts';",
      "import './side-effect.ts';",
      "const m = await import('./dynamic.ts');",
      "type T = import('./typed.ts').T;",
      "import x = require('./required.ts');",
      "const w = new URL('./worker.ts', import.meta.url);",
      "import { readFileSync } from 'node:fs';",
    ].join('\n');
    expect(parseSpecifiers(src).map((s) => [s.specifier, s.kind, s.typeOnly, s.line])).toEqual([
      ['./a.ts', 'static', false, 1],
      ['./b.ts', 'static', true, 2],
      ['./cd.ts', 'static', true, 3],
      ['./ef.ts', 'static', false, 4],
      ['./g.ts', 'export', false, 5],
      ['./h.ts', 'export', true, 6],
      ['./star.ts', 'export', false, 7],
      ['./side-effect.ts', 'static', false, 8],
      ['./dynamic.ts', 'dynamic', false, 9],
      ['./typed.ts', 'type-import', true, 10],
      ['./required.ts', 'require', false, 11],
      ['./worker.ts', 'worker', false, 12],
      ['node:fs', 'static', false, 13],
    ]);
  });

  it('ignores what only looks like an import: comments, strings, templates, other URLs', () => {
    const src = [
      "// import x from './comment.ts';",
      "/* export * from './block.ts'; */",
      'const s = "import y from \'./string.ts\'";',
      "const t = `import('./template.ts')`;",
      "const u = new URL('./page.html', base);",
      "const v = new URL('https://example.com/x.ts', import.meta.url);",
      'const d = import(name);',
    ].join('\n');
    expect(parseSpecifiers(src)).toEqual([]);
  });

  it('tells ours from packages', () => {
    expect(['./a.ts', '../b.ts', '.', '..'].every(isLocal)).toBe(true);
    expect(['rxjs', 'node:fs', '@noble/hashes/sha2', '.hidden'].some(isLocal)).toBe(false);
  });
});

describe('resolveSpecifier', () => {
  const files = new Set(['wire/codec.ts', 'wire/index.ts', 'node/rpc/index.ts', 'bin/fractal.js']);
  const isFile = (p: string) => files.has(p);
  it('resolves relative paths, .js spellings of .ts files, bare names and folder indexes', () => {
    expect(resolveSpecifier('engines/x/a.ts', '../../wire/codec.ts', isFile)).toBe('wire/codec.ts');
    expect(resolveSpecifier('engines/x/a.ts', '../../wire/codec.js', isFile)).toBe('wire/codec.ts');
    expect(resolveSpecifier('engines/x/a.ts', '../../wire/codec', isFile)).toBe('wire/codec.ts');
    expect(resolveSpecifier('engines/x/a.ts', '../../wire', isFile)).toBe('wire/index.ts');
    expect(resolveSpecifier('node/api.ts', './rpc/index.ts', isFile)).toBe('node/rpc/index.ts');
    expect(resolveSpecifier('node/cli.test.ts', '../bin/fractal.js', isFile)).toBe('bin/fractal.js');
  });
  it('gives undefined for a missing file or one outside the repository', () => {
    expect(resolveSpecifier('wire/a.ts', './missing.ts', isFile)).toBeUndefined();
    expect(resolveSpecifier('wire/a.ts', '../../elsewhere/codec.ts', isFile)).toBeUndefined();
  });
});

describe('layers', () => {
  it('puts a file in the layer of the longest matching name', () => {
    const layers = { node: [], 'node/cli': ['node'] };
    expect(layerOf('node/cli/main.ts', layers)).toBe('node/cli');
    expect(layerOf('node/client.ts', layers)).toBe('node');
    expect(layerOf('nodes/x.ts', layers)).toBeUndefined();
    expect(layerOf('vitest.config.ts')).toBe('vitest.config.ts');
  });

  it('closes each layer over what it may import, and refuses a cycle or an unknown layer', () => {
    const c = layerClosure({ a: [], b: ['a'], c: ['b'], d: ['a'] });
    expect([...c.get('c')!].sort()).toEqual(['a', 'b', 'c']);
    expect(c.get('d')!.has('b')).toBe(false);
    expect(() => layerClosure({ a: ['c'], b: ['a'], c: ['b'] })).toThrow(/cycle: a -> c -> b -> a/);
    expect(() => layerClosure({ a: ['nope'] })).toThrow(/no layer nope/);
  });

  it("the repository's layers form no cycle and keep the core a chain", () => {
    const c = layerClosure(LAYERS);
    const core = ['wire', 'crypto', 'storage', 'runtime', 'vm', 'engines', 'apps'];
    core.forEach((l, i) => {
      expect([...c.get(l)!].sort(), l).toEqual(core.slice(0, i + 1).sort());
    });
    expect(c.get('node')!.has('sim')).toBe(false);
    expect(c.get('viz')!.has('sim')).toBe(false);
    expect(c.get('cli')!.has('sim') && c.get('cli')!.has('node')).toBe(true);
    // the peer session sits on the runtime, under both the simulator and the live node, and
    // reaches neither the engines nor either of its drivers
    expect([...c.get('peer')!].sort()).toEqual(['crypto', 'peer', 'runtime', 'storage', 'wire']);
    for (const l of ['sim', 'viz', 'node']) expect(c.get(l)!.has('peer'), l).toBe(true);
  });
});

describe('checkEdges on a small graph', () => {
  it('passes imports that go down', () => {
    expect(
      rules([
        edge('crypto/dkg.ts', 'wire/codec.ts'),
        edge('engines/consensus/node.ts', 'storage/types.ts'),
        edge('engines/consensus/node.ts', 'engines/consensus/round.ts'),
        edge('node/node.ts', 'viz/hub.ts'),
        edge('cli/main.ts', 'sim/cluster.ts'),
        edge('sim/pipeline.ts', 'assembly/assemble.ts'),
      ]),
    ).toEqual([]);
  });

  it('names the file, what it imports and the rule it breaks', () => {
    expect(rules([edge('wire/codec.ts', 'engines/consensus/messages.ts')])).toEqual([
      'layering: wire/codec.ts imports engines/consensus/messages.ts: wire may not import engines (wire imports nothing of ours)',
    ]);
    expect(rules([edge('storage/merkle.ts', 'runtime/graph.ts')])).toEqual([
      'layering: storage/merkle.ts imports runtime/graph.ts: storage may not import runtime (storage imports only crypto, wire)',
    ]);
  });

  it('keeps the live node and the visualiser off the simulator, and engines off each other', () => {
    expect(rules([edge('node/node.ts', 'sim/cluster.ts')])).toEqual([
      'layering: node/node.ts imports sim/cluster.ts: node may not import sim (node imports only viz, assembly, apps, engines, vm, runtime, storage, crypto, wire, peer)',
    ]);
    expect(rules([edge('viz/source.ts', 'sim/cluster.ts')])).toHaveLength(1);
    expect(rules([edge('viz/hub.ts', 'node/node.ts')])).toHaveLength(1);
    expect(rules([edge('engines/decryptor/store.ts', 'engines/consensus/store.ts')])).toEqual([
      'layering: engines/decryptor/store.ts imports engines/consensus/store.ts: engine decryptor may not import engine consensus',
    ]);
  });

  it('lets a test use the simulator and the harness, nothing else above it; nothing imports a test', () => {
    expect(
      rules([
        edge('engines/mempool/engine.test.ts', 'sim/network.ts'),
        edge('wire/codec.test.ts', 'props/config.ts'),
        edge('node/listen.test.ts', 'bin/fractal.js'),
        edge('viz/page.browser.ts', 'sim/cluster.ts'),
      ]),
    ).toEqual([]);
    expect(rules([edge('viz/hub.test.ts', 'node/testing.ts')])).toHaveLength(1);
    expect(rules([edge('wire/codec.ts', 'props/config.ts')])).toHaveLength(1);
    expect(rules([edge('sim/cluster.ts', 'sim/cluster.test.ts')])).toEqual([
      'layering: sim/cluster.ts imports sim/cluster.test.ts: a test is imported (tests are leaves)',
    ]);
  });

  it('reports a file outside every layer', () => {
    expect(rules([edge('misc/x.ts', 'wire/codec.ts')])).toEqual([
      'layering: misc/x.ts imports wire/codec.ts: misc/x.ts is in no layer (add its folder to LAYERS)',
    ]);
  });
});

describe('findCycles', () => {
  const graph = (edges: [string, string][]) => {
    const g = new Map<string, string[]>();
    for (const [a, b] of edges) g.set(a, [...(g.get(a) ?? []), b]);
    return g;
  };

  it('finds a planted cycle, in import order, from its first file', () => {
    const g = graph([
      ['app.ts', 'vm/multievaluate.ts'],
      ['vm/multievaluate.ts', 'vm/table.ts'],
      ['vm/table.ts', 'vm/provable.ts'],
      ['vm/provable.ts', 'vm/multievaluate.ts'],
      ['vm/table.ts', 'vm/types.ts'],
    ]);
    expect(findCycles(g)).toEqual([
      ['vm/multievaluate.ts', 'vm/table.ts', 'vm/provable.ts', 'vm/multievaluate.ts'],
    ]);
  });

  it('finds a two-file cycle, a file importing itself, and each cycle once', () => {
    const g = graph([
      ['node/api.ts', 'node/node.ts'],
      ['node/node.ts', 'node/api.ts'],
      ['x.ts', 'x.ts'],
      ['a.ts', 'b.ts'],
      ['b.ts', 'a.ts'],
      ['b.ts', 'c.ts'],
      ['c.ts', 'a.ts'],
    ]);
    expect(findCycles(g)).toEqual([
      ['a.ts', 'b.ts', 'a.ts'],
      ['node/api.ts', 'node/node.ts', 'node/api.ts'],
      ['x.ts', 'x.ts'],
    ]);
  });

  it('finds none in a graph without cycles, however it branches', () => {
    const g = graph([
      ['a', 'b'],
      ['a', 'c'],
      ['b', 'd'],
      ['c', 'd'],
      ['d', 'e'],
    ]);
    expect(findCycles(g)).toEqual([]);
  });

  it('copes with a long chain (no recursion to overflow)', () => {
    const edges: [string, string][] = [];
    for (let i = 0; i < 20_000; i++) edges.push([`f${i}`, `f${i + 1}`]);
    edges.push(['f20000', 'f0']);
    const [cycle] = findCycles(graph(edges));
    expect(cycle).toHaveLength(20_002);
  });
});

describe('check over a tree on disk', () => {
  const root = mkdtempSync(join(tmpdir(), 'layering-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };

  it('reports a planted upward import, a cycle and a missing file; counts files and edges', () => {
    write('wire/codec.ts', "import { m } from '../engines/consensus/messages.ts';\nexport const c = m;\n");
    write(
      'engines/consensus/messages.ts',
      "import type { c } from '../../wire/codec.ts';\nexport const m = 1;\n",
    );
    write('engines/mempool/pool.ts', "import './missing.ts';\nimport 'rxjs';\n");
    const r = check(root);
    expect(r.files).toBe(3);
    expect(r.edges).toHaveLength(2);
    expect(r.violations.map(formatViolation)).toEqual([
      'layering: engines/mempool/pool.ts imports ./missing.ts: no such file (line 1)',
      'layering: wire/codec.ts imports engines/consensus/messages.ts: wire may not import engines (wire imports nothing of ours)',
      'layering: engines/consensus/messages.ts imports wire/codec.ts: import cycle engines/consensus/messages.ts -> wire/codec.ts -> engines/consensus/messages.ts',
    ]);
  });

  it('passes on this repository', () => {
    const r = check(join(import.meta.dirname, '..'));
    expect(r.violations.map(formatViolation)).toEqual([]);
    expect(r.files).toBeGreaterThan(200);
  });
});
