/**
 * Structured logs: one pino logger per node, one child per engine (and per subsystem: net, rpc),
 * as JSON lines on stdout (or a file), so `jq` and log shippers read them as they are.
 */
import { type DestinationStream, type Logger, pino } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type { Logger };

export function createLogger(node: string, level: LogLevel, destination?: DestinationStream): Logger {
  return pino({ level, base: { node }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** The `log` callback shape the transport and the RPC server take, bound to a child logger. */
export function logFn(
  logger: Logger,
): (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void {
  return (level, msg, fields) => logger[level](fields ?? {}, msg);
}
