// The layering check (`npx tsx scripts/layering.ts`, run by .ci/run right after lint): reads every
// source file of the repository, finds what it imports, and checks the dependency rules of the
// README's "Layering" paragraph:
//
// - a layer imports only the layers LAYERS lets it (downwards: the core is the chain wire, crypto,
//   storage, runtime, vm, engines, apps; beside it the peer session on runtime; above it assembly,
//   then sim and viz (both on the peer session too), node on viz, cli on node and sim); a test may
//   also import the simulator and the test harness (TEST_MAY_IMPORT),
//   and nothing imports a test;
// - no engine imports another engine (engines/<a>/ never imports engines/<b>/);
// - no file-level import cycles anywhere, type-only imports included: a type-only cycle still ties
//   two modules together, so neither can be read, moved or tested apart.
//
// An edge is any static `import … from`, `export … from`, side-effect `import '…'`, `import x =
// require('…')`, dynamic `import('…')`, a type `import('…')`, and a file loaded at run time,
// `new URL('./x.ts', import.meta.url)` (a worker's entry, the launcher a test spawns). Only relative
// specifiers are ours; packages and `node:` modules are not checked. A relative specifier that
// names no file is a violation too.
//
// Prints one line per violation, `layering: <file> imports <file>: <rule>`, and exits 1 on any;
// otherwise one line `layering: OK, <n> files, <m> edges checked …`.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

/**
 * The layers, lowest first, each with the layers it may import directly; it may also import
 * whatever those may (the closure), and itself. A file belongs to the layer of the longest name
 * that is a prefix of its path. The core is one chain; above it the graph branches: the simulator
 * and the visualiser both sit on the assembly, the live node on the visualiser (never on the
 * simulator), the CLI on both. `layerClosure` refuses a cycle here.
 */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  // the core
  wire: [],
  crypto: ['wire'],
  storage: ['crypto'],
  runtime: ['storage'],
  vm: ['runtime'],
  engines: ['vm'],
  apps: ['engines'],
  // above the core
  assembly: ['apps'],
  // the peer session (its machine, the host that runs it, the cores it calls): beside the engines,
  // under both the simulator and the live transport, which run it alike
  peer: ['runtime'],
  sim: ['assembly', 'peer'],
  viz: ['assembly', 'peer'],
  node: ['viz'],
  cli: ['node', 'sim'],
  // what drives the rest: properties, benchmarks, tooling, the launcher, vitest's configs
  props: ['node', 'sim'],
  bench: ['node', 'sim'],
  // tooling: the mutation runner prints its scores in the benchmarks' format
  scripts: ['bench'],
  bin: ['cli'],
  'vitest.config.ts': ['props'],
  'vitest.mutate.config.ts': ['scripts', 'props'],
  'vitest.browser.config.ts': [],
};

/**
 * What a test (`*.test.ts`, `*.browser.ts`) may import besides its layer's closure: the simulator,
 * which exists to drive engines in tests (its keyring, network and fault plans), and the harness
 * that runs tests (fixed property seeds, vitest's config, the wasm build, the launcher it spawns).
 * No file may import a test, so nothing a test alone may import reaches code that is not a test.
 */
export const TEST_MAY_IMPORT: readonly string[] = [
  'sim',
  'props/config.ts',
  'vitest.config.ts',
  'scripts/build-wasm.ts',
  'bin/fractal.js',
];

export function isTest(path: string): boolean {
  return /\.(test|browser)\.[cm]?[jt]s$/.test(path);
}

/**
 * Every layer's closure: the layers it may import (itself included). Throws on a layer that names
 * an unknown layer or on a cycle among layers.
 */
