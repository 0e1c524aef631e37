/**
 * The CLI's node commands: `init`, `keys`, `node`, `devnet`, `tx`, `query`. Failures print what
 * went wrong and what to do, and set a non-zero exit code; they never print a stack trace.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import {
  buildMint,
  buildTransfer,
  type EpochKeyJson,
  envelopeFor,
  type NoteJson,
  notesOf,
  tokenOf,
} from '../node/client.ts';
import {
  ConfigError,
  DEMO_ASSET_IDS,
  loadGenesis,
  loadIdentity,
  loadNodeConfig,
  publicKeysOf,
} from '../node/config.ts';
import { runDevnet } from '../node/devnet.ts';
import { createLayout } from '../node/layout.ts';
import { LiveNode, type NodeStatus } from '../node/node.ts';
import { RpcClient, RpcError } from '../node/rpc/index.ts';
import { toHex } from '../wire/commit.ts';
import { keyPairFromSeed } from '../wire/sign.ts';
import { amountArg, assetArg, fractionArg, hexArg, intArg, positiveArg } from './args.ts';

export const DEFAULT_RPC = 'http://127.0.0.1:26601';

/** Runs a command body; known errors become one line on stderr and exit code 1. */
export function guarded<A extends unknown[]>(fn: (...args: A) => Promise<void> | void) {
  return async (...args: A): Promise<void> => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof ConfigError) console.error(`config error: ${e.message}`);
      else if (e instanceof RpcError) console.error(`the node refused: ${e.message} (code ${e.code})`);
      else if ((e as { code?: string }).code === 'ECONNREFUSED' || /fetch failed/.test(String(e))) {
        console.error(`cannot reach the node's RPC (${(e as Error).message}); is it running? (--rpc <url>)`);
      } else console.error(`error: ${(e as Error).message ?? e}`);
      process.exitCode = 1;
    }
  };
}

export function print(v: unknown): void {
  console.log(JSON.stringify(v, null, 2));
}

