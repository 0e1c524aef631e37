/** JSON-RPC 2.0 error codes: the spec's reserved codes and Fractal's application codes (-32000..-32099). */
export const ERR = {
  /** Invalid JSON (or not UTF-8) was received. */
  PARSE: -32700,
  /** The JSON is not a valid request object (or the batch is empty / too large). */
  INVALID_REQUEST: -32600,
  /** The method does not exist or is not available on this transport. */
  METHOD_NOT_FOUND: -32601,
  /** The params do not validate; the message says which field and why. */
  INVALID_PARAMS: -32602,
  /** The handler failed unexpectedly; details are logged on the server, never sent. */
  INTERNAL: -32603,
  /** A server limit was hit (in-flight requests, subscriptions per socket). */
  LIMIT: -32005,
  /** The requested object (block, receipt, note…) does not exist. */
  NOT_FOUND: -32004,
  /** The node refused the request (e.g. a transaction failed admission). */
  REJECTED: -32010,
  /** The node cannot serve this right now (syncing, shutting down, component not ready). */
  UNAVAILABLE: -32011,
} as const;

export type ErrorCode = (typeof ERR)[keyof typeof ERR];

/** An error with a JSON-RPC code. Thrown by validators and handlers; the message and data are sent to the caller. */
export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = Number.isSafeInteger(code) ? code : ERR.INTERNAL;
    this.data = data;
  }

  /** The JSON-RPC `error` member. `data` is omitted when undefined. */
  toJSON(): { code: number; message: string; data?: unknown } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

/** `RpcError(INVALID_PARAMS, '<path>: <what>')`. */
export function invalidParams(path: string, what: string): RpcError {
  return new RpcError(ERR.INVALID_PARAMS, `${path}: ${what}`);
}
