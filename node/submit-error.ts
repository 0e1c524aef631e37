/**
 * A submission the node could not give a verdict on: it is shutting down, or its mempool did not
 * answer in time (overloaded). After a timeout the envelope may still be admitted later, so a
 * client must look for its receipt before it sends it again.
 */
export class SubmitUnanswered extends Error {
  readonly reason: 'shutting-down' | 'mempool-timeout';
  constructor(reason: 'shutting-down' | 'mempool-timeout', timeoutMs: number) {
    super(
      reason === 'shutting-down'
        ? 'the node is shutting down; submit to another node'
        : `the mempool did not answer within ${timeoutMs / 1000} s (the node is overloaded); the transaction may still be admitted: look for its receipt before submitting it again`,
    );
    this.name = 'SubmitUnanswered';
    this.reason = reason;
  }
}