export function layerClosure(layers: Readonly<Record<string, readonly string[]>>): Map<string, Set<string>> {
  const closure = new Map<string, Set<string>>();
  const visiting = new Set<string>();
  const visit = (l: string, path: string[]): Set<string> => {
    const done = closure.get(l);
    if (done !== undefined) return done;
    const below = layers[l];
    if (below === undefined) throw new Error(`layer ${path.join(' -> ')} names no layer ${l}`);
    if (visiting.has(l)) throw new Error(`layers form a cycle: ${[...path, l].join(' -> ')}`);
    visiting.add(l);
    const set = new Set([l]);
    for (const b of below) for (const x of visit(b, [...path, l])) set.add(x);
    visiting.delete(l);
    closure.set(l, set);
    return set;
  };
  for (const l of Object.keys(layers)) visit(l, []);
  return closure;
}

/** Whether `path` is `prefix` or lies under it. */
function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** Source files the check reads (Biome and tsc read the same extensions). */
const SOURCE = /\.(ts|mts|cts|tsx|js|mjs|cjs)$/;
/** Folders never read. */
const SKIP = new Set(['node_modules', '.fractal', '.scratch', '.git', 'dist', 'tmp']);

export type ImportKind = 'static' | 'export' | 'dynamic' | 'type-import' | 'require' | 'worker';

export interface Specifier {
  readonly specifier: string;
  readonly kind: ImportKind;
  /** `import type …`, `export type … from`, or every named binding marked `type`, or `import('…')` in a type. */
  readonly typeOnly: boolean;
  /** 1-based line of the specifier. */
  readonly line: number;
}

