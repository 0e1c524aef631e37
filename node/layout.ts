/**
 * A network's files on disk, as `fractal init` and `fractal devnet` write them:
 *
 *   <dir>/genesis.json           instance, validators (identity + DKG encryption keys), mint authority,
 *                                demo accounts and their fee balances
 *   <dir>/clients.json           demo accounts: the mint authority's and the clients' seeds (hex)
 *   <dir>/<name>/node.key        the node's ed25519 seed (hex)
 *   <dir>/<name>/config.json     its configuration (node/CONFIG.md), peers pinned by public key
 *   <dir>/<name>/data/           its SQLite database (created by the node)
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { toHex } from '../wire/commit.ts';
import { keyPairFromSeed } from '../wire/sign.ts';
import { ConfigError, DEMO_FEE_BALANCE, DKG_DEFAULTS, publicKeysOf } from './config.ts';

export interface LayoutOptions {
  validators: number;
  /** demo client accounts */
  clients: number;
  host: string;
  /** node i listens for peers on basePort + 2i and serves RPC on basePort + 2i + 1 (0: any free ports, one node only) */
  basePort: number;
  instance: string;
  blockInterval: number;
  /** intent gossip on every node and a solver on the first (default true) */
  intents?: boolean;
}

export interface Layout {
  dir: string;
  genesis: string;
  nodes: { name: string; config: string; rpc: string; p2p: string }[];
  authority: Uint8Array;
  clients: Uint8Array[];
}

const hexSeed = () => toHex(randomBytes(32));

/** A host as it appears in a URL (IPv6 in brackets). */
const urlHost = (host: string) => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

function writeFile(path: string, text: string, secret = false): void {
  writeFileSync(path, text, secret ? { mode: 0o600 } : {});
}

/** Writes a new network layout into `dir` (which must not hold one yet). */
export function createLayout(dir: string, o: LayoutOptions): Layout {
  if (existsSync(join(dir, 'genesis.json'))) {
    throw new ConfigError(
      join(dir, 'genesis.json'),
      '',
      'a network already lives here (use --reset to start afresh)',
    );
  }
  if (o.basePort === 0 && o.validators > 1)
    throw new Error('basePort 0 (any free port) works for one node only');
  mkdirSync(dir, { recursive: true });
  const seeds = Array.from({ length: o.validators }, hexSeed);
  const names = seeds.map((_, i) => `v${i}`);
  const keys = seeds.map((s) => publicKeysOf(Uint8Array.from(Buffer.from(s, 'hex'))));
  const authority = hexSeed();
  const clients = Array.from({ length: o.clients }, hexSeed);
  const pub = (seed: string) => toHex(keyPairFromSeed(Uint8Array.from(Buffer.from(seed, 'hex'))).publicKey);
  const genesis = {
    instance: o.instance,
    validators: names.map((name, i) => ({
      name,
      publicKey: toHex(keys[i]!.publicKey),
      power: 1,
      encryptionKey: toHex(keys[i]!.encryptionKey),
    })),
    mintAuthority: pub(authority),
    accounts: clients.map(pub),
    // validators pay fees too: a solver's settlements are its envelopes
    feeAccounts: [authority, ...clients, ...seeds].map((seed) => ({
      publicKey: pub(seed),
      balance: DEMO_FEE_BALANCE.toString(),
    })),
    dkg: DKG_DEFAULTS,
  };
  writeFile(join(dir, 'genesis.json'), `${JSON.stringify(genesis, null, 2)}\n`);
  writeFile(join(dir, 'clients.json'), `${JSON.stringify({ authority, clients }, null, 2)}\n`, true);
  const p2pPort = (i: number) => (o.basePort === 0 ? 0 : o.basePort + 2 * i);
  const rpcPort = (i: number) => (o.basePort === 0 ? 0 : p2pPort(i) + 1);
  names.forEach((name, i) => {
    const home = join(dir, name);
    mkdirSync(home, { recursive: true });
    writeFile(join(home, 'node.key'), `${seeds[i]}\n`, true);
    const config = {
      name,
      roles: o.intents === false ? ['validator'] : ['validator', 'gossip', ...(i === 0 ? ['solver'] : [])],
      identityKey: 'node.key',
      genesis: '../genesis.json',
      dataDir: 'data',
      p2p: { host: o.host, port: p2pPort(i) },
      peers: names
        .map((_, j) => j)
        .filter((j) => j !== i)
        .map((j) => `ws://${o.host}:${p2pPort(j)}#${toHex(keys[j]!.publicKey)}`),
      // the visualiser page of any node of the network may show every node's feed
      rpc: {
        host: o.host,
        port: rpcPort(i),
        corsAllowedOrigins: names.flatMap((_, j) =>
          j === i ? [] : [`http://${urlHost(o.host)}:${rpcPort(j)}`],
        ),
      },
      blockInterval: o.blockInterval,
      logLevel: 'info',
      sync: 'normal',
    };
    writeFile(join(home, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  });
  return readLayout(dir);
}

/** Reads a layout back (node list from genesis order). */
export function readLayout(dir: string): Layout {
  const genesisFile = join(dir, 'genesis.json');
  if (!existsSync(genesisFile))
    throw new ConfigError(genesisFile, '', 'no network here (create one with `fractal init`)');
  const genesis = JSON.parse(readFileSync(genesisFile, 'utf8')) as { validators: { name: string }[] };
  const clientsFile = join(dir, 'clients.json');
  const demo = existsSync(clientsFile)
    ? (JSON.parse(readFileSync(clientsFile, 'utf8')) as { authority: string; clients: string[] })
    : { authority: '', clients: [] };
  const nodes = genesis.validators.map(({ name }) => {
    const config = join(dir, name, 'config.json');
    const c = JSON.parse(readFileSync(config, 'utf8')) as {
      p2p: { host: string; port: number };
      rpc: { host: string; port: number };
    };
    return {
      name,
      config,
      rpc: `http://${c.rpc.host}:${c.rpc.port}`,
      p2p: `ws://${c.p2p.host}:${c.p2p.port}`,
    };
  });
  const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
  return {
    dir,
    genesis: genesisFile,
    nodes,
    authority: bytes(demo.authority),
    clients: demo.clients.map(bytes),
  };
}

/** Whether nothing listens on `port` of `host`. */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise<boolean>((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, host, () => s.close(() => res(true)));
  });
}

/** Refuses to start a layout whose ports are taken (another devnet, or a node of this one, still running). */
export async function checkPortsFree(layout: Layout): Promise<void> {
  for (const n of layout.nodes) {
    for (const url of [n.p2p, n.rpc]) {
      const { hostname, port } = new URL(url);
      if (!(await portFree(Number(port), hostname))) {
        throw new Error(
          `port ${port} (${n.name}) is in use: is another devnet or node still running? Stop it, or use --base-port with --reset`,
        );
      }
    }
  }
}

/** A base port with `count` free ports above it on 127.0.0.1 (for tests and benchmarks). */
export async function freePortBase(count: number, from: number): Promise<number> {
  for (let base = from; base + count < 65_536; base += count) {
    let ok = true;
    for (let k = 0; k < count && ok; k++) ok = await portFree(base + k);
    if (ok) return base;
  }
  throw new Error(`no ${count} free ports above ${from}`);
}
