import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "node:tls";
import type { ServiceError } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { NodeRole } from "../../proto/gen/specs.ts";
import { requestRenewal } from "./client.ts";
import { CertificateRenewer, renewalRetryDelay, renewalTime, RENEWAL_RETRY_MAX_MS, RENEWAL_RETRY_MIN_MS } from "./renewal.ts";
import type { Clock } from "./renewal.ts";
import type { TlsBundle } from "./signer.ts";
import { newCluster, nodeIdOf, startCA, testNode } from "./testing.ts";
import type { TestCA } from "./testing.ts";
import { TlsIdentity } from "./tls-identity.ts";

const DAY = 24 * 60 * 60 * 1000;
let ca: TestCA;

before(async () => {
  ca = await startCA(await newCluster(DAY));
});
after(() => ca.close());

interface ManualTimer {
  at: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock whose time only moves when the test says, and whose timers the test fires. */
class ManualClock implements Clock {
  timers: ManualTimer[] = [];
  constructor(public time: number) {}
  now(): number {
    return this.time;
  }
  schedule(fn: () => void, ms: number): () => void {
    const timer = { at: this.time + ms, fn, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }
  /** The one pending timer. */
  pending(): ManualTimer {
    const live = this.timers.filter((t) => !t.cancelled);
    assert.equal(live.length, 1, "exactly one renewal is scheduled");
    return live[0]!;
  }
  /** Moves to the pending timer's time and fires it. */
  fire(): void {
    const timer = this.pending();
    timer.cancelled = true;
    this.time = timer.at;
    timer.fn();
  }
}

test("the renewal time falls between 50% and 80% of the validity, spread by the random draw", () => {
  const validity = { issuedAt: 1_000_000, expiresAt: 1_000_000 + 100_000 };
  assert.equal(renewalTime(validity, () => 0), 1_050_000);
  assert.equal(renewalTime(validity, () => 0.5), 1_065_000);
  assert.ok(renewalTime(validity, () => 0.999999) < 1_080_000);
  for (let i = 0; i < 1000; i++) {
    const at = renewalTime(validity);
    assert.ok(at >= 1_050_000 && at < 1_080_000, `${at}`);
  }
});

test("after a failure the retry waits a tenth of what is left, within one second and thirty", () => {
  assert.equal(renewalRetryDelay(25_500), 2_550);
  assert.equal(renewalRetryDelay(60 * DAY), RENEWAL_RETRY_MAX_MS);
  assert.equal(renewalRetryDelay(0), RENEWAL_RETRY_MIN_MS);
  assert.equal(renewalRetryDelay(-5_000), RENEWAL_RETRY_MIN_MS, "an expired certificate is still retried, once a second");
});

test("the renewer schedules in the window, retries when the manager is unreachable, then installs the renewed certificate", async () => {
  const identity = await testNode(ca.backend, NodeRole.NODE_ROLE_WORKER, 60_000);
  const first = identity.validity;
  const clock = new ManualClock(first.issuedAt);
  let addr = "127.0.0.1:1"; // nothing listens there
  const errors: Error[] = [];
  const renewed: [TlsBundle, NodeRole][] = [];
  let settled: () => void = () => {};
  const renewer = new CertificateRenewer({
    identity,
    managerAddr: () => addr,
    clock,
    random: () => 0.25,
    onError: (err) => { errors.push(err); settled(); },
    onRenewed: (bundle, role) => { renewed.push([bundle, role]); settled(); },
  });
  const attempt = (): Promise<void> => new Promise((resolve) => { settled = resolve; clock.fire(); });

  renewer.start();
  assert.equal(clock.pending().at, first.issuedAt + 34_500, "50% + 30% × 0.25 of 60 s");

  await attempt();
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as ServiceError).code, status.UNAVAILABLE);
  assert.equal(clock.pending().at - clock.now(), 2_550, "a tenth of the 25.5 s left");

