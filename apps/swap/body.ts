/**
 * A swap intent as the gossip layer carries it (wire/intent.ts IntentBody), and where the notes it
 * offers are stored: what gossip, the solver, the node and the routing-reward check share.
 */
import { noteKey } from '../../engines/executor/notes.ts';
import { type IntentBody, spentNoteId } from '../../wire/intent.ts';
import { encode } from '../../wire/schema.ts';
import { SignedSwapIntent, type SwapTerms, swapTopic } from './format.ts';
import { swapOwnerCommitment } from './owner.ts';

/** The gossip topic prefix of swap intents (a solver's filter names it). */
export const SWAP_TOPIC = 'swap/v1';

/**
 * A signed swap intent as gossip carries it: the topic of its asset pair, attributes a filter can
 * test (`pair`: the topic's pair, `give`: the amount offered), the ids of the offered notes as its
 * inputs (`spentNoteId` of their storage keys, what the ledger reports spent, so a pool drops the
 * intent once one is), its expiry (height, and optionally a time pools drop it at), the
 * settlement-conditional fee (the terms' routeFee, which the owner signed), and the intent as the
 * opaque payload. Its id is what the route's hops sign, so a settlement that pays the route
 * rebuilds it from the intent and `expiresAt` (rewards.ts).
 */
export function swapIntentBody(intent: SignedSwapIntent, expiresAt: bigint | null = null): IntentBody {
  const topic = swapTopic(intent.terms.give.of, intent.terms.want.of);
  return {
    topic,
    attributes: [
      { key: 'pair', value: { tag: 'text', value: topic.slice(SWAP_TOPIC.length + 1) } },
      { key: 'give', value: { tag: 'num', value: intent.terms.give.amount } },
    ],
    inputs: offeredNotes(intent.terms).map(spentNoteId),
    expiry: intent.terms.expires + 1n,
    expiresAt,
    fee: intent.terms.routeFee > 0n ? intent.terms.routeFee : null,
    maxHops: 32,
    payload: encode(SignedSwapIntent, intent),
  };
}

/** Where the notes an intent offers are stored: its owner's swap-owner notes of the asset it gives. */
export function offeredNotes(terms: SwapTerms): Uint8Array[] {
  const owner = swapOwnerCommitment(terms.owner);
  const { provenance, application } = terms.give.of;
  return terms.inputs.map((key) => noteKey({ provenance, application, owner, key }));
}
