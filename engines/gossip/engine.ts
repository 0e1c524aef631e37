/**
 * The intent gossip engine: intents from local clients and from peers in, intents to peers and to
 * local subscribers (a solver) out, over a gossipsub-style overlay with filter negotiation.
 * `createGossipEngine({ stillValid })` hands in the application's receiver-side check.
 */
import { defineEngine, type EngineDefinition } from '../../runtime/engine.ts';
import { createGossipMachine } from './machine.ts';
import type { GossipConfig, GossipEnv } from './node.ts';
import { gossipInputs, gossipOutputs } from './ports.ts';

export interface GossipEngineOptions {
  /** whether an intent is still valid against this node's state; refused ones are dropped without penalty */
  readonly stillValid?: GossipEnv['stillValid'];
}

export function createGossipEngine(
  options: GossipEngineOptions = {},
): EngineDefinition<typeof gossipInputs, typeof gossipOutputs, GossipConfig> {
  return defineEngine<typeof gossipInputs, typeof gossipOutputs, GossipConfig>({
    name: 'gossip',
    inputs: gossipInputs,
    outputs: gossipOutputs,
    machine: (host) => createGossipMachine(host, options.stillValid),
  });
}

export const gossipEngine = createGossipEngine();
