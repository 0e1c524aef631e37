import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, ConfigError, loadGenesis, loadIdentity, loadNodeConfig } from './config.ts';

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
  ];
  for (const [what, content, message] of bad) {
    it(`refuses ${what} with a ConfigError naming the key`, () => {
      const path = file(content);
      expect(() => loadNodeConfig(path)).toThrow(ConfigError);
      expect(() => loadNodeConfig(path)).toThrow(message);
    });
  }

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
  const validator = (b: number) => ({
    name: `v${b}`,
    publicKey: hex32(b),
    power: 1,
    encryptionKey: hex32(b + 100),
  });
  const base = { instance: 'fractal-x', validators: [validator(1)], mintAuthority: hex32(9) };

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
  ];
  for (const [what, content, message] of bad) {
    it(`refuses ${what}`, () => {
      const path = file(content);
      expect(() => loadGenesis(path)).toThrow(message);
    });
  }
});
