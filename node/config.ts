/**
 * Node configuration and genesis: the JSON files an operator writes (or `fractal init` writes),
 * checked key by key. Every mistake is a `ConfigError` naming the file, the key and what to do;
 * nothing is half-applied. Every key and its default is listed in node/CONFIG.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { encryptionKeyPair } from '../crypto/dkg.ts';
import { group } from '../crypto/group.ts';
import { sha256, toHex } from '../wire/commit.ts';
import { type FeeAccount, MAX_FEE_BALANCE } from '../wire/fees.ts';
import { isAcceptablePublicKey, keyPairFromSeed } from '../wire/sign.ts';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    message: string,
  ) {
    super(`${file}: ${key === '' ? '' : `${key}: `}${message}`);
    this.name = 'ConfigError';
  }
}

export const ROLES = ['validator', 'full', 'gossip', 'solver', 'relay'] as const;
export type Role = (typeof ROLES)[number];
/** Roles whose engines exist today; the others are accepted by the schema but refused at start. */
export const BUILT_ROLES: readonly Role[] = ['validator', 'full', 'gossip', 'solver'];

export interface GenesisValidator {
  name: string;
  publicKey: Uint8Array;
  power: number;
  /** the validator's DKG encryption key (x25519-style ristretto point, derived from its identity) */
  encryptionKey: Uint8Array;
}

export interface Genesis {
  /** the fractal instance (chain id) */
  instance: string;
  validators: GenesisValidator[];
  /** the demo token's mint authority (ed25519 public key) */
  mintAuthority: Uint8Array;
  /** accounts whose ed25519 owner predicate code is published at genesis */
  accounts: Uint8Array[];
  /** fee accounts and their balances at genesis: every envelope's fee is paid from one */
  feeAccounts: FeeAccount[];
  /** the DKG's deal window and complaint window, in heights */
  dkg: { start: number; dealWindow: number; complaintWindow: number };
}

export interface NodeConfig {
  /** the file this came from (errors name it); relative paths below resolve against its folder */
  file: string;
  name: string;
  roles: Role[];
  /** hex ed25519 seed file */
  identityKey: string;
  genesis: string;
  dataDir: string;
  /** `peerExchange`: learn and dial the addresses peers tell of (off: only `peers` are dialled) */
  p2p: { host: string; port: number; peerExchange: boolean };
  peers: string[];
  /** `corsAllowedOrigins`: origins whose web pages may call the RPC from a browser (default none) */
  rpc: { host: string; port: number; corsAllowedOrigins: string[] };
  /** ms between the start of a height and its round-0 proposal */
  blockInterval: number;
  timeouts: { propose: number; prevote: number; precommit: number };
  /** executor shards (0 = the one-engine executor) */
  shards: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** SQLite synchronous mode: 'full' fsyncs every commit; 'normal' survives process kills, not power loss */
  sync: 'full' | 'normal';
  /** the database may grow to this many MiB (0 = as far as the disk allows); beyond it, as on a full disk */
  maxDatabaseMiB: number;
  /** at start: 'full' checks SQLite's structure and every record's checksum; 'quick' the structure only */
  startupCheck: 'full' | 'quick';
  /** a validator appends a JSON line per consensus signature here (an audit log; unset = none) */
  signingLog: string | undefined;
  /**
   * Intents (roles `gossip`, `solver`): the assets (hex, of the genesis token) whose swap pairs the
   * node gossips and solves; a solver's batch every `batchEvery` heights or `batchSize` intents,
   * and the fee its settlement envelopes pay.
   */
  intents: { assets: string[]; batchEvery: number; batchSize: number; fee: bigint };
}

