import assert from "node:assert/strict";
import { test } from "node:test";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import * as grpc from "@grpc/grpc-js";
import { assertItemsDieYoung } from "../../test/old-generation.ts";
import { StreamTable } from "../../manager/controlapi/h2/stream-table.ts";
import { installHttp2StreamTables, streamTableOf } from "./http2-stream-table.ts";

/** One step on a session's streams: open the next one, close one that is open, or look one up. */
type Step = { op: "open"; longLived: boolean } | { op: "close"; pick: number } | { op: "get"; pick: number } | { op: "clear" };

const sorted = (entries: Iterable<[number, string]>): [number, string][] => [...entries].sort((a, b) => a[0] - b[0]);

test("a stream table answers as a Map does while streams open and close, some staying open for long", () => {
  const step = fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant("open" as const), longLived: fc.boolean() }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("close" as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("get" as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.constant({ op: "clear" as const }) },
  );
  fc.assert(fc.property(fc.array(step as fc.Arbitrary<Step>, { maxLength: 1500 }), fc.constantFrom(1, 2), (steps, firstId) => {
    const table = new StreamTable<string>();
    const model = new Map<number, string>();
    let next = firstId; // clients open odd ids, servers even ones
    for (const s of steps) {
      if (s.op === "open") {
        table.set(next, `s${next}`);
        model.set(next, `s${next}`);
        next += 2;
      } else if (s.op === "close" || s.op === "get") {
        const open = [...model.keys()];
        const id = open.length > 0 && s.pick % 4 !== 0 ? open[s.pick % open.length]! : next + 2 * (s.pick % 3); // sometimes an id not open
        if (s.op === "close") assert.equal(table.delete(id), model.delete(id), `delete ${id}`);
        else assert.equal(table.get(id), model.get(id), `get ${id}`);
        assert.equal(table.has(id), model.has(id));
      } else {
        table.clear();
        model.clear();
      }
      assert.equal(table.size, model.size);
    }
    assert.deepEqual(sorted(table), sorted(model));
    assert.deepEqual([...table.keys()].sort((a, b) => a - b), [...model.keys()].sort((a, b) => a - b));
    // Closing every stream while iterating, as a session does when it is destroyed.
    table.forEach((_, id) => table.delete(id));
    assert.equal(table.size, 0);
  }), { numRuns: 200 });
});

test("closed streams die young in a stream table; in a Map they would have been kept into the old generation", () => {
  const table = new StreamTable<object>();
  assertItemsDieYoung("a stream table", { put: (id, stream) => table.set(id, stream), remove: (id) => void table.delete(id) });
});

test("a stream table is a Map to whoever checks, and refuses what is not a stream id", () => {
  const table = new StreamTable<string>();
  assert.ok(table instanceof Map);
  assert.throws(() => table.set(-1, "x"), /-1 is not a stream id/);
  assert.throws(() => table.set(1.5, "x"), /1.5 is not a stream id/);
});

test("once installed, HTTP/2 sessions on both sides keep their streams in stream tables, and gRPC calls work through them", async (t) => {
  installHttp2StreamTables();
  // Plain HTTP/2: the sessions can be checked directly (this fails if Node moves its session state).
  const server = http2.createServer();
  const serverSessions: http2.ServerHttp2Session[] = [];
  server.on("session", (s) => serverSessions.push(s));
  // While the server answers a stream, its session's table holds it: Node looks streams up there.
  const seenInTable: boolean[] = [];
  server.on("stream", (stream) => {
    seenInTable.push(streamTableOf(stream.session!)?.get(stream.id!) === stream);
    stream.respond({ ":status": 200 }, { endStream: true });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  t.after(() => client.close());
  for (let i = 0; i < 300; i++) {
    await new Promise<void>((resolve, reject) => {
      const req = client.request({ ":path": "/" });
      req.on("response", () => req.resume()).on("end", resolve).on("error", reject);
      req.end();
    });
  }
  assert.ok(streamTableOf(client), "the client session uses a stream table");
  assert.equal(serverSessions.length, 1);
  assert.ok(streamTableOf(serverSessions[0]!), "the server session uses a stream table");
  assert.equal(seenInTable.length, 300);
  assert.ok(seenInTable.every(Boolean), "every stream was in the table while it was open");
  assert.equal(streamTableOf(serverSessions[0]!)!.size, 0, "and none is left once they closed");

  // gRPC (grpc-js makes its HTTP/2 servers and connections through the same module).
  const echo = { path: "/test.Echo/Echo", requestStream: false, responseStream: false,
    requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
  const grpcServer = new grpc.Server();
  grpcServer.addService({ echo }, { echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request) });
  const port = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  t.after(() => grpcServer.forceShutdown());
  const grpcClient = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.after(() => grpcClient.close());
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => new Promise<string>((resolve, reject) => {
    grpcClient.makeUnaryRequest(echo.path, echo.requestSerialize, echo.responseDeserialize, Buffer.from(`call ${i}`), (err, res) => (err ? reject(err) : resolve(res!.toString())));
  })));
  assert.deepEqual(answers, Array.from({ length: 200 }, (_, i) => `call ${i}`));
});
