/**
 * A Docker engine that can go down or hang on demand, without touching the real one (which other test files share):
 * a unix-socket proxy in front of the real engine's socket. The CLI is pointed at the proxy (--docker-host).
 *
 *   up    forwards every connection to the real engine
 *   down  what a crashed dockerd leaves: the socket file is there, nobody listens (connect → ECONNREFUSED)
 *   hang  accepts connections and never answers (a wedged dockerd)
 */
import { linkSync, renameSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { execRoundTrips } from './node-trips.js';

export type ProxyMode = 'up' | 'down' | 'hang';

export class DockerProxy {
  readonly socketPath: string;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private mode: ProxyMode = 'up';
  /** Connections accepted so far (in any mode). */
  connections = 0;
  /**
   * `docker exec`s created through the proxy (POST /containers/{id}/exec request lines seen from the clients): node round
   * trips on the kind path. A request line split across two reads would be missed; the clients write each at once.
   */
  execCreates = 0;
  /** The stdin of each exec started through the proxy, as it came (node-trips.ts counts a session's requests in it). */
  readonly execStdins: Buffer[][] = [];

  /** Node round trips so far: one per exec started, or its session's requests (test/helpers/node-trips.ts). */
  roundTrips(): number {
    return this.execStdins.reduce((n, s) => n + execRoundTrips(Buffer.concat(s)), 0);
  }

  private constructor(
    private readonly target: string,
    dir: string,
  ) {
    this.socketPath = join(dir, 'docker-proxy.sock');
  }

  /** A proxy for the engine at `dockerHost` (unix:///…), with its socket in dir; starts up. */
  static async start(dockerHost: string, dir: string): Promise<DockerProxy> {
    if (!dockerHost.startsWith('unix://')) throw new Error(`DockerProxy: only unix:// engines, got ${dockerHost}`);
    const p = new DockerProxy(dockerHost.slice('unix://'.length), dir);
    await p.listen();
    return p;
  }

  get host(): string {
    return `unix://${this.socketPath}`;
  }

  private async listen(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    // half-open both ways: a docker exec client ends its side (stdin done) and then reads the output
    const server = createServer({ allowHalfOpen: true }, (client) => {
      this.connections++;
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => undefined);
      if (this.mode === 'hang') return; // read, never answer
      const upstream = createConnection({ path: this.target, allowHalfOpen: true });
      this.sockets.add(upstream);
      upstream.on('close', () => this.sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      // what the client sent after its exec start request: that exec's stdin (the connection is hijacked then)
      let stdin: Buffer[] | undefined;
      let head = '';
      client.on('data', (chunk: Buffer) => {
        if (stdin) return void stdin.push(chunk);
        const text = chunk.toString('latin1');
        this.execCreates += (text.match(/^POST \/(?:v[\d.]+\/)?containers\/[^/\s]+\/exec HTTP/gm) ?? []).length;
        head += text;
        const start = /POST \/(?:v[\d.]+\/)?exec\/[^/\s]+\/start HTTP[^]*?\r\n\r\n/m.exec(head);
        if (!start) {
          head = head.slice(-8192);
          return;
        }
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(start[0])?.[1] ?? 0);
        const rest = Buffer.from(head.slice(start.index + start[0].length), 'latin1');
        if (rest.length < length) return; // the body is still coming
        stdin = [rest.subarray(length)];
        this.execStdins.push(stdin);
        head = '';
      });
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    this.server = server;
  }

  private async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    const closed = new Promise<void>((r) => s.close(() => r()));
    for (const c of this.sockets) c.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Switch mode. "down" keeps a dead socket file in place (Node removes it on close, so it is hard-linked aside first). */
  async set(mode: ProxyMode): Promise<void> {
    if (mode === this.mode) return;
    if (mode === 'down') {
      const keep = `${this.socketPath}.dead`;
      rmSync(keep, { force: true });
      linkSync(this.socketPath, keep);
      await this.close();
      renameSync(keep, this.socketPath);
    } else if (this.mode === 'down') {
      this.mode = mode;
      await this.listen();
    } else {
      // up ↔ hang: drop the connections made in the old mode
      for (const c of this.sockets) c.destroy();
      this.sockets.clear();
    }
    this.mode = mode;
  }

  async stop(): Promise<void> {
    await this.close();
    rmSync(this.socketPath, { force: true });
  }
}
