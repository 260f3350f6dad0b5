import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { ConfChangeType } from "../../proto/gen/raft.ts";
import type { Message } from "../../proto/gen/raft.ts";
import { RaftService } from "../../proto/gen/raftrpc.ts";
import { Members } from "./members.ts";
import { GrpcTransport } from "./transport.ts";
import { waitFor } from "./testing.ts";

/** A Raft server that counts the streams opened to it and the messages they carried. */
interface CountingServer {
  addr: string;
  streamsOpened: number;
  streamsEnded: number;
  messages: Message[];
  server: grpc.Server;
}

async function countingServer(raftId: number): Promise<CountingServer> {
  const server = new grpc.Server();
  const counts: Omit<CountingServer, "addr" | "server"> = { streamsOpened: 0, streamsEnded: 0, messages: [] };
  const transport = new GrpcTransport({
    raftId, members: new Members(), credentials: grpc.credentials.createInsecure(),
    sink: { step: (m) => counts.messages.push(m), reportUnreachable: () => {}, reportSnapshot: () => {} },
  });
  const service = transport.serviceImplementation(() => {});
  server.addService(RaftService, {
    ...service,
    stream: (call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      counts.streamsOpened++;
      let ended = false;
      const end = (): void => {
        if (!ended) counts.streamsEnded++;
        ended = true;
      };
      call.on("end", end);
      call.on("cancelled", end);
      (service.stream as grpc.handleClientStreamingCall<unknown, unknown>)(call, callback);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return Object.assign(counts, { addr: `127.0.0.1:${port}`, server });
}

test("a manager keeps a stream open to every other member before it has anything to send, and closes the one to a removed member", async () => {
  const peers = [await countingServer(2), await countingServer(3)];
  const members = new Members();
  members.set({ raftId: 1, nodeId: "n1", addr: "127.0.0.1:1" });
  members.set({ raftId: 2, nodeId: "n2", addr: peers[0]!.addr });
  members.set({ raftId: 3, nodeId: "n3", addr: peers[1]!.addr });
  const transport = new GrpcTransport({
    raftId: 1, members, credentials: grpc.credentials.createInsecure(),
    sink: { step: () => {}, reportUnreachable: () => {}, reportSnapshot: () => {} },
  });
  try {
    transport.keepConnected();
    await waitFor("a stream to each other member", () => peers.every((p) => p.streamsOpened === 1));
    // Called again (every tick), it keeps the same streams instead of opening more.
    transport.keepConnected();
    transport.keepConnected();
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(peers.map((p) => p.streamsOpened), [1, 1]);
    assert.deepEqual(peers.map((p) => p.messages.length), [0, 0], "nothing was sent: the streams are open ahead of any message");

    members.apply({ type: ConfChangeType.CONF_CHANGE_REMOVE_NODE, nodeId: 3, context: new Uint8Array() });
    transport.keepConnected();
    await waitFor("the stream to the removed member closed", () => peers[1]!.streamsEnded === 1);
    assert.equal(peers[0]!.streamsEnded, 0, "the stream to a member stays open");
  } finally {
    transport.close();
    for (const p of peers) p.server.forceShutdown();
  }
});
