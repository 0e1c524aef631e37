/**
 * Where a node's time goes: a V8 CPU profile (`node --cpu-prof`) summed by layer (codec, crypto,
 * XState, SQLite, Merkle, network, ...) and by engine. A sample's layer is that of the function it
 * was taken in (a native function, or a Node.js helper such as a stream or zlib's crc32, takes its
 * caller's); its engine is the nearest frame under `engines/<name>/` on its stack, else what
 * outside the engines holds it (the engine runtime, the RPC server, the transport), else `node`.
 */

/** The parts of a `.cpuprofile` this reads. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** sampled time in ms */
  totalMs: number;
  /** ms by layer */
  layers: Record<string, number>;
  /** ms by engine (or outside part), then by layer */
  engines: Record<string, Record<string, number>>;
}

/** The layer a source belongs to, by its URL (or function name for V8's own entries). */
export function layerOf(url: string, functionName: string): string | undefined {
  if (url === '') {
    if (functionName === '(garbage collector)') return 'gc';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'program';
    return undefined; // a native function: its caller's layer
  }
  const u = url.replace(/\\/g, '/');
  const has = (s: string) => u.includes(s);
  // libsodium (the decryptor's curve arithmetic) and the wasm VM: the engine column tells which
  if (u.startsWith('wasm://')) return 'wasm';
  if (u.startsWith('node:')) {
    if (has('node:internal/crypto')) return 'crypto';
    if (has('node:internal/modules') || has('node:internal/deps/cjs-module-lexer') || has('bootstrap'))
      return 'loading';
    if (u === 'node:net' || has('node:_http') || has('node:internal/http')) return 'network';
    return undefined; // streams, buffers, timers, zlib's crc32: their caller's layer
  }
  if (has('/node_modules/xstate/')) return 'xstate';
  if (has('/node_modules/rxjs/')) return 'rxjs';
  if (has('/node_modules/better-sqlite3/')) return 'sqlite';
  if (has('/node_modules/@noble/') || has('/node_modules/libsodium')) return 'crypto';
  if (has('/node_modules/ws/')) return 'network';
  if (has('/node_modules/pino') || has('/node_modules/sonic-boom') || has('/node_modules/thread-stream'))
    return 'logging';
  if (has('/node_modules/tsx/') || has('/node_modules/esbuild/')) return 'loading';
  const ours = /\/(wire|crypto|storage|runtime|vm|engines|apps|node|sim|viz|assembly|cli)\/([^?#]*)$/.exec(u);
  if (ours === null) return 'other';
  const [, top, rest] = ours as unknown as [string, string, string];
  if (top === 'wire') return rest.startsWith('sign') ? 'crypto' : 'codec';
  if (top === 'crypto') return 'crypto';
  if (top === 'storage') return rest.startsWith('merkle') ? 'merkle' : 'sqlite';
  if (top === 'node') return rest.startsWith('net/') ? 'network' : rest.startsWith('rpc/') ? 'rpc' : 'node';
  if (top === 'engines') return 'engines';
  return top;
}

/** The engine (or outside part) a frame's source belongs to, if it names one. */
export function ownerOf(url: string): string | undefined {
  const u = url.replace(/\\/g, '/');
  const engine = /\/engines\/([^/]+)\//.exec(u);
  if (engine !== null) return engine[1];
  if (u.includes('/node/rpc/')) return 'rpc';
  if (u.includes('/node/net/')) return 'transport';
  // the engine runtime (XState's own work, the write effects it lands) outside any engine's code
  if (u.includes('/runtime/')) return 'runtime';
  return undefined;
}

/** Sums a profile's samples by layer and by engine. */
export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // each node's layer and owner, resolved once (they depend only on the node's stack)
  const resolved = new Map<number, { layer: string; owner: string }>();
  const resolve = (id: number): { layer: string; owner: string } => {
    const known = resolved.get(id);
    if (known !== undefined) return known;
    const n = byId.get(id);
    const up = parent.get(id);
    const above = up === undefined ? { layer: 'other', owner: 'node' } : resolve(up);
    const frame = n?.callFrame ?? { url: '', functionName: '' };
    const r = {
      layer: layerOf(frame.url, frame.functionName) ?? above.layer,
      owner: ownerOf(frame.url) ?? above.owner,
    };
    resolved.set(id, r);
    return r;
  };
  const layers: Record<string, number> = {};
  const engines: Record<string, Record<string, number>> = {};
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i] ?? 0;
    const id = profile.samples[i]!;
    totalUs += us;
    const { layer, owner } = resolve(id);
    add(layers, layer, us / 1000);
    add(slot(engines, owner), layer, us / 1000);
  }
  return { totalMs: totalUs / 1000, layers, engines };
}

/** Adds summaries (several nodes' profiles into one). */
export function addSummaries(summaries: readonly ProfileSummary[]): ProfileSummary {
  const out: ProfileSummary = { totalMs: 0, layers: {}, engines: {} };
  for (const s of summaries) {
    out.totalMs += s.totalMs;
    for (const [k, v] of Object.entries(s.layers)) add(out.layers, k, v);
    for (const [e, ls] of Object.entries(s.engines)) {
      const to = slot(out.engines, e);
      for (const [k, v] of Object.entries(ls)) add(to, k, v);
    }
  }
  return out;
}

function add(into: Record<string, number>, key: string, ms: number): void {
  into[key] = (into[key] ?? 0) + ms;
}

function slot(into: Record<string, Record<string, number>>, key: string): Record<string, number> {
  let s = into[key];
  if (s === undefined) {
    s = {};
    into[key] = s;
  }
  return s;
}

const pct = (part: number, whole: number) => (whole === 0 ? '0.0' : ((100 * part) / whole).toFixed(1));

/**
 * The summary as text: the layers by share of the sampled time (idle left out of the shares),
 * then each engine's share with its three largest layers.
 */
export function formatSummary(title: string, s: ProfileSummary): string[] {
  const busy = s.totalMs - (s.layers.idle ?? 0);
  const lines = [`${title}: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${(busy / 1000).toFixed(1)} s busy`];
  const layers = Object.entries(s.layers)
    .filter(([k]) => k !== 'idle')
    .sort((a, b) => b[1] - a[1]);
  lines.push(`  by layer:  ${layers.map(([k, v]) => `${k} ${pct(v, busy)}%`).join(', ')}`);
  const engines = Object.entries(s.engines)
    .map(([e, ls]) => {
      const total = Object.entries(ls).reduce((a, [k, v]) => (k === 'idle' ? a : a + v), 0);
      return { e, total, ls };
    })
    .filter((x) => x.total > 0)
    .sort((a, b) => b.total - a.total);
  for (const { e, total, ls } of engines) {
    const top = Object.entries(ls)
      .filter(([k]) => k !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, v]) => `${k} ${pct(v, busy)}%`)
      .join(', ');
    lines.push(`  ${e.padEnd(10)} ${pct(total, busy).padStart(5)}%  (${top})`);
  }
  return lines;
}