export const CONFIG_DEFAULTS = {
  roles: ['validator'] as Role[],
  identityKey: 'node.key',
  genesis: 'genesis.json',
  dataDir: 'data',
  p2p: { host: '127.0.0.1', port: 26656, peerExchange: true },
  peers: [] as string[],
  rpc: { host: '127.0.0.1', port: 26657, corsAllowedOrigins: [] as string[] },
  blockInterval: 200,
  timeouts: { propose: 1_000, prevote: 300, precommit: 300 },
  shards: 0,
  logLevel: 'info' as const,
  sync: 'full' as const,
  maxDatabaseMiB: 0,
  startupCheck: 'full' as const,
  intents: { batchEvery: 1, batchSize: 1_000, fee: 1_000n },
};

/**
 * The devnet's demo assets, of the genesis token: the first is the one transfers move
 * (`DEMO_ASSET` in client.ts); swap intents trade among all three.
 */
export const DEMO_ASSET_NAMES = [
  'fractal-demo-asset',
  'fractal-demo-asset/b',
  'fractal-demo-asset/c',
] as const;
export const DEMO_ASSET_IDS: readonly string[] = DEMO_ASSET_NAMES.map((n) =>
  toHex(sha256(new TextEncoder().encode(n))),
);

export const DKG_DEFAULTS = { start: 1, dealWindow: 6, complaintWindow: 4 };

/** What `fractal init` gives the mint authority and each demo account to pay fees with. */
export const DEMO_FEE_BALANCE = 1_000_000_000_000n;

type Json = Record<string, unknown>;

