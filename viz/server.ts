/**
 * Serving the visualiser: the page's static assets (bundled from viz/page by esbuild, in process,
 * nothing fetched at run time) under `/viz/`, and the hub's WebSocket at `/viz/ws`. Either mounted
 * on a node's RPC server (`vizRoutes`) or standalone (`VizServer`, for `fractal sim --viz` and
 * `fractal viz open`).
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { build, stop as stopEsbuild } from 'esbuild';
import { WebSocketServer } from 'ws';
import type { VizHub } from './hub.ts';

export const VIZ_PATH = '/viz/';
export const VIZ_WS_PATH = '/viz/ws';

interface Asset {
  type: string;
  body: Buffer;
}

const pageDir = fileURLToPath(new URL('./page/', import.meta.url));

/** Bundles the page (once per process): index.html, app.js, style.css by path under /viz/. */
async function buildAssets(): Promise<Map<string, Asset>> {
  // esbuild's service process is not kept for the life of the node: the page is built once
  const bundle = await build({
    entryPoints: [`${pageDir}app.ts`],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    write: false,
    minify: false,
    sourcemap: false,
    logLevel: 'silent',
  });
  await stopEsbuild();
  const js = bundle.outputFiles[0];
  if (js === undefined) throw new Error('viz: esbuild produced no output');
  return new Map<string, Asset>([
    [VIZ_PATH, { type: 'text/html; charset=utf-8', body: await readFile(`${pageDir}index.html`) }],
    [`${VIZ_PATH}app.js`, { type: 'text/javascript; charset=utf-8', body: Buffer.from(js.contents) }],
    [
      `${VIZ_PATH}style.css`,
      { type: 'text/css; charset=utf-8', body: await readFile(`${pageDir}style.css`) },
    ],
  ]);
}

let assets: Promise<Map<string, Asset>> | undefined;

/** The page's assets, built on first use (a failed build is retried on the next request). */
export function pageAssets(): Promise<Map<string, Asset>> {
  if (assets === undefined) {
    assets = buildAssets();
    assets.catch(() => {
      assets = undefined;
    });
  }
  return assets;
}

export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

function assetRoute(path: string): Route {
  return async (req, res) => {
    const asset = (await pageAssets()).get(path);
    if (asset === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': asset.type,
      'Content-Length': asset.body.length,
      'Cache-Control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };
}

const redirect =
  (to: string): Route =>
  async (_req, res) => {
    res.writeHead(302, { Location: to }).end();
  };

/** GET routes for the page, by exact path (for a node's RPC server). */
export function vizRoutes(): Record<string, Route> {
  return {
    '/viz': redirect(VIZ_PATH),
    [VIZ_PATH]: assetRoute(VIZ_PATH),
    [`${VIZ_PATH}app.js`]: assetRoute(`${VIZ_PATH}app.js`),
    [`${VIZ_PATH}style.css`]: assetRoute(`${VIZ_PATH}style.css`),
  };
}

/** Hands WebSocket upgrades on `/viz/ws` to the hub. */
export function vizUpgrade(hub: VizHub): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: hub.maxMessageBytes });
  return (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => hub.connect(ws));
}

const pathOf = (url: string | undefined): string => {
  try {
    return new URL(url ?? '/', 'http://x').pathname;
  } catch {
    return '/';
  }
};

/** The visualiser on a port of its own. */
export class VizServer {
  private readonly http: http.Server;
  private port = 0;

  constructor(
    readonly hub: VizHub,
    private readonly host = '127.0.0.1',
  ) {
    const routes: Record<string, Route> = { '/': redirect(VIZ_PATH), ...vizRoutes() };
    const upgrade = vizUpgrade(hub);
    this.http = http.createServer((req, res) => {
      const route = routes[pathOf(req.url)];
      if (route === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(route === undefined ? 404 : 405, { 'Content-Type': 'text/plain' });
        res.end(route === undefined ? 'not found\n' : 'use GET\n');
        return;
      }
      route(req, res).catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`viz: ${(e as Error).message}\n`);
      });
    });
    this.http.on('upgrade', (req, socket, head) => {
      socket.on('error', () => {});
      if (pathOf(req.url) !== VIZ_WS_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      upgrade(req, socket, head);
    });
  }

  /** Listens (port 0: any free port) and builds the page; returns the page's URL. */
  async start(port: number): Promise<string> {
    await pageAssets();
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, this.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const address = this.http.address();
    this.port = typeof address === 'object' && address !== null ? address.port : port;
    this.hub.start();
    return this.url;
  }

  get url(): string {
    return `http://${this.host}:${this.port}${VIZ_PATH}`;
  }

  async close(): Promise<void> {
    this.hub.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
