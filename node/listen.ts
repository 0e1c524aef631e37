/**
 * Binding a listening socket, with the failure as a typed error that names the service, host and
 * port and says what is wrong in words (the RPC server and the peer transport share this).
 */
import type { Server } from 'node:net';

/** Why a listener could not bind, in words, by the system error code. */
const CAUSES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the port is already in use (another node or program holds it)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'the host is not an address of this machine',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve (DNS lookup failed)',
  EAI_NONAME: 'the host name does not resolve',
  EAI_FAIL: 'the host name does not resolve (DNS lookup failed)',
};

export class ListenError extends Error {
  constructor(
    /** what was to listen: 'RPC', 'P2P', … */
    readonly service: string,
    readonly host: string,
    readonly port: number,
    /** the system error code (EADDRINUSE, ENOTFOUND, …), or '' when there was none */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    const cause = CAUSES[code] ?? (options?.cause instanceof Error ? options.cause.message : 'unknown error');
    super(
      `cannot listen for ${service} on ${hostPort(host, port)}: ${cause}${code === '' ? '' : ` (${code})`}`,
      options,
    );
    this.name = 'ListenError';
  }
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Binds `server` to `host:port`; rejects with a `ListenError` (the server is then not listening).
 * Errors after the bind are the caller's to handle (attach an 'error' listener once this resolves).
 */
export function listenOn(server: Server, service: string, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(new ListenError(service, host, port, typeof e.code === 'string' ? e.code : '', { cause: e }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    try {
      server.listen(port, host);
    } catch (e) {
      // synchronous refusals (a port out of range)
      onError(e as NodeJS.ErrnoException);
    }
  });
}
