import net from 'node:net';

/**
 * A TCP relay in front of a server, whose link a fault test can cut the way a network
 * partition or a firewall that drops packets does: connections stay open and nothing
 * answers. Connections open when the link is cut get no bytes through in either direction,
 * and neither side learns that the other closed; new ones are accepted but never reach the
 * server (a client sees its connect or its startup hang, not a refusal). `restore` lets new
 * connections through again and closes the ones the cut held, as the peers' TCP stacks
 * eventually would.
 */
export interface TcpProxy {
  /** `connectionString` (a postgres:// URL of the server) pointed at the relay. */
  url(connectionString: string): string;
  /** Connections that have passed through, the held ones included. */
  readonly connections: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

interface Link {
  readonly client: net.Socket;
  readonly upstream: net.Socket | null;
}

/**
 * A relay to the server of `connectionString` (a postgres:// URL).
 *
 * @example
 * const proxy = await startTcpProxy(db.url);
 * const pool = createPool({ connectionString: proxy.url(db.url) });
 * // later: proxy.cut(); …; proxy.restore();
 */
export async function startTcpProxy(connectionString: string): Promise<TcpProxy> {
  const server = new URL(connectionString);
  const host = server.hostname;
  const port = Number(server.port || 5432);
  let isCut = false;
  let count = 0;
  const live = new Set<Link>();
  const held = new Set<Link>();

  const hold = (link: Link): void => {
    // Bytes that arrive are read and dropped: nothing goes through, nothing is refused.
    link.client.unpipe();
    link.upstream?.unpipe();
    link.client.removeAllListeners('data');
    link.upstream?.removeAllListeners('data');
    link.client.on('data', () => {});
    link.upstream?.on('data', () => {});
    live.delete(link);
    held.add(link);
  };

  const relay = net.createServer((client) => {
    count += 1;
    client.on('error', () => {});
    if (isCut) {
      hold({ client, upstream: null });
      return;
    }
    const upstream = net.connect({ host, port });
    upstream.on('error', () => client.destroy());
    const link = { client, upstream };
    live.add(link);
    const end = (): void => {
      // Across a cut neither side learns that the other closed: the relay keeps the other
      // side open until the link is restored.
      if (held.has(link)) return;
      client.destroy();
      upstream.destroy();
      live.delete(link);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(0, '127.0.0.1', () => resolve());
  });
  const address = relay.address() as net.AddressInfo;

  const destroyAll = (links: Set<Link>): void => {
    for (const link of links) {
      link.client.destroy();
      link.upstream?.destroy();
    }
    links.clear();
  };

  return {
    url(through: string) {
      const u = new URL(through);
      u.hostname = '127.0.0.1';
      u.port = String(address.port);
      return u.toString();
    },
    get connections() {
      return count;
    },
    cut() {
      isCut = true;
      for (const link of [...live]) hold(link);
    },
    restore() {
      isCut = false;
      destroyAll(held);
    },
    async close() {
      destroyAll(held);
      destroyAll(live);
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    },
  };
}