function readJson(file: string): Json {
  if (!existsSync(file)) throw new ConfigError(file, '', 'no such file (create one with `fractal init`)');
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, '', `not valid JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(file, '', 'must hold a JSON object');
  }
  return value as Json;
}

/** Reads keys of one JSON object, each checked, with unknown keys refused (typos are errors). */
class Reader {
  constructor(
    private readonly file: string,
    private readonly obj: Json,
    private readonly prefix: string,
    known: readonly string[],
  ) {
    for (const k of Object.keys(obj)) {
      if (!known.includes(k)) this.fail(k, `unknown key (known: ${known.join(', ')})`);
    }
  }

  fail(key: string, msg: string): never {
    throw new ConfigError(this.file, this.prefix + key, msg);
  }

  string(key: string, dflt?: string, pattern?: RegExp): string {
    const v = this.obj[key] ?? dflt;
    if (typeof v !== 'string' || v === '') this.fail(key, 'must be a non-empty string');
    if (pattern !== undefined && !pattern.test(v)) this.fail(key, `must match ${pattern}`);
    return v;
  }

  int(key: string, dflt: number | undefined, min: number, max: number): number {
    const v = this.obj[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(key, `must be an integer from ${min} to ${max}`);
    }
    return v;
  }

  oneOf<T extends string>(key: string, dflt: T, options: readonly T[]): T {
    const v = this.obj[key] ?? dflt;
    if (typeof v !== 'string' || !options.includes(v as T))
      this.fail(key, `must be one of ${options.join(', ')}`);
    return v as T;
  }

  bool(key: string, dflt: boolean): boolean {
    const v = this.obj[key] ?? dflt;
    if (typeof v !== 'boolean') this.fail(key, 'must be true or false');
    return v;
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  /** An ed25519 public key that can ever verify a signature (canonical, not of small order). */
  publicKey(key: string): Uint8Array {
    const k = this.hex(key, 32);
    if (!isAcceptablePublicKey(k))
      this.fail(
        key,
        'is not an ed25519 public key a signature can be checked against (not a canonical point, or of small order)',
      );
    return k;
  }

  hex(key: string, bytes: number): Uint8Array {
    const v = this.obj[key];
    if (typeof v !== 'string' || !new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(v)) {
      this.fail(key, `must be ${bytes} bytes of lower-case hex`);
    }
    return Uint8Array.from(Buffer.from(v, 'hex'));
  }

  array(key: string, dflt?: unknown[]): unknown[] {
    const v = this.obj[key] ?? dflt;
    if (!Array.isArray(v)) this.fail(key, 'must be an array');
    return v;
  }

  object(key: string, known: readonly string[], dflt: Json = {}): Reader {
    const v = this.obj[key] ?? dflt;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(key, 'must be an object');
    return new Reader(this.file, v as Json, `${this.prefix}${key}.`, known);
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function loadNodeConfig(path: string): NodeConfig {
  const file = resolve(path);
  const r = new Reader(file, readJson(file), '', [
    'name',
    'roles',
    'identityKey',
    'genesis',
    'dataDir',
    'p2p',
    'peers',
    'rpc',
    'blockInterval',
    'timeouts',
    'shards',
    'logLevel',
    'sync',
    'maxDatabaseMiB',
    'startupCheck',
    'signingLog',
    'intents',
  ]);
  const roles = r.array('roles', CONFIG_DEFAULTS.roles).map((x, i) => {
    if (typeof x !== 'string' || !(ROLES as readonly string[]).includes(x)) {
      r.fail(`roles[${i}]`, `must be one of ${ROLES.join(', ')}`);
    }
    return x as Role;
  });
  if (roles.length === 0) r.fail('roles', 'needs at least one role');
  if (roles.includes('validator') && roles.includes('full'))
    r.fail('roles', 'a node is a validator or a full node, not both');
  if (!roles.includes('validator') && !roles.includes('full'))
    r.fail('roles', 'needs validator or full (gossip and solver run beside one of them)');
  if (roles.includes('solver') && !roles.includes('gossip'))
    r.fail('roles', 'a solver takes its intents from gossip: add the gossip role');
  const intents = r.object('intents', ['assets', 'batchEvery', 'batchSize', 'fee']);
  const assets = intents.array('assets', [...DEMO_ASSET_IDS]).map((x, i) => {
    if (typeof x !== 'string' || !/^[0-9a-f]{64}$/.test(x))
      intents.fail(`assets[${i}]`, 'must be an asset id: 64 lowercase hex digits');
    return x as string;
  });
  if (new Set(assets).size !== assets.length) intents.fail('assets', 'names an asset twice');
  if (assets.length > 8)
    intents.fail('assets', 'at most 8 assets (56 swap pairs, the gossip filter holds 64 topics)');
  const p2p = r.object('p2p', ['host', 'port', 'peerExchange']);
  const rpc = r.object('rpc', ['host', 'port', 'corsAllowedOrigins']);
  const timeouts = r.object('timeouts', ['propose', 'prevote', 'precommit']);
  const peers = r.array('peers', CONFIG_DEFAULTS.peers).map((x, i) => {
    if (typeof x !== 'string' || !/^wss?:\/\/[^\s#]+(#[0-9a-f]{64})?$/.test(x)) {
      r.fail(`peers[${i}]`, 'must be ws://host:port, optionally with #<hex public key> to pin the identity');
    }
    return x as string;
  });
  const blockInterval = r.int('blockInterval', CONFIG_DEFAULTS.blockInterval, 0, 60_000);
  const propose = timeouts.int('propose', CONFIG_DEFAULTS.timeouts.propose, 10, 600_000);
  if (blockInterval >= propose) {
    r.fail(
      'blockInterval',
      `must be below timeouts.propose (${propose} ms), or proposals would always time out`,
    );
  }
  const base = dirname(file);
  const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  return {
    file,
    name: r.string('name', undefined, NAME),
    roles,
    identityKey: at(r.string('identityKey', CONFIG_DEFAULTS.identityKey)),
    genesis: at(r.string('genesis', CONFIG_DEFAULTS.genesis)),
    dataDir: at(r.string('dataDir', CONFIG_DEFAULTS.dataDir)),
    p2p: {
      host: p2p.string('host', CONFIG_DEFAULTS.p2p.host),
      port: p2p.int('port', CONFIG_DEFAULTS.p2p.port, 0, 65_535),
      peerExchange: p2p.bool('peerExchange', CONFIG_DEFAULTS.p2p.peerExchange),
    },
    peers,
    rpc: {
      host: rpc.string('host', CONFIG_DEFAULTS.rpc.host),
      port: rpc.int('port', CONFIG_DEFAULTS.rpc.port, 0, 65_535),
      corsAllowedOrigins: rpc
        .array('corsAllowedOrigins', CONFIG_DEFAULTS.rpc.corsAllowedOrigins)
        .map((x, i) => {
          if (typeof x !== 'string' || !(x === '*' || /^https?:\/\/[^/\s?#]+$/i.test(x))) {
            rpc.fail(
              `corsAllowedOrigins[${i}]`,
              'must be an origin such as "http://localhost:5173" (no path), or "*"',
            );
          }
          return x as string;
        }),
    },
    blockInterval,
    timeouts: {
      propose,
      prevote: timeouts.int('prevote', CONFIG_DEFAULTS.timeouts.prevote, 10, 600_000),
      precommit: timeouts.int('precommit', CONFIG_DEFAULTS.timeouts.precommit, 10, 600_000),
    },
    shards: r.int('shards', CONFIG_DEFAULTS.shards, 0, 64),
    logLevel: r.oneOf('logLevel', CONFIG_DEFAULTS.logLevel, ['debug', 'info', 'warn', 'error', 'silent']),
    sync: r.oneOf('sync', CONFIG_DEFAULTS.sync, ['full', 'normal']),
    maxDatabaseMiB: r.int('maxDatabaseMiB', CONFIG_DEFAULTS.maxDatabaseMiB, 0, 16 * 1024 * 1024),
    startupCheck: r.oneOf('startupCheck', CONFIG_DEFAULTS.startupCheck, ['full', 'quick']),
    signingLog: r.has('signingLog') ? at(r.string('signingLog')) : undefined,
    intents: {
      assets,
      batchEvery: intents.int('batchEvery', CONFIG_DEFAULTS.intents.batchEvery, 1, 10_000),
      batchSize: intents.int('batchSize', CONFIG_DEFAULTS.intents.batchSize, 2, 10_000),
      fee: BigInt(intents.int('fee', Number(CONFIG_DEFAULTS.intents.fee), 0, Number.MAX_SAFE_INTEGER)),
    },
  };
}

export function loadGenesis(path: string): Genesis {
  const file = resolve(path);
  const r = new Reader(file, readJson(file), '', [
    'instance',
    'validators',
    'mintAuthority',
    'accounts',
    'feeAccounts',
    'dkg',
  ]);
  const validators = r.array('validators').map((v, i) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      r.fail(`validators[${i}]`, 'must be an object');
    const x = new Reader(file, v as Json, `validators[${i}].`, [
      'name',
      'publicKey',
      'power',
      'encryptionKey',
    ]);
    return {
      name: x.string('name', `v${i}`, NAME),
      publicKey: x.publicKey('publicKey'),
      power: x.int('power', 1, 1, 1_000_000),
      encryptionKey: x.hex('encryptionKey', 32),
    };
  });
  if (validators.length === 0) r.fail('validators', 'needs at least one validator');
  const keys = new Set(validators.map((v) => Buffer.from(v.publicKey).toString('hex')));
  if (keys.size !== validators.length) r.fail('validators', 'two validators share a public key');
  const encryptionKeys = new Set(validators.map((v) => Buffer.from(v.encryptionKey).toString('hex')));
  if (encryptionKeys.size !== validators.length)
    r.fail('validators', 'two validators share an encryption key');
  if (new Set(validators.map((v) => v.name)).size !== validators.length)
    r.fail('validators', 'two validators share a name');
  validators.forEach((v, i) => {
    // the DKG encrypts each validator's share to this key: the identity or a non-point would
    // let nobody (or anybody) open it, and the key generation could never finish
    if (!group.isPoint(v.encryptionKey) || v.encryptionKey.every((b) => b === 0)) {
      r.fail(
        `validators[${i}].encryptionKey`,
        'must be a canonical ristretto255 point other than the identity',
      );
    }
  });
  const accounts = r.array('accounts', []).map((a, i) => {
    if (typeof a !== 'string' || !/^[0-9a-f]{64}$/.test(a))
      r.fail(`accounts[${i}]`, 'must be 32 bytes of hex');
    const key = Uint8Array.from(Buffer.from(a as string, 'hex'));
    // a note owned by a small-order key could be spent with a signature that verifies for anything
    if (!isAcceptablePublicKey(key))
      r.fail(
        `accounts[${i}]`,
        'is not an ed25519 public key a signature can be checked against (not a canonical point, or of small order)',
      );
    return key;
  });
  const feeAccounts = r.array('feeAccounts', []).map((a, i) => {
    if (a === null || typeof a !== 'object' || Array.isArray(a))
      r.fail(`feeAccounts[${i}]`, 'must be an object {"publicKey": hex, "balance": "decimal"}');
    const x = new Reader(file, a as Json, `feeAccounts[${i}].`, ['publicKey', 'balance']);
    const balance = (a as Json).balance;
    const amount =
      typeof balance === 'string' && /^(0|[1-9][0-9]{0,19})$/.test(balance) ? BigInt(balance) : -1n;
    if (amount < 0n || amount > MAX_FEE_BALANCE)
      x.fail('balance', 'must be a decimal string of an integer from 0 to 2^64 - 1');
    return { publicKey: x.publicKey('publicKey'), balance: amount };
  });
  const feeKeys = new Set(feeAccounts.map((a) => Buffer.from(a.publicKey).toString('hex')));
  if (feeKeys.size !== feeAccounts.length) r.fail('feeAccounts', 'two entries share a public key');
  const feeTotal = feeAccounts.reduce((t, a) => t + a.balance, 0n);
  if (feeTotal > MAX_FEE_BALANCE)
    r.fail('feeAccounts', `the balances total ${feeTotal}, above the fee supply limit 2^64 - 1`);
  const dkg = r.object('dkg', ['start', 'dealWindow', 'complaintWindow']);
  return {
    instance: r.string('instance', undefined, /^[a-z0-9][a-z0-9-]{0,63}$/),
    validators,
    mintAuthority: r.publicKey('mintAuthority'),
    accounts,
    feeAccounts,
    dkg: {
      start: dkg.int('start', DKG_DEFAULTS.start, 1, 1_000_000),
      dealWindow: dkg.int('dealWindow', DKG_DEFAULTS.dealWindow, 1, 1_000),
      complaintWindow: dkg.int('complaintWindow', DKG_DEFAULTS.complaintWindow, 1, 1_000),
    },
  };
}

/** Reads a hex ed25519 seed file (as `fractal keys` writes it). */
export function loadIdentity(path: string): Uint8Array {
  if (!existsSync(path))
    throw new ConfigError(path, '', 'no identity key here (create one with `fractal keys new`)');
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(text)) throw new ConfigError(path, '', 'must hold 32 bytes of lower-case hex');
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** The DKG secret of a validator, derived from its identity seed (so one key file is enough). */
export function dkgSecret(identity: Uint8Array): Uint8Array {
  return sha256(new Uint8Array([...new TextEncoder().encode('fractal/dkg-secret/v1\0'), ...identity]));
}

/** What `fractal keys show` prints and a genesis lists: identity and DKG encryption public keys. */
export function publicKeysOf(identity: Uint8Array): { publicKey: Uint8Array; encryptionKey: Uint8Array } {
  return {
    publicKey: keyPairFromSeed(identity).publicKey,
    encryptionKey: encryptionKeyPair(dkgSecret(identity)).publicKey,
  };
}

/** Shares needed to decrypt: f + 1 of n = 3f + 1 validators. */
export function thresholdOf(validators: number): number {
  return Math.floor((validators - 1) / 3) + 1;
}