/** Every module specifier a source file names, in source order; comments and strings are not imports. */
export function parseSpecifiers(source: string, fileName = 'file.ts'): Specifier[] {
  const kind = /\.(tsx|jsx)$/.test(fileName) ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, kind);
  const out: Specifier[] = [];
  const add = (lit: ts.Node, k: ImportKind, typeOnly: boolean) => {
    if (!ts.isStringLiteralLike(lit)) return;
    const line = sf.getLineAndCharacterOfPosition(lit.getStart(sf)).line + 1;
    out.push({ specifier: lit.text, kind: k, typeOnly, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const c = node.importClause;
      let typeOnly = c?.isTypeOnly ?? false;
      if (c !== undefined && !typeOnly && c.name === undefined && c.namedBindings !== undefined) {
        const nb = c.namedBindings;
        typeOnly = ts.isNamedImports(nb) && nb.elements.length > 0 && nb.elements.every((e) => e.isTypeOnly);
      }
      add(node.moduleSpecifier, 'static', typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined) {
      const ec = node.exportClause;
      const typeOnly =
        node.isTypeOnly ||
        (ec !== undefined &&
          ts.isNamedExports(ec) &&
          ec.elements.length > 0 &&
          ec.elements.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier, 'export', typeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, 'require', node.isTypeOnly);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg)) add(arg.literal, 'type-import', true);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const first = node.arguments[0];
      if (first !== undefined) add(first, 'dynamic', false);
    } else if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'URL'
    ) {
      // new URL('./worker.ts', import.meta.url): a file loaded at run time (a worker's entry)
      const [first, base] = node.arguments ?? [];
      if (
        first !== undefined &&
        base !== undefined &&
        ts.isStringLiteralLike(first) &&
        /^\.\.?\//.test(first.text) &&
        SOURCE.test(first.text) &&
        ts.isPropertyAccessExpression(base) &&
        base.name.text === 'url' &&
        ts.isMetaProperty(base.expression)
      ) {
        add(first, 'worker', false);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Whether a specifier is one of ours (relative); packages and `node:` builtins are not. */
export function isLocal(specifier: string): boolean {
  return specifier === '.' || specifier === '..' || specifier.startsWith('./') || specifier.startsWith('../');
}

/**
 * The repository path (posix, relative to the root) a local specifier in `from` names, or undefined
 * when no file answers to it. Tries the path itself, a `.js` spelling of a `.ts` file, the bare name
 * with a source extension, and a folder's index.
 */
export function resolveSpecifier(
  from: string,
  specifier: string,
  isFile: (path: string) => boolean,
): string | undefined {
  const base = normalize(join(dirname(from), specifier))
    .split(sep)
    .join('/');
  if (base.startsWith('../')) return undefined;
  const candidates = [base];
  const js = /\.(m|c)?js$/.exec(base);
  if (js !== null) candidates.push(base.slice(0, -js[0].length) + `.${js[1] ?? ''}ts`);
  for (const ext of ['.ts', '.tsx', '.js']) candidates.push(base + ext);
  for (const ext of ['.ts', '.js']) candidates.push(`${base}/index${ext}`);
  return candidates.find(isFile);
}

/** The layer a repository path belongs to: the longest layer name it lies under, or undefined. */
export function layerOf(
  path: string,
  layers: Readonly<Record<string, readonly string[]>> = LAYERS,
): string | undefined {
  let best: string | undefined;
  for (const l of Object.keys(layers)) {
    if (under(path, l) && (best === undefined || l.length > best.length)) best = l;
  }
  return best;
}

export interface Edge {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
  readonly line: number;
}

export interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: string;
}

/** The engine a path belongs to (`engines/<name>/…`), or undefined. */
export function engineOf(path: string): string | undefined {
  const m = /^engines\/([^/]+)\//.exec(path);
  return m?.[1];
}

/** The layer, test and engine rules for each edge (cycles are findCycles'). */
export function checkEdges(
  edges: readonly Edge[],
  layers: Readonly<Record<string, readonly string[]>> = LAYERS,
  testMayImport: readonly string[] = TEST_MAY_IMPORT,
): Violation[] {
  const closure = layerClosure(layers);
  const out: Violation[] = [];
  for (const e of edges) {
    const lf = layerOf(e.from, layers);
    const lt = layerOf(e.to, layers);
    if (lf === undefined || lt === undefined) {
      const which = lf === undefined ? e.from : e.to;
      out.push({ from: e.from, to: e.to, rule: `${which} is in no layer (add its folder to LAYERS)` });
      continue;
    }
    if (isTest(e.to)) {
      out.push({ from: e.from, to: e.to, rule: 'a test is imported (tests are leaves)' });
    }
    const allowed = closure.get(lf)!;
    if (!allowed.has(lt) && !(isTest(e.from) && testMayImport.some((t) => under(e.to, t)))) {
      const may = [...allowed].filter((l) => l !== lf);
      out.push({
        from: e.from,
        to: e.to,
        rule: `${lf} may not import ${lt} (${lf} imports ${may.length === 0 ? 'nothing of ours' : `only ${may.join(', ')}`})`,
      });
    }
    const ef = engineOf(e.from);
    const et = engineOf(e.to);
    if (ef !== undefined && et !== undefined && ef !== et) {
      out.push({ from: e.from, to: e.to, rule: `engine ${ef} may not import engine ${et}` });
    }
  }
  return out;
}

/**
 * Every import cycle, as one path per strongly connected component of more than one file (or a
 * file importing itself): `[a, b, …, a]`, starting at the component's first file in sorted order,
 * following each file's first edge back into the component. Deterministic for a given graph.
 */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's algorithm, iterative so that a deep graph cannot overflow the stack
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const sccs: string[][] = [];
  let next = 0;
  const nodes = [...new Set([...graph.keys(), ...[...graph.values()].flat()])].sort();
  const succ = (n: string) => [...(graph.get(n) ?? [])].sort();
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: { node: string; succs: string[]; i: number }[] = [];
    const enter = (n: string) => {
      index.set(n, next);
      low.set(n, next);
      next++;
      stack.push(n);
      onStack.add(n);
      work.push({ node: n, succs: succ(n), i: 0 });
    };
    enter(root);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      if (top.i < top.succs.length) {
        const s = top.succs[top.i++]!;
        if (!index.has(s)) enter(s);
        else if (onStack.has(s)) low.set(top.node, Math.min(low.get(top.node)!, index.get(s)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(top.node)!));
      if (low.get(top.node) === index.get(top.node)) {
        const scc: string[] = [];
        let n: string;
        do {
          n = stack.pop()!;
          onStack.delete(n);
          scc.push(n);
        } while (n !== top.node);
        sccs.push(scc);
      }
    }
  }
  const cycles: string[][] = [];
  for (const scc of sccs) {
    const members = new Set(scc);
    const start = [...scc].sort()[0]!;
    if (scc.length === 1 && !(graph.get(start) ?? []).includes(start)) continue;
    // shortest path from start back to start inside the component (breadth-first)
    const prev = new Map<string, string>();
    const queue = [start];
    let end: string | undefined;
    for (let q = 0; q < queue.length && end === undefined; q++) {
      const n = queue[q]!;
      for (const s of succ(n)) {
        if (!members.has(s)) continue;
        if (s === start) {
          end = n;
          break;
        }
        if (!prev.has(s)) {
          prev.set(s, n);
          queue.push(s);
        }
      }
    }
    if (end === undefined) throw new Error(`no cycle through ${start} in its component`);
    const path = [start];
    for (let n = end; n !== start; n = prev.get(n)!) path.push(n);
    path.push(start);
    // path is start, then the cycle backwards; reverse the middle so it reads in import order
    cycles.push([start, ...path.slice(1, -1).reverse(), start]);
  }
  return cycles.sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
}

