/**
 * The digest engine: the smallest real application. It folds each committed block into a state
 * root, root(h) = sha256(root(h-1) || blockHash(h)), where root(h-1) is the `appRoot` the block's
 * header already carries, so the engine needs no state of its own and survives any restart.
 * Consensus uses it to agree on an application state before the executor (issue 4) replaces it.
 */
import { assign, enqueueActions, setup } from 'xstate';
import {
  defineEngine,
  type EngineEmitted,
  type EngineEvent,
  type EngineInput,
} from '../../runtime/engine.ts';
import { sha256 } from '../../wire/commit.ts';
import { blockHash } from '../consensus/chain.ts';
import { CommittedBlock } from '../consensus/messages.ts';
import { AppRoot } from '../consensus/ports.ts';

const inputs = { committed: CommittedBlock };
const outputs = { appRoot: AppRoot };

export function digestRoot(previousRoot: Uint8Array, hash: Uint8Array): Uint8Array {
  const joined = new Uint8Array(64);
  joined.set(previousRoot, 0);
  joined.set(hash, 32);
  return sha256(joined);
}

const machine = setup({
  types: {} as {
    context: { applied: number };
    events: EngineEvent<typeof inputs>;
    emitted: EngineEmitted<typeof outputs>;
    input: EngineInput<undefined>;
  },
  actions: {
    apply: enqueueActions(({ event, enqueue }) => {
      if (event.type !== 'committed') return;
      const header = event.msg.block.header;
      enqueue.emit({
        type: 'appRoot',
        msg: { height: header.height, root: digestRoot(header.appRoot, blockHash(header)) },
      });
    }),
    count: assign(({ context }) => ({ applied: context.applied + 1 })),
  },
}).createMachine({
  id: 'digest',
  context: { applied: 0 },
  initial: 'applying',
  states: {
    applying: { on: { committed: { actions: ['apply', 'count'] } } },
  },
});

export const digestEngine = defineEngine<typeof inputs, typeof outputs, undefined>({
  name: 'digest',
  inputs,
  outputs,
  machine,
});