  // The manager is back; promote the node meanwhile: the renewed certificate carries the new role.
  addr = ca.addr;
  ca.backend.nodes.set(nodeIdOf(identity), NodeRole.NODE_ROLE_MANAGER);
  await attempt();
  assert.equal(renewed.length, 1);
  assert.equal(renewed[0]![1], NodeRole.NODE_ROLE_MANAGER);
  assert.equal(identity.identity.role, "manager");
  assert.equal(identity.bundle.certPem, renewed[0]![0].certPem);
  assert.ok(identity.validity.expiresAt - identity.validity.issuedAt === DAY, "the cluster's configured validity");
  assert.equal(clock.pending().at, renewalTime(identity.validity, () => 0.25), "the next renewal is planned from the new certificate");

  renewer.stop();
  assert.equal(clock.timers.filter((t) => !t.cancelled).length, 0, "stop cancels the plan");
});

test("with real time and a 3-second certificate, renewal starts between 50% and 80% of it and the node keeps working after the first certificate expires", async () => {
  const { backend } = ca;
  const previous = backend.current;
  // Renewed certificates are short-lived too, as with `nodeCertExpiryMs` of seconds.
  backend.current = { ...previous, spec: { caConfig: { nodeCertExpiryMs: 3_000 } } };
  const identity = await testNode(backend, NodeRole.NODE_ROLE_WORKER, 3_000);
  const original: TlsBundle = identity.bundle;
  const validity = identity.validity;
  const started: number[] = [];
  let renewedAt = 0;
  const renewal = new Promise<void>((resolve, reject) => {
    const renewer = new CertificateRenewer({
      identity,
      managerAddr: () => { started.push(Date.now()); return ca.addr; },
      onRenewed: () => { renewedAt = Date.now(); renewer.stop(); resolve(); },
      onError: (err) => { renewer.stop(); reject(err); },
    });
    renewer.start();
  });
  try {
    await renewal;
    const span = validity.expiresAt - validity.issuedAt;
    const fraction = (started[0]! - validity.issuedAt) / span;
    assert.equal(started.length, 1, "renewed on the first try");
    assert.ok(fraction >= 0.5 && fraction <= 0.8 + 0.05, `renewal started at ${(fraction * 100).toFixed(1)}% of the validity`);
    assert.ok(renewedAt < validity.expiresAt, "renewed before the first certificate expired");
    assert.notEqual(identity.bundle.certPem, original.certPem);

    // X.509 times are whole seconds, and OpenSSL counts the expiry second itself as expired.
    await sleep(validity.expiresAt + 250 - Date.now());
    // The first certificate has expired: with it, a new connection is refused...
    await assert.rejects(requestRenewal(ca.addr, new TlsIdentity(original)), (err: unknown) => (err as ServiceError).code === status.UNAUTHENTICATED);
    // ...while the renewed one, installed in the same identity, works.
    await requestRenewal(ca.addr, identity);
  } finally {
    backend.current = previous;
  }
});

test("a manager that renews presents its new certificate on new connections without restarting its server", async () => {
  const seen = async (): Promise<string> => {
    const [host, port] = ca.addr.split(":");
    const socket = connect({ host, port: Number(port), ca: ca.manager.bundle.caCertPem, ALPNProtocols: ["h2"], checkServerIdentity: () => undefined });
    await once(socket, "secureConnect");
    const fingerprint = socket.getPeerCertificate().fingerprint256;
    socket.destroy();
    return fingerprint;
  };
  const before = await seen();
  assert.equal(before, new X509Certificate(ca.manager.bundle.certPem).fingerprint256);
  const { bundle } = await requestRenewal(ca.addr, ca.manager);
  ca.manager.update(bundle);
  await new Promise((resolve) => setImmediate(resolve)); // listeners hear on the next tick
  assert.equal(await seen(), new X509Certificate(bundle.certPem).fingerprint256);
});
