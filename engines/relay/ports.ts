/**
 * The relay engine's port messages. What an end's state holds and what a piece of work carries
 * are the application's (apps/ibc encodes them); the engine only orders observation, planning and
 * submission, and keeps count.
 */
import { type Infer, s } from '../../wire/schema.ts';

/** Bytes of an end's reported state, and of one piece of work, the ports admit. */
export const MAX_REPORT_BYTES = 4 << 20;
export const MAX_WORK_BYTES = 1 << 20;

/** Which end of the link: 0 and 1 (instance A and instance B). */
export const Side = s.u8();

/** What the environment saw of one end: its newest provable header and the state the planner reads. */
export const EndReport = s.struct({
  side: Side,
  height: s.u64(),
  time: s.u64(),
  state: s.bytes({ max: MAX_REPORT_BYTES }),
});
export type EndReport = Infer<typeof EndReport>;

/** A transaction to build and submit on `side` (its messages, application-encoded). */
export const RelayWork = s.struct({
  id: s.u64(),
  side: Side,
  kind: s.string({ max: 64 }),
  body: s.bytes({ max: MAX_WORK_BYTES }),
});
export type RelayWork = Infer<typeof RelayWork>;

/** How a piece of work ended: included and accepted, or refused (by the chain, or never included). */
export const WorkResult = s.struct({
  id: s.u64(),
  accepted: s.bool(),
  reason: s.string({ max: 512 }),
});
export type WorkResult = Infer<typeof WorkResult>;

export const relayInputs = {
  /** a fresh observation of one end */
  end: EndReport,
  /** the outcome of a piece of work the engine asked for */
  result: WorkResult,
};

export const relayOutputs = {
  /** a transaction to build and submit */
  work: RelayWork,
};
