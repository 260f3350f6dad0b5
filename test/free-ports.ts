/**
 * Ports for the servers tests and benchmarks start on loopback. All are held open together
 * before any is let go: ports taken one after another, each closed before the next, can be the
 * same port twice (a `bench:raft` run failed on etcd's "bind: address already in use").
 */
import { createServer } from "node:net";

/** `count` distinct TCP ports on 127.0.0.1 that were free a moment ago. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(servers.map((server) => new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
    })));
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  }
}
