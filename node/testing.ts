/** Test helpers for live nodes: polling with a deadline, small networks started in process. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGenesis, loadIdentity, loadNodeConfig } from './config.ts';
import { createLayout, type Layout } from './layout.ts';
import { LiveNode } from './node.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (a throw counts as "not yet"); fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A one-validator network (it runs the DKG alone) in a new temporary folder. */
export function oneValidatorNetwork(
  prefix: string,
  instance: string,
): { dir: string; layout: Layout; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), `fractal-${prefix}-`));
  const layout = createLayout(dir, {
    validators: 1,
    clients: 1,
    host: '127.0.0.1',
    basePort: 0,
    instance,
    blockInterval: 20,
  });
  return { dir, layout, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts node `index` of a layout in this process, logging nothing. */
export function startLayoutNode(layout: Layout, index = 0): Promise<LiveNode> {
  const config = {
    ...loadNodeConfig(layout.nodes[index]!.config),
    logLevel: (process.env.FRACTAL_TEST_LOG ?? 'silent') as 'silent',
  };
  return LiveNode.start({
    config,
    genesis: loadGenesis(config.genesis),
    identity: loadIdentity(config.identityKey),
  });
}