/** The violation line for each cycle: its first edge, with the whole cycle as the rule. */
export function cycleViolations(cycles: readonly string[][]): Violation[] {
  return cycles.map((c) => ({ from: c[0]!, to: c[1]!, rule: `import cycle ${c.join(' -> ')}` }));
}

export function formatViolation(v: Violation): string {
  return `layering: ${v.from} imports ${v.to}: ${v.rule}`;
}

/** Repository paths of every source file under root (posix, sorted). */
export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (SKIP.has(name) || name.startsWith('.')) continue;
      const full = join(dir, name);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else if (SOURCE.test(name) && !name.endsWith('.d.ts'))
        out.push(relative(root, full).split(sep).join('/'));
    }
  };
  walk(root);
  return out;
}

export interface Report {
  readonly files: number;
  readonly edges: Edge[];
  readonly violations: Violation[];
}

/** The whole check over a repository checkout. */
export function check(root: string, layers: Readonly<Record<string, readonly string[]>> = LAYERS): Report {
  const files = sourceFiles(root);
  const known = new Set(files);
  const isFile = (p: string) =>
    known.has(p) || (existsSync(join(root, p)) && statSync(join(root, p)).isFile());
  const edges: Edge[] = [];
  const violations: Violation[] = [];
  for (const from of files) {
    for (const s of parseSpecifiers(readFileSync(join(root, from), 'utf8'), from)) {
      if (!isLocal(s.specifier)) continue;
      const to = resolveSpecifier(from, s.specifier, isFile);
      if (to === undefined) {
        violations.push({ from, to: s.specifier, rule: `no such file (line ${s.line})` });
        continue;
      }
      // non-source files (JSON, HTML, CSS) are data, not modules with imports of their own
      if (SOURCE.test(to)) edges.push({ from, to, typeOnly: s.typeOnly, line: s.line });
    }
  }
  violations.push(...checkEdges(edges, layers));
  const graph = new Map<string, string[]>();
  for (const e of edges) {
    const list = graph.get(e.from) ?? [];
    if (!list.includes(e.to)) list.push(e.to);
    graph.set(e.from, list);
  }
  violations.push(...cycleViolations(findCycles(graph)));
  return { files: files.length, edges, violations };
}

function main(): number {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const { files, edges, violations } = check(root);
  for (const v of violations) console.log(formatViolation(v));
  if (violations.length > 0) {
    console.log(`layering: ${violations.length} violation(s) in ${files} files, ${edges.length} edges`);
    return 1;
  }
  console.log(
    `layering: OK, ${files} files, ${edges.length} edges checked (${Object.keys(LAYERS).length} layers, no cycles)`,
  );
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main();
}
