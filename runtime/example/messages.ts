import { type Infer, s } from '../../wire/schema.ts';

/** A unit of work; `attempt` counts resends after a missed acknowledgement. */
export const Job = s.struct({ id: s.u32(), attempt: s.u32(), value: s.u32() });
export type Job = Infer<typeof Job>;

export const Result = s.struct({ id: s.u32(), value: s.u64() });
export type Result = Infer<typeof Result>;

export const Ack = s.struct({ id: s.u32() });
export type Ack = Infer<typeof Ack>;
