import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as tls from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { DEFAULT_H2_LIMITS, H2ServerConnection } from "../../manager/controlapi/h2/connection.ts";
import { encodeHeaders } from "../../manager/controlapi/h2/hpack.ts";
import { CertRole, createRootCA, issueKeyAndCertificate, newId } from "../../manager/ca/index.ts";
import type { TlsBundle } from "../../manager/ca/index.ts";
import { connectUnary } from "./unary-client.ts";
import type { UnaryConnection } from "./unary-client.ts";

const DAY_MS = 24 * 3600 * 1000;
const raw = (b: Buffer): Buffer => b;
const METHOD = { requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw };

/** What the server saw of each call to /test.Echo/Call. */
const seen: { message: string; metadata: Record<string, unknown>; deadlineInMs: number }[] = [];
let server: grpc.Server;
let address: string;
let client: TlsBundle;
let stranger: TlsBundle;
/** The test server's certificate (a manager's). */
let serverTls: TlsBundle;

before(async () => {
  const clusterId = newId();
  const ca = await createRootCA(clusterId);
  serverTls = await issueKeyAndCertificate(ca, { role: CertRole.MANAGER, nodeId: newId(), clusterId }, DAY_MS);
  client = await issueKeyAndCertificate(ca, { role: CertRole.OPERATOR, operator: "bench", clusterId }, DAY_MS);
  const otherClusterId = newId();
  stranger = await issueKeyAndCertificate(await createRootCA(otherClusterId), { role: CertRole.OPERATOR, operator: "bench", clusterId: otherClusterId }, DAY_MS);
  server = new grpc.Server();
  server.addService({
    call: { ...METHOD, path: "/test.Echo/Call" },
    refuse: { ...METHOD, path: "/test.Echo/Refuse" },
    hang: { ...METHOD, path: "/test.Echo/Hang" },
  }, {
    call: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      seen.push({ message: call.request.toString(), metadata: call.metadata.getMap(), deadlineInMs: Number(call.getDeadline()) - Date.now() });
      done(null, Buffer.from("answer"));
    },
    refuse: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      done({ code: grpc.status.ALREADY_EXISTS, details: "config name \"x\" already exists" });
    },
    hang: () => undefined,
  });
  const credentials = grpc.ServerCredentials.createSsl(Buffer.from(serverTls.caCertPem), [{ private_key: Buffer.from(serverTls.keyPem), cert_chain: Buffer.from(serverTls.certPem) }], true);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", credentials, (err, p) => (err ? reject(err) : resolve(p))));
  address = `127.0.0.1:${port}`;
});

after(() => server.forceShutdown());

/** A connection with `identity`, trusting the test CA. */
function connect(identity: TlsBundle, timeoutMs = 5_000): Promise<UnaryConnection> {
  return connectUnary({
    address, timeoutMs,
    tls: { ca: client.caCertPem, cert: identity.certPem, key: identity.keyPem, servername: "test", checkServerIdentity: () => undefined },
  });
}

test("a call sends its message, a user agent and its deadline, and resolves on status OK", async () => {
  const conn = await connect(client, 30_000);
  try {
    await Promise.all([conn.call("/test.Echo/Call", Buffer.from("one")), conn.call("/test.Echo/Call", Buffer.from("two"))]);
    assert.deepEqual(seen.map((s) => s.message).sort(), ["one", "two"]);
    const metadata = seen[0]!.metadata;
    assert.equal(metadata["user-agent"], "shoal-bench");
    // The server knows the call's deadline, as from grpc-js (which sends it as grpc-timeout).
    assert.ok(seen[0]!.deadlineInMs > 25_000 && seen[0]!.deadlineInMs <= 30_000, `deadline in ${seen[0]!.deadlineInMs} ms`);
  } finally {
    conn.close();
  }
});

