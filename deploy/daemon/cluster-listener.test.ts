import assert from "node:assert/strict";
import { test } from "node:test";
import type { TestContext } from "node:test";
import tls from "node:tls";
import { X509Certificate } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import { ControlService } from "../../proto/gen/control.ts";
import type { GetConfigRequest, GetConfigResponse } from "../../proto/gen/control.ts";
import { CertRole, newId, NO_CHANNELZ, TlsIdentity } from "../../manager/ca/index.ts";
import type { TlsBundle } from "../../manager/ca/index.ts";
import { newCluster, testBundle } from "../../manager/ca/testing.ts";
import { UnaryServer } from "../../manager/controlapi/h2/unary-server.ts";
import { ClusterListener } from "./cluster-listener.ts";
import { Switchboard } from "./switchboard.ts";

const get = ControlService.getConfig;

interface Fixture {
  addr: string;
  listener: ClusterListener;
  identity: TlsIdentity;
  bundles: { operator: TlsBundle; worker: TlsBundle; foreignOperator: TlsBundle };
  newServerBundle(): Promise<TlsBundle>;
}

/**
 * A listener with a manager's identity whose GetConfig says which server answered it: "own"
 * (the control API's own server gives handlers the TLS socket) or "grpc-js", and the caller's role.
 */
async function listen(t: TestContext): Promise<Fixture> {
  const cluster = await newCluster();
  const rootCa = cluster.rootCa!;
  const managerBundle = (): Promise<TlsBundle> => testBundle(rootCa, { role: CertRole.MANAGER, nodeId: newId(), clusterId: cluster.id });
  const identity = new TlsIdentity(await managerBundle());
  const server = new grpc.Server(NO_CHANNELZ);
  const board = new Switchboard(server, [ControlService]);
  const getConfig = (call: ServerUnaryCall<GetConfigRequest, GetConfigResponse>, callback: sendUnaryData<GetConfigResponse>): void => {
    const via = "tlsSocket" in call ? "own" : "grpc-js";
    callback(null, { config: { id: `${via}/${call.getAuthContext().sslPeerCertificate?.subject.OU ?? "none"}` } });
  };
  board.install([[ControlService, { getConfig }]]);
  const listener = await ClusterListener.listen("127.0.0.1:0", identity, server, new UnaryServer((path) => board.unaryMethod(path)));
  t.after(() => {
    listener.close();
    server.forceShutdown();
  });
  const other = await newCluster();
  return {
    addr: `127.0.0.1:${listener.port}`, listener, identity, newServerBundle: managerBundle,
    bundles: {
      operator: await testBundle(rootCa, { role: CertRole.OPERATOR, operator: "ci", clusterId: cluster.id }),
      worker: await testBundle(rootCa, { role: CertRole.WORKER, nodeId: newId(), clusterId: cluster.id }),
      foreignOperator: await testBundle(other.rootCa!, { role: CertRole.OPERATOR, operator: "ci", clusterId: other.id }),
    },
  };
}

/** GetConfig's answer through a new grpc-js client with `bundle`'s certificate (or none), trusting the listener's root. */
async function whoAnswers(f: Fixture, bundle: TlsBundle | undefined): Promise<string> {
  const root = Buffer.from(f.identity.bundle.caCertPem);
  const creds = bundle
    ? grpc.credentials.createSsl(root, Buffer.from(bundle.keyPem), Buffer.from(bundle.certPem), { checkServerIdentity: () => undefined })
    : grpc.credentials.createSsl(root, null, null, { checkServerIdentity: () => undefined });
  const client = new grpc.Client(f.addr, creds, { "grpc.ssl_target_name_override": "shoal" });
  try {
    return await new Promise<string>((resolve, reject) => client.makeUnaryRequest(get.path, get.requestSerialize, get.responseDeserialize, { config: "x" },
      (err: grpc.ServiceError | null, res?: GetConfigResponse) => (err ? reject(err) : resolve(res!.config!.id))));
  } finally {
    client.close();
  }
}

test("operators' connections go to the control API's own server, every other to grpc-js", async (t) => {
  const f = await listen(t);
  assert.equal(await whoAnswers(f, f.bundles.operator), "own/operator");
  assert.equal(await whoAnswers(f, f.bundles.worker), "grpc-js/worker");
  assert.equal(await whoAnswers(f, undefined), "grpc-js/none");
  // An operator certificate of another cluster is not verified by the handshake: grpc-js, whose
  // services then refuse it (manager/ca/authorize.ts), sees no certificate at all.
  assert.equal(await whoAnswers(f, f.bundles.foreignOperator), "grpc-js/none");
});

test("a renewed certificate is what the next connections see", async (t) => {
  const f = await listen(t);
  const serialOf = (): Promise<string> => new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port: f.listener.port, ALPNProtocols: ["h2"], rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()!.serialNumber);
      socket.destroy();
    });
    socket.on("error", reject);
  });
  const before = await serialOf();
  assert.equal(before, new X509Certificate(f.identity.bundle.certPem).serialNumber);
  const renewed = await f.newServerBundle();
  f.identity.update(renewed);
  const want = new X509Certificate(renewed.certPem).serialNumber;
  const deadline = Date.now() + 5_000;
  let now = await serialOf();
  while (now !== want && Date.now() < deadline) now = await serialOf();
  assert.equal(now, want);
  assert.equal(await whoAnswers(f, f.bundles.operator), "own/operator");
});

test("a connection that does not speak HTTP/2 is closed, and the listener goes on", async (t) => {
  const f = await listen(t);
  // Offering no application protocol: the handshake succeeds, then the socket is closed unanswered
  // (were it handed to grpc-js, its SETTINGS frame would arrive first).
  const outcome = await new Promise<{ handshake: boolean; received: number }>((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port: f.listener.port, rejectUnauthorized: false });
    let handshake = false;
    let received = 0;
    socket.on("secureConnect", () => {
      handshake = true;
      socket.write("GET / HTTP/1.1\r\n\r\n");
    });
    socket.on("data", (chunk: Buffer) => (received += chunk.length));
    socket.on("error", reject);
    socket.on("close", () => resolve({ handshake, received }));
  });
  assert.deepEqual(outcome, { handshake: true, received: 0 });
  // A client that fails the handshake does no harm either.
  await new Promise<void>((resolve) => {
    const socket = tls.connect({ host: "127.0.0.1", port: f.listener.port, ALPNProtocols: ["h2"] }); // rejects the self-made root
    socket.on("error", () => resolve());
  });
  assert.equal(await whoAnswers(f, f.bundles.operator), "own/operator");
});

test("listening where another server listens fails with an error that names the address", async (t) => {
  const f = await listen(t);
  const server = new grpc.Server(NO_CHANNELZ);
  await assert.rejects(ClusterListener.listen(f.addr, f.identity, server, new UnaryServer(() => undefined)), new RegExp(`cannot listen on ${f.addr}: .*EADDRINUSE`));
  server.forceShutdown();
});
