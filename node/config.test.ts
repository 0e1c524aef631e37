import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toHex } from '../wire/commit.ts';
import {
  CONFIG_DEFAULTS,
  ConfigError,
  DEMO_ASSET_IDS,
  loadGenesis,
  loadIdentity,
  loadNodeConfig,
  publicKeysOf,
} from './config.ts';
import { prepareDataDir } from './datadir.ts';

const dir = mkdtempSync(join(tmpdir(), 'fractal-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content: unknown): string {
  const path = join(dir, `f${n++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const hex32 = (b: number) => b.toString(16).padStart(2, '0').repeat(32);

describe('node config', () => {
  it('fills every default and resolves paths against the file', () => {
    const c = loadNodeConfig(file({ name: 'v0' }));
    expect(c.roles).toEqual(CONFIG_DEFAULTS.roles);
    expect(c.blockInterval).toBe(CONFIG_DEFAULTS.blockInterval);
    expect(c.rpc).toEqual(CONFIG_DEFAULTS.rpc);
    expect(c.dataDir).toBe(join(dir, 'data'));
    expect(c.identityKey).toBe(join(dir, 'node.key'));
    expect(c.p2p.peerExchange).toBe(true);
    expect(c.signingLog).toBeUndefined();
  });

  it('reads peer exchange off and a signing log path resolved against the file', () => {
    const c = loadNodeConfig(file({ name: 'v0', p2p: { peerExchange: false }, signingLog: 'signed.jsonl' }));
    expect(c.p2p).toEqual({
      host: CONFIG_DEFAULTS.p2p.host,
      port: CONFIG_DEFAULTS.p2p.port,
      peerExchange: false,
    });
    expect(c.signingLog).toBe(join(dir, 'signed.jsonl'));
  });

  const bad: [string, unknown, RegExp][] = [
    ['not JSON', '{"name":', /not valid JSON/],
    ['not an object', '[1]', /must hold a JSON object/],
    ['a typo', { name: 'v0', blockIntervall: 5 }, /blockIntervall: unknown key/],
    ['no name', {}, /name: must be a non-empty string/],
    ['an unknown role', { name: 'v0', roles: ['miner'] }, /roles\[0\]: must be one of/],
    ['validator and full', { name: 'v0', roles: ['validator', 'full'] }, /not both/],
    ['a bad peer', { name: 'v0', peers: ['127.0.0.1:1'] }, /peers\[0\]: must be ws:\/\/host:port/],
    ['a port out of range', { name: 'v0', rpc: { port: 70_000 } }, /rpc.port: must be an integer/],
    [
      'an interval beyond the propose timeout',
      { name: 'v0', blockInterval: 2_000 },
      /below timeouts.propose/,
    ],
    ['a bad log level', { name: 'v0', logLevel: 'loud' }, /logLevel: must be one of/],
    [
      'peer exchange not a boolean',
      { name: 'v0', p2p: { peerExchange: 'no' } },
      /p2p.peerExchange: must be true or false/,
    ],
    ['an empty signing log path', { name: 'v0', signingLog: '' }, /signingLog: must be a non-empty string/],
    ['a solver without gossip', { name: 'v0', roles: ['validator', 'solver'] }, /add the gossip role/],
    ['gossip alone', { name: 'v0', roles: ['gossip'] }, /needs validator or full/],
    [
      'an asset that is not hex',
      { name: 'v0', intents: { assets: ['xyz'] } },
      /intents.assets\[0\]: must be an asset id/,
    ],
    [
      'an asset twice',
      { name: 'v0', intents: { assets: ['aa'.repeat(32), 'aa'.repeat(32)] } },
      /names an asset twice/,
    ],
    ['a batch of one', { name: 'v0', intents: { batchSize: 1 } }, /intents.batchSize: must be an integer/],
  ];
  for (const [what, content, message] of bad) {
    it(`refuses ${what} with a ConfigError naming the key`, () => {
      const path = file(content);
      expect(() => loadNodeConfig(path)).toThrow(ConfigError);
      expect(() => loadNodeConfig(path)).toThrow(message);
    });
  }

  it('intents: the demo assets, a batch every height, and a settlement fee by default', () => {
    const c = loadNodeConfig(file({ name: 'v0', roles: ['validator', 'gossip', 'solver'] }));
    expect(c.roles).toEqual(['validator', 'gossip', 'solver']);
    expect(c.intents).toEqual({ assets: [...DEMO_ASSET_IDS], batchEvery: 1, batchSize: 1_000, fee: 1_000n });
  });

  it('rpc.corsAllowedOrigins: none by default, origins or *, anything else refused', () => {
    expect(loadNodeConfig(file({ name: 'v0' })).rpc.corsAllowedOrigins).toEqual([]);
    const origins = ['http://localhost:5173', 'https://ops.example:8443', '*'];
    expect(
      loadNodeConfig(file({ name: 'v0', rpc: { corsAllowedOrigins: origins } })).rpc.corsAllowedOrigins,
    ).toEqual(origins);
    for (const bad of ['localhost:5173', 'http://x/path', 7]) {
      expect(() => loadNodeConfig(file({ name: 'v0', rpc: { corsAllowedOrigins: [bad] } }))).toThrow(
        /rpc.corsAllowedOrigins\[0\]: must be an origin/,
      );
    }
  });

  it('says how to create a missing file', () => {
    expect(() => loadNodeConfig(join(dir, 'missing.json'))).toThrow(/fractal init/);
    expect(() => loadIdentity(join(dir, 'missing.key'))).toThrow(/fractal keys new/);
  });
});

describe('genesis', () => {
  const keysOf = (b: number) => publicKeysOf(new Uint8Array(32).fill(b));
  const validator = (b: number) => ({
    name: `v${b}`,
    publicKey: toHex(keysOf(b).publicKey),
    power: 1,
    encryptionKey: toHex(keysOf(b).encryptionKey),
  });
  const base = { instance: 'fractal-x', validators: [validator(1)], mintAuthority: hex32(9) };
  const fee = (b: number, balance: string) => ({ publicKey: toHex(keysOf(b).publicKey), balance });
  // the identity point: with R = identity and S = 0 it "verifies" every message
  const smallOrder = `01${'00'.repeat(31)}`;

  it('reads a minimal genesis with DKG defaults', () => {
    const g = loadGenesis(file(base));
    expect(g.validators.length).toBe(1);
    expect(g.dkg).toEqual({ start: 1, dealWindow: 6, complaintWindow: 4 });
    expect(g.accounts).toEqual([]);
  });

  const bad: [string, unknown, RegExp][] = [
    ['no validators', { ...base, validators: [] }, /at least one validator/],
    ['a shared key', { ...base, validators: [validator(1), validator(1)] }, /share a public key/],
    ['a short key', { ...base, mintAuthority: 'abcd' }, /mintAuthority: must be 32 bytes/],
    ['a bad instance', { ...base, instance: 'Fractal X' }, /instance: must match/],
    ['zero power', { ...base, validators: [{ ...validator(1), power: 0 }] }, /power: must be an integer/],
    [
      'an identity encryption key',
      { ...base, validators: [{ ...validator(1), encryptionKey: '00'.repeat(32) }] },
      /encryptionKey: must be a canonical ristretto255 point other than the identity/,
    ],
    [
      'an encryption key that is no point',
      { ...base, validators: [{ ...validator(1), encryptionKey: 'ff'.repeat(32) }] },
      /encryptionKey: must be a canonical ristretto255 point/,
    ],
    [
      'a shared encryption key',
      { ...base, validators: [validator(1), { ...validator(2), encryptionKey: validator(1).encryptionKey }] },
      /share an encryption key/,
    ],
    [
      'a shared name',
      { ...base, validators: [validator(1), { ...validator(2), name: 'v1' }] },
      /share a name/,
    ],
    [
      'a fee balance that is a number',
      { ...base, feeAccounts: [{ publicKey: hex32(3), balance: 5 }] },
      /balance: must be a decimal string/,
    ],
    [
      'a fee balance above u64',
      { ...base, feeAccounts: [fee(3, '18446744073709551616')] },
      /balance: must be a decimal/,
    ],
    [
      'fee balances totalling more than u64',
      { ...base, feeAccounts: [fee(3, '18446744073709551615'), fee(4, '1')] },
      /above the fee supply limit/,
    ],
    [
      'a small-order validator key',
      { ...base, validators: [{ ...validator(1), publicKey: smallOrder }] },
      /validators\[0\]\.publicKey: is not an ed25519 public key/,
    ],
    [
      'a small-order account',
      { ...base, accounts: [smallOrder] },
      /accounts\[0\]: is not an ed25519 public key/,
    ],
    [
      'a small-order mint authority',
      { ...base, mintAuthority: smallOrder },
      /mintAuthority: is not an ed25519/,
    ],
    [
      'a non-canonical fee account',
      { ...base, feeAccounts: [{ publicKey: 'ff'.repeat(32), balance: '1' }] },
      /publicKey: is not an ed25519/,
    ],
    ['a fee account twice', { ...base, feeAccounts: [fee(3, '1'), fee(3, '2')] }, /share a public key/],
  ];
  for (const [what, content, message] of bad) {
    it(`refuses ${what}`, () => {
      const path = file(content);
      expect(() => loadGenesis(path)).toThrow(message);
    });
  }
});

describe('data directory', () => {
  it('is made folder by folder; a pseudo filesystem or a file in the way is refused at once', () => {
    const made = prepareDataDir('c.json', join(dir, 'a', 'b', 'data'));
    expect(made).toBe(join(dir, 'a', 'b', 'data'));
    // Node's recursive mkdir loops forever under /proc: refused before any mkdir
    expect(() => prepareDataDir('c.json', '/proc/self/data')).toThrow(
      /dataDir: .*\/proc is not a place for data/,
    );
    expect(() => prepareDataDir('c.json', '/sys/x')).toThrow(ConfigError);
    const blocker = file('x');
    expect(() => prepareDataDir('c.json', join(blocker, 'data'))).toThrow(/is not a folder/);
  });
});
