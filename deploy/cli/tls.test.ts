import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertRole, TlsIdentity } from "../../manager/ca/index.ts";
import { newCluster, testBundle } from "../../manager/ca/testing.ts";
import type { Cluster } from "../../proto/gen/objects.ts";
import { FakeControl, Ids, shoal } from "./testing.ts";

// One cluster CA for the file (an RSA key each costs time): a fake that signs operator
// certificates with it, reachable on a unix socket, over TLS as a manager, and over TLS as a worker.
let cluster: Cluster;
let fake: FakeControl;
let unixHost: string;
let tcpHost: string;
let workerTcpHost: string;
let scratch: string;
/** A directory holding cert.pem, key.pem and ca.pem of operator "ci". */
let ciDir: string;

before(async () => {
  cluster = await newCluster();
  const rootCa = cluster.rootCa!;
  fake = new FakeControl();
  fake.signer = { ...rootCa, clusterId: cluster.id };
  unixHost = await fake.listenUnix();
  tcpHost = await fake.listenTls(new TlsIdentity(await testBundle(rootCa, { role: CertRole.MANAGER, nodeId: Ids.LEADER, clusterId: cluster.id })));
  workerTcpHost = await fake.listenTls(new TlsIdentity(await testBundle(rootCa, { role: CertRole.WORKER, nodeId: Ids.WORKER9, clusterId: cluster.id })));
  scratch = mkdtempSync(join(tmpdir(), "shoal-cli-tls-"));
  ciDir = join(scratch, "ci");
  mkdirSync(ciDir);
  const ci = await testBundle(rootCa, { role: CertRole.OPERATOR, operator: "ci", clusterId: cluster.id });
  writeFileSync(join(ciDir, "cert.pem"), ci.certPem);
  writeFileSync(join(ciDir, "key.pem"), ci.keyPem);
  writeFileSync(join(ciDir, "ca.pem"), ci.caCertPem);
});
after(() => {
  fake.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** The client certificate CN of the last request the fake received. */
const lastPeer = () => fake.calls.at(-1)?.peer;

test("cluster client-cert: key made here, CSR signed by the CA, files written; they then work over mutual TLS", async () => {
  const out = join(scratch, "creds");
  const r = await shoal(["-H", unixHost, "cluster", "client-cert", "--out", out, "--name", "ci-runner"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    `Wrote an operator certificate for "ci-runner" to ${out}:\n` +
      "  cert.pem   the certificate\n" +
      "  key.pem    its private key (mode 0600): whoever holds it can change the cluster\n" +
      "  ca.pem     the cluster's root CA\n\n" +
      "To use it from another machine:\n\n" +
      `    SHOAL_HOST=tcp://10.0.0.1:4242 SHOAL_CERT_PATH=${out} shoal node ls\n\n`,
  );
  const [request] = fake.requests("issueOperatorCertificate");
  assert.equal(request!.name, "ci-runner");
  assert.match(request!.csrPem, /^-----BEGIN CERTIFICATE REQUEST-----/);
  assert.doesNotMatch(JSON.stringify(request), /PRIVATE KEY/);

  assert.equal(statSync(join(out, "key.pem")).mode & 0o777, 0o600);
  const cert = new X509Certificate(readFileSync(join(out, "cert.pem")));
  assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(join(out, "key.pem")))));
  assert.match(cert.subject, /CN=ci-runner/);
  assert.equal(readFileSync(join(out, "ca.pem"), "utf8"), cluster.rootCa!.caCertPem);

  const ls = await shoal(["node", "ls", "-q"], { SHOAL_HOST: tcpHost, SHOAL_CERT_PATH: out });
  assert.equal(ls.code, 0, ls.stderr);
  assert.equal(ls.stdout.split("\n")[0], Ids.LEADER);
  assert.equal(lastPeer(), "ci-runner");

  // Never overwrites a key: the second run stops before asking for anything.
  const again = await shoal(["-H", unixHost, "cluster", "client-cert", "--out", out, "--name", "ci-runner"]);
  assert.equal(again.code, 1);
  assert.equal(again.stderr, `Error: ${join(out, "cert.pem")}, ${join(out, "key.pem")}, ${join(out, "ca.pem")} already exists: choose another --out directory, or remove what is there\n`);
  assert.equal(fake.requests("issueOperatorCertificate").length, 1);
});

