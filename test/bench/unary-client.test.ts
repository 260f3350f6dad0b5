import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
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

before(async () => {
  const clusterId = newId();
  const ca = await createRootCA(clusterId);
  const serverTls = await issueKeyAndCertificate(ca, { role: CertRole.MANAGER, nodeId: newId(), clusterId }, DAY_MS);
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
