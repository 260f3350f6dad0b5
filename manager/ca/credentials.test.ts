import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { CLUSTER_CHANNEL_OPTIONS } from "./credentials.ts";

test("a channel to a manager that is down tries again every second or so, however many tries failed before", async () => {
  // A server that drops every connection at once: each drop is one failed try of the channel.
  const tries: number[] = [];
  const server = createServer((socket) => {
    tries.push(Date.now());
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = new grpc.Client(`127.0.0.1:${(server.address() as AddressInfo).port}`, grpc.credentials.createInsecure(), CLUSTER_CHANNEL_OPTIONS);
  try {
    // A caller that keeps calling, as Raft's heartbeats, forwarded writes and agents' heartbeats do.
    const until = Date.now() + 7_000;
    while (Date.now() < until) {
      await new Promise<void>((resolve) => client.makeUnaryRequest("/shoal.test.Down/Call", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0),
        { deadline: Date.now() + 200 }, () => resolve()));
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    client.close();
    server.close();
  }
  // gRPC's default waits 1 s, then 1.6, 2.6, 4.1 s... (to 2 minutes): its third wait alone is over 2 s.
  const waits = tries.slice(1).map((t, i) => t - tries[i]!);
  // Bounded to 1 s (give or take a fifth, and up to 0.3 s for the caller's next call), it tries 9 to 11 times in 7 s.
  assert.ok(tries.length >= 7, `only ${tries.length} tries in 7 s; waits between them: ${waits.join(", ")} ms`);
  assert.ok(Math.max(...waits) <= 1800, `waits between tries: ${waits.join(", ")} ms`);
});