test("cluster client-cert names the operator after $USER by default; --out is required; names are checked", async () => {
  const r = await shoal(["-H", unixHost, "cluster", "client-cert", "--out", join(scratch, "alice")], { USER: "alice" });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fake.requests("issueOperatorCertificate").at(-1)!.name, "alice");

  const noOut = await shoal(["-H", unixHost, "cluster", "client-cert"]);
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /^Error: --out DIR is required: [^\n]+\n\nUsage: {2}shoal cluster client-cert --out DIR \[--name NAME\]\n/);
  const badName = await shoal(["-H", unixHost, "cluster", "client-cert", "--out", join(scratch, "x"), "--name", "ci runner"]);
  assert.equal(badName.code, 2);
  assert.match(badName.stderr, /^Error: invalid name "ci runner": use 1 to 64 letters/);
});

test("--tlscert/--tlskey/--tlscacert, each overriding its SHOAL_CERT_PATH file", async () => {
  const flags = ["--tlscert", join(ciDir, "cert.pem"), "--tlskey", join(ciDir, "key.pem"), "--tlscacert", join(ciDir, "ca.pem")];
  const r = await shoal(["-H", tcpHost, ...flags, "node", "inspect", "mgr-1"], { SHOAL_CERT_PATH: join(scratch, "creds-of-nobody") });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { id: string }[])[0]!.id, Ids.LEADER);
  assert.equal(lastPeer(), "ci");

  const mixed = await shoal(["node", "ls", "-q", "--tlscacert", join(ciDir, "ca.pem")], { SHOAL_HOST: tcpHost, SHOAL_CERT_PATH: join(scratch, "creds-of-nobody") });
  assert.equal(mixed.code, 1);
  assert.equal(mixed.stderr, `Error: cannot read the client certificate ${join(scratch, "creds-of-nobody", "cert.pem")} (SHOAL_CERT_PATH): no such file\n`);
});

test("TLS material that is missing, misplaced or unusable gets a clear error", async () => {
  const none = await shoal(["-H", tcpHost, "node", "ls"]);
  assert.equal(none.code, 1);
  assert.equal(
    none.stderr,
    `Error: ${tcpHost} is reached over mutual TLS, but no client certificate is given: use --tlscert FILE, or set SHOAL_CERT_PATH ` +
      "to a directory holding cert.pem, key.pem, ca.pem (`shoal cluster client-cert` makes one)\n",
  );

  const missingFile = await shoal(["-H", tcpHost, "--tlskey", join(scratch, "nope.pem"), "node", "ls"], { SHOAL_CERT_PATH: ciDir });
  assert.equal(missingFile.stderr, `Error: cannot read the client key ${join(scratch, "nope.pem")} (--tlskey): no such file\n`);

  const onUnix = await shoal(["-H", unixHost, "--tlscert", join(ciDir, "cert.pem"), "node", "ls"]);
  assert.equal(onUnix.code, 2);
  assert.match(onUnix.stderr, /^Error: --tlscert applies only to tcp:\/\/ hosts; unix:\/\/\S+ is a local socket, used without TLS\n/);

  const garbage = join(scratch, "garbage.pem");
  writeFileSync(garbage, "not a key\n");
  const unusable = await shoal(["-H", tcpHost, "--tlskey", garbage, "node", "ls"], { SHOAL_CERT_PATH: ciDir });
  assert.equal(unusable.code, 1);
  assert.ok(unusable.stderr.startsWith(`Error: the TLS files ${join(ciDir, "cert.pem")}, ${garbage}, ${join(ciDir, "ca.pem")} cannot be used: `), unusable.stderr);
});

test("a server whose certificate is not a manager's of the cluster is refused before anything is sent", async () => {
  const calls = fake.calls.length;
  const r = await shoal(["-H", workerTcpHost, "node", "ls"], { SHOAL_CERT_PATH: ciDir });
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `Error: cannot connect to shoald at ${workerTcpHost}: the server is not a manager of cluster ${cluster.id}: it presents worker node ${Ids.WORKER9} ` +
      `of cluster ${cluster.id}\n`,
  );
  assert.equal(fake.calls.length, calls);
});
