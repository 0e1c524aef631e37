/**
 * Assertions: what must never happen, said where it would. A failed assertion is a bug in this
 * code (or storage it wrote that is no longer what it wrote), never bad input from outside: bad
 * input gets a typed rejection instead. In an engine, a failed assertion crashes the step, which
 * the runtime rolls back and restarts; it never continues on a state it does not understand.
 */

/** A broken invariant: the message says which. */
export class InvariantError extends Error {
  constructor(message: string) {
    super(`invariant broken: ${message}`);
    this.name = 'InvariantError';
  }
}

/** Throws an InvariantError with `message` unless `condition` holds. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

/** `value`, which the caller's logic guarantees is there; an InvariantError naming `what` if not. */
export function present<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new InvariantError(`${what} is missing`);
  return value;
}