export function registerNodeCommands(program: Command): void {
  program
    .command('init')
    .description('write a new network: genesis, one key and config per validator, demo client keys')
    .option('--dir <path>', 'where to write it', '.fractal/net')
    .option('--validators <n>', 'validators', intArg('--validators', 1, 64), 4)
    .option(
      '--base-port <port>',
      'validator i: p2p on base+2i, RPC on base+2i+1',
      intArg('--base-port', 1024, 65_000),
      26600,
    )
    .option('--host <host>', 'listen address of every node', '127.0.0.1')
    .option('--instance <id>', 'the fractal instance (chain id)', 'fractal-local')
    .option('--block-interval <ms>', 'ms between blocks', intArg('--block-interval', 0, 60_000), 200)
    .action(
      guarded(
        (o: {
          dir: string;
          validators: number;
          basePort: number;
          host: string;
          instance: string;
          blockInterval: number;
        }) => {
          const layout = createLayout(resolve(o.dir), {
            validators: o.validators,
            clients: 16,
            host: o.host,
            basePort: o.basePort,
            instance: o.instance,
            blockInterval: o.blockInterval,
          });
          console.log(`wrote ${layout.genesis} and ${layout.nodes.length} node folders; start each with:`);
          for (const n of layout.nodes) console.log(`  fractal node --config ${n.config}`);
        },
      ),
    );

  const keys = program.command('keys').description('node identity keys (ed25519 seeds, hex)');
  keys
    .command('new')
    .description('write a new identity key file and print its public keys')
    .option('--out <file>', 'key file to write (refuses to overwrite)', 'node.key')
    .action(
      guarded((o: { out: string }) => {
        if (existsSync(o.out)) throw new Error(`${o.out} exists; choose another --out`);
        const seed = randomBytes(32);
        writeFileSync(o.out, `${toHex(seed)}\n`, { mode: 0o600 });
        const k = publicKeysOf(seed);
        print({ file: resolve(o.out), publicKey: toHex(k.publicKey), encryptionKey: toHex(k.encryptionKey) });
      }),
    );
  keys
    .command('show')
    .description('print the public identity key and DKG encryption key of a key file (what a genesis lists)')
    .argument('<file>', 'key file')
    .action(
      guarded((file: string) => {
        const k = publicKeysOf(loadIdentity(file));
        print({ publicKey: toHex(k.publicKey), encryptionKey: toHex(k.encryptionKey) });
      }),
    );

  program
    .command('node')
    .description(
      'run one node from its config file until SIGINT/SIGTERM (graceful shutdown); exits 1 if it stops itself (a failed engine, a full disk)',
    )
    .requiredOption('--config <file>', 'node config (node/CONFIG.md lists every key)')
    .action(
      guarded(async (o: { config: string }) => {
        const config = loadNodeConfig(o.config);
        const node = await LiveNode.start({
          config,
          genesis: loadGenesis(config.genesis),
          identity: loadIdentity(config.identityKey),
        });
        const stop = (signal: string) => () => void node.stop(signal);
        process.once('SIGINT', stop('SIGINT'));
        process.once('SIGTERM', stop('SIGTERM'));
        // until a signal stops it, or it stops itself (an engine or its storage failed)
        await node.done;
        if (node.failed !== undefined) throw new Error(`the node stopped: ${node.failed}`);
      }),
    );

  program
    .command('devnet')
    .description(
      'a local network: N validator processes on loopback, on-chain DKG, plain and encrypted transfers, then swap intents settled by a solver; prints a summary',
    )
    .option('--validators <n>', 'validators', intArg('--validators', 1, 16), 4)
    .option('--in-process', 'run every node in this process instead of one process each', false)
    .option('--duration <s>', 'seconds of transfers', intArg('--duration', 1, 86_400), 15)
    .option('--txs <n>', 'at most this many transfers', intArg('--txs', 1, 10_000_000), 3_000)
    .option(
      '--encrypted <share>',
      'share of transfers sent threshold-encrypted',
      fractionArg('--encrypted'),
      0.5,
    )
    .option(
      '--rate <tx/s>',
      'offer this many transfers per second, open loop (each sent when due, whatever became of the earlier ones); default: closed loop, as fast as the nodes admit them',
      positiveArg('--rate', 100_000),
    )
    .option(
      '--reset',
      'delete the devnet folder first (otherwise a previous devnet resumes from disk)',
      false,
    )
    .option('--dir <path>', 'where keys, configs, logs and databases live', '.fractal/devnet')
    .option(
      '--base-port <port>',
      'validator i: p2p on base+2i, RPC on base+2i+1',
      intArg('--base-port', 1024, 65_000),
      26600,
    )
    .option(
      '--block-interval <ms>',
      'ms between blocks (a new devnet only)',
      intArg('--block-interval', 0, 60_000),
      200,
    )
    .option(
      '--intents <n>',
      'swap intents published after the transfers, from many clients at every node, settled by the solver on v0 (0: none)',
      intArg('--intents', 0, 100_000),
      96,
    )
    .option('--keep-running', 'leave the nodes running after the summary (Ctrl-C stops them)', false)
    .option('--quiet', 'no progress bar', false)
    .option(
      '--profile [dir]',
      'write a CPU profile of each node process (default: <dir>/profiles) and print where the time went, by layer and by engine',
    )
    .action(
      guarded(
        async (o: {
          profile?: string | true;
          validators: number;
          inProcess: boolean;
          duration: number;
          txs: number;
          encrypted: number;
          rate?: number;
          reset: boolean;
          dir: string;
          basePort: number;
          blockInterval: number;
          keepRunning: boolean;
          quiet: boolean;
          intents: number;
        }) => {
          const { profile, ...rest } = o;
          if (profile !== undefined && o.inProcess)
            throw new Error('--profile profiles node processes: it cannot be used with --in-process');
          const profileDir =
            profile === undefined ? undefined : profile === true ? join(o.dir, 'profiles') : profile;
          const { ok } = await runDevnet({
            ...rest,
            ...(profileDir === undefined ? {} : { profile: profileDir }),
          });
          if (!ok) process.exitCode = 1;
        },
      ),
    );

  const tx = program.command('tx').description('build, sign and submit a demo-token transaction');
  tx.command('transfer')
    .description('send tokens from one of your notes; the change comes back to you')
    .requiredOption('--key <file>', 'your ed25519 key file (hex seed)')
    .requiredOption('--to <pubkey>', "recipient's public key (hex)", hexArg('--to', 32))
    .requiredOption('--amount <n>', 'amount', amountArg('--amount'))
    .option('--encrypted', 'encrypt under the epoch key (ordering blind to the content)', false)
    // a bigint default needs its own description: commander prints defaults with JSON.stringify
    .addOption(new Option('--fee <n>', 'fee').argParser(amountArg('--fee')).default(10n, '10'))
    .option('--rpc <url>', 'node RPC', DEFAULT_RPC)
    .option('--wait', 'wait for the receipt', false)
    .action(
      guarded(
        async (o: {
          key: string;
          to: string;
          amount: bigint;
          encrypted: boolean;
          fee: bigint;
          rpc: string;
          wait: boolean;
        }) => {
          const rpc = new RpcClient(o.rpc);
          const seed = loadIdentity(o.key);
          const owner = toHex(keyPairFromSeed(seed).publicKey);
          const { mintAuthority } = await rpc.call<{ mintAuthority: string }>('genesis');
          const bigEnough = (n: NoteJson) => BigInt(n.amount) >= o.amount;
          const note = (await notesOf(rpc, owner, (ns) => ns.some(bigEnough))).find(bigEnough);
          if (note === undefined)
            throw new Error(`no note of ${owner.slice(0, 16)}… holds ${o.amount} (see fractal query notes)`);
          const transfer = buildTransfer(
            tokenOf(Buffer.from(mintAuthority, 'hex')),
            seed,
            note,
            Buffer.from(o.to, 'hex'),
            o.amount,
          );
          await submitAndReport(rpc, transfer, seed, o.fee, o.encrypted, o.wait);
        },
      ),
    );
  tx.command('mint')
    .description('mint new tokens (needs the mint authority key; in a devnet: clients.json "authority")')
    .requiredOption('--authority-key <file>', 'the mint authority key file (hex seed)')
    .requiredOption('--to <pubkey>', "recipient's public key (hex)", hexArg('--to', 32))
    .requiredOption('--amount <n>', 'amount', amountArg('--amount'))
    .option(
      '--asset <asset>',
      'asset: 64 hex digits, or a, b, c for the demo assets (default: a, the demo asset)',
      assetArg('--asset', DEMO_ASSET_IDS),
    )
    .option('--encrypted', 'encrypt under the epoch key', false)
    .option('--rpc <url>', 'node RPC', DEFAULT_RPC)
    .option('--wait', 'wait for the receipt', false)
    .action(
      guarded(
        async (o: {
          authorityKey: string;
          to: string;
          amount: bigint;
          asset?: string;
          encrypted: boolean;
          rpc: string;
          wait: boolean;
        }) => {
          const rpc = new RpcClient(o.rpc);
          const seed = loadIdentity(o.authorityKey);
          const mint = buildMint(
            tokenOf(keyPairFromSeed(seed).publicKey),
            seed,
            Buffer.from(o.to, 'hex'),
            [o.amount],
            undefined,
            o.asset === undefined ? undefined : Buffer.from(o.asset, 'hex'),
          );
          await submitAndReport(rpc, mint, seed, 10n, o.encrypted, o.wait);
        },
      ),
    );

  const query = program.command('query').description("read a node's state over its RPC");
  const rpcOpt = (c: Command) => c.option('--rpc <url>', 'node RPC', DEFAULT_RPC);
  rpcOpt(query.command('status').description('height, round, executed height, epoch key, peers')).action(
    guarded(async (o: { rpc: string }) => print(await new RpcClient(o.rpc).call('status'))),
  );
  const accountOpt = (c: Command) =>
    c.addOption(
      new Option(
        '--account <which>',
        'token (spent by your signature) or swap (spent only by settlements of your intents)',
      )
        .choices(['token', 'swap'])
        .default('token'),
    );
  rpcOpt(
    accountOpt(
      query
        .command('balance')
        .description('demo-token balance of a public key')
        .argument('<pubkey>')
        .option(
          '--asset <asset>',
          'asset: 64 hex digits, or a, b, c for the demo assets (default: a)',
          assetArg('--asset', DEMO_ASSET_IDS),
        ),
    ),
  ).action(
    guarded(async (pk: string, o: { rpc: string; account: string; asset?: string }) =>
      print(
        await new RpcClient(o.rpc).call('balance', {
          owner: hexArg('<pubkey>', 32)(pk),
          account: o.account,
          ...(o.asset === undefined ? {} : { asset: o.asset }),
        }),
      ),
    ),
  );
  rpcOpt(
    query.command('notes').description('unspent demo-token notes of a public key').argument('<pubkey>'),
  ).action(
    guarded(async (pk: string, o: { rpc: string }) => {
      const notes = await notesOf(new RpcClient(o.rpc), hexArg('<pubkey>', 32)(pk));
      print(notes.map(({ key, asset, amount }) => ({ key, asset, amount })));
    }),
  );
  rpcOpt(query.command('block').description('the committed block at a height').argument('<height>')).action(
    guarded(async (h: string, o: { rpc: string }) =>
      print(await new RpcClient(o.rpc).call('block', { height: String(intArg('<height>', 1)(h)) })),
    ),
  );
  rpcOpt(
    query.command('receipt').description('the receipt of an envelope by hash').argument('<hash>'),
  ).action(
    guarded(async (hash: string, o: { rpc: string }) =>
      print(await new RpcClient(o.rpc).call('receipt', { hash: hexArg('<hash>', 32)(hash) })),
    ),
  );
}

export async function submitAndReport(
  rpc: RpcClient,
  transaction: Parameters<typeof envelopeFor>[0],
  payerKey: Uint8Array,
  fee: bigint,
  encrypted: boolean,
  wait: boolean,
): Promise<void> {
  const status = await rpc.call<NodeStatus>('status');
  let epochKey: EpochKeyJson | undefined;
  if (encrypted) {
    if (status.epochKey === null)
      throw new Error('no epoch key yet (the DKG has not finished); try again shortly');
    epochKey = status.epochKey;
  }
  const env = envelopeFor(transaction, {
    instance: status.instance,
    payerKey,
    fee,
    height: BigInt(status.height),
    ...(epochKey === undefined ? {} : { epochKey }),
  });
  const r = await rpc.call<{ hash: string }>('submit', { tx: toHex(env.bytes) });
  console.log(`admitted ${r.hash}${encrypted ? ' (encrypted)' : ''}`);
  if (!wait) return;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      print(await rpc.call('receipt', { hash: r.hash }));
      return;
    } catch (e) {
      if (!(e instanceof RpcError) || Date.now() > deadline) throw e;
      await new Promise((res) => setTimeout(res, 250));
    }
  }
}