test("a call answered with an error status rejects with the status and its message", async () => {
  const conn = await connect(client);
  try {
    await assert.rejects(conn.call("/test.Echo/Refuse", Buffer.from("x")), {
      message: `/test.Echo/Refuse: gRPC status ${grpc.status.ALREADY_EXISTS}: config name "x" already exists`,
    });
    await assert.rejects(conn.call("/test.Echo/Missing", Buffer.from("x")), new RegExp(`gRPC status ${grpc.status.UNIMPLEMENTED}: `));
    // The connection stays usable after failed calls.
    await conn.call("/test.Echo/Call", Buffer.from("after"));
  } finally {
    conn.close();
  }
});

test("a call the server never answers rejects after the timeout", async () => {
  const conn = await connect(client, 300);
  try {
    const start = performance.now();
    await assert.rejects(conn.call("/test.Echo/Hang", Buffer.from("x")), /no answer within 300 ms|DEADLINE_EXCEEDED|gRPC status 4/);
    assert.ok(performance.now() - start < 3_000, "the call ended long after its timeout");
  } finally {
    conn.close();
  }
});

test("calls on a closed connection reject; a server that refuses the certificate fails the connection", async () => {
  const conn = await connect(client);
  conn.close();
  await assert.rejects(conn.call("/test.Echo/Call", Buffer.from("x")), /\/test\.Echo\/Call: /);
  // With TLS 1.3 the client learns that its certificate was refused after its handshake: at
  // connecting or at the first call.
  await assert.rejects(connect(stranger).then((c) => c.call("/test.Echo/Call", Buffer.from("x")).finally(() => c.close())),
    { message: /^(cannot connect to 127\.0\.0\.1:\d+: |\/test\.Echo\/Call: )/ });
  await assert.rejects(connectUnary({ address: "127.0.0.1", timeoutMs: 1_000, tls: {} }), /address "127\.0\.0\.1" is not host:port/);
});

test("300 calls at once on one connection, and messages of 1 MB (beyond the server's 64 KB windows), are all answered", async () => {
  const conn = await connect(client);
  try {
    const before = seen.length;
    await Promise.all(Array.from({ length: 300 }, (_, i) => conn.call("/test.Echo/Call", Buffer.from(`m${i}`))));
    assert.equal(seen.length - before, 300);
    assert.deepEqual(new Set(seen.slice(before).map((s) => s.message)).size, 300);
    const big = Buffer.alloc(1024 * 1024, 97);
    await Promise.all([conn.call("/test.Echo/Call", big), conn.call("/test.Echo/Call", big)]);
    assert.equal(seen.at(-1)!.message.length, big.length);
  } finally {
    conn.close();
  }
});

test("flow control both ways: a request of 1 MB to a server of 16 KB windows, and ten answers of 2 MB beyond the client's own windows", async (t) => {
  // shoal's own HTTP/2 server, which refuses a stream that goes past its window (node's tolerates it).
  const received: number[] = [];
  const ok = encodeHeaders([":status", "200", "content-type", "application/grpc"]);
  const trailers = encodeHeaders(["grpc-status", "0"]);
  const server = tls.createServer({ key: serverTls.keyPem, cert: serverTls.certPem, ALPNProtocols: ["h2"] }, (socket) => {
    new H2ServerConnection(socket, {
      onRequest(conn, req) {
        received.push(req.body.length);
        const path = req.headers[req.headers.indexOf(":path") + 1];
        conn.respond(req.streamId, ok, path === "/test.Big" ? Buffer.alloc(2 * 1024 * 1024, 1) : Buffer.alloc(0), trailers);
      },
      onRefused: () => assert.fail("nothing is refused here"),
      onCancel: () => undefined,
    }, { ...DEFAULT_H2_LIMITS, streamWindow: 16_384, connectionWindow: 65_535 });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const conn = await connectUnary({
    address: `127.0.0.1:${(server.address() as { port: number }).port}`, timeoutMs: 10_000,
    tls: { ca: client.caCertPem, servername: "test", checkServerIdentity: () => undefined },
  });
  t.after(() => conn.close());
  await conn.call("/test.Call", Buffer.alloc(1024 * 1024, 2));
  assert.deepEqual(received, [5 + 1024 * 1024]);
  for (let i = 0; i < 10; i++) await conn.call("/test.Big", Buffer.from("x"));
  assert.equal(received.length, 11);
});
