/**
 * `fractal intent`: swap intents (apps/swap) against a node with the gossip role. `fund` moves
 * tokens into the key's swap account (the notes an intent can offer); `swap` signs an intent
 * offering them and publishes it to the intent gossip overlay, where a solver settles it in a
 * batch at uniform prices, never below its limit.
 */
import { type Command, Option } from 'commander';
import {
  buildSwapIntent,
  buildToSwapAccount,
  DEMO_ASSET,
  type NoteJson,
  notesOf,
  swapIntentBytes,
  tokenOf,
} from '../node/client.ts';
import { DEMO_ASSET_IDS, loadIdentity } from '../node/config.ts';
import type { IntentJson } from '../node/intents.ts';
import type { NodeStatus } from '../node/node.ts';
import { RpcClient } from '../node/rpc/index.ts';
import { toHex } from '../wire/commit.ts';
import { keyPairFromSeed } from '../wire/sign.ts';
import { amountArg, amountOfAssetArg, assetArg, intArg } from './args.ts';
import { DEFAULT_RPC, guarded, print, submitAndReport } from './node.ts';

/** Heights an intent stays live by default. */
const DEFAULT_LIFETIME = 1_000n;

async function tokenAt(rpc: RpcClient) {
  const { mintAuthority } = await rpc.call<{ mintAuthority: string }>('genesis');
  return tokenOf(Buffer.from(mintAuthority, 'hex'));
}

export function registerIntentCommands(program: Command): void {
  const intent = program
    .command('intent')
    .description('swap intents: fund the swap account, publish an intent, see what settled');

  intent
    .command('fund')
    .description(
      'move tokens from your token account into your swap account (what swap intents offer; it moves only by settlements of your intents)',
    )
    .requiredOption('--key <file>', 'your ed25519 key file (hex seed)')
    .requiredOption('--amount <n>', 'amount', amountArg('--amount'))
    .option(
      '--asset <asset>',
      'asset: 64 hex digits, or a, b, c for the demo assets (default: a)',
      assetArg('--asset', DEMO_ASSET_IDS),
    )
    .addOption(new Option('--fee <n>', 'fee').argParser(amountArg('--fee')).default(10n, '10'))
    .option('--rpc <url>', 'node RPC', DEFAULT_RPC)
    .option('--wait', 'wait for the receipt', false)
    .action(
      guarded(
        async (o: {
          key: string;
          amount: bigint;
          asset?: string;
          fee: bigint;
          rpc: string;
          wait: boolean;
        }) => {
          const rpc = new RpcClient(o.rpc);
          const seed = loadIdentity(o.key);
          const owner = toHex(keyPairFromSeed(seed).publicKey);
          const asset = o.asset ?? toHex(DEMO_ASSET);
          const fits = (n: NoteJson) => n.asset === asset && BigInt(n.amount) >= o.amount;
          const note = (await notesOf(rpc, owner, (ns) => ns.some(fits))).find(fits);
          if (note === undefined)
            throw new Error(
              `no token note of ${owner.slice(0, 16)}… holds ${o.amount} of ${asset.slice(0, 16)}… (see fractal query notes)`,
            );
          const tx = buildToSwapAccount(await tokenAt(rpc), seed, note, o.amount);
          await submitAndReport(rpc, tx, seed, o.fee, false, o.wait);
        },
      ),
    );

  intent
    .command('swap')
    .description(
      'sign and publish a swap intent: give up to --give, want at least --want (the limit price); a solver settles it at a uniform batch price, rounding in your favour',
    )
    .requiredOption('--key <file>', 'your ed25519 key file (hex seed)')
    .requiredOption(
      '--give <amount:asset>',
      'what you offer, e.g. 10:a (assets: 64 hex digits, or a, b, c for the demo assets)',
      amountOfAssetArg('--give', DEMO_ASSET_IDS),
    )
    .requiredOption(
      '--want <amount:asset>',
      'the least you accept for all of it, e.g. 5:b',
      amountOfAssetArg('--want', DEMO_ASSET_IDS),
    )
    .option('--partial', 'may be filled in part, at the same limit price (default: all or nothing)', false)
    .option(
      '--expires <height>',
      `the last height it may settle at (default: now + ${DEFAULT_LIFETIME})`,
      intArg('--expires', 1),
    )
    .addOption(
      new Option(
        '--fee <n>',
        'routing reward: at most this much of what you want goes to the gossip nodes that carried the intent from this node to a solver, only if it settles, out of the surplus over your limit',
      ).argParser(amountArg('--fee')),
    )
    .option('--rpc <url>', 'node RPC (a node with the gossip role)', DEFAULT_RPC)
    .action(
      guarded(
        async (o: {
          key: string;
          give: { amount: bigint; asset: string };
          want: { amount: bigint; asset: string };
          partial: boolean;
          expires?: number;
          expiresIn?: number;
          fee?: bigint;
          rpc: string;
        }) => {
          if (o.give.asset === o.want.asset) throw new Error('--give and --want name the same asset');
          const rpc = new RpcClient(o.rpc);
          const seed = loadIdentity(o.key);
          const owner = toHex(keyPairFromSeed(seed).publicKey);
          const status = await rpc.call<NodeStatus>('status');
          const notes = await rpc.call<NoteJson[]>('notes', { owner, account: 'swap', limit: 1_000 });
          const intent = buildSwapIntent(await tokenAt(rpc), {
            ownerKey: seed,
            give: { asset: Buffer.from(o.give.asset, 'hex'), amount: o.give.amount },
            want: { asset: Buffer.from(o.want.asset, 'hex'), amount: o.want.amount },
            partial: o.partial,
            expires: o.expires === undefined ? BigInt(status.height) + DEFAULT_LIFETIME : BigInt(o.expires),
            notes,
            ...(o.fee === undefined ? {} : { routeFee: o.fee, entry: Buffer.from(status.publicKey, 'hex') }),
          });
          const r = await rpc.call<{ id: string }>('submitIntent', {
            intent: toHex(swapIntentBytes(intent)),
            ...(o.expiresIn === undefined ? {} : { expiresAt: String(Date.now() + o.expiresIn * 1000) }),
          });
          console.log(`published intent ${r.id}`);
        },
      ),
    );

  const query = program.commands.find((c) => c.name() === 'query');
  if (query === undefined) throw new Error('register the node commands first');
  query
    .command('intents')
    .description("the intents in a gossip node's pool")
    .option('--limit <n>', 'at most this many', intArg('--limit', 1, 1_000), 100)
    .option('--rpc <url>', 'node RPC', DEFAULT_RPC)
    .action(
      guarded(async (o: { limit: number; rpc: string }) => {
        const pool = await new RpcClient(o.rpc).call<IntentJson[]>('intents', { limit: o.limit });
        print(pool.map(({ payload: _payload, ...rest }) => rest));
      }),
    );
}
