import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_DATA_DIR, parseDaemonFlags, splitHostPort, UsageError } from "./flags.ts";

test("shoald's three modes parse: init, join, restart (with or without forcing a new cluster)", () => {
  assert.deepEqual(parseDaemonFlags(["--data-dir", "/d", "--listen-addr", "10.0.0.1:4242", "--init"]),
    { dataDir: "/d", listenAddr: "10.0.0.1:4242", advertiseAddr: undefined, hostname: undefined, mode: { kind: "init" } });
  const join = parseDaemonFlags(["--data-dir=/d", "--listen-addr=127.0.0.2:1", "--advertise-addr", "host.example:4242",
    "--join-addr", "127.0.0.1:4242", "--join-token", "SHOAL-1-x-y", "--hostname", "w1"]);
  assert.deepEqual(join.mode, { kind: "join", joinAddr: "127.0.0.1:4242", joinToken: "SHOAL-1-x-y" });
  assert.equal(join.advertiseAddr, "host.example:4242");
  assert.equal(join.hostname, "w1");
  assert.deepEqual(parseDaemonFlags(["--data-dir", "/d"]).mode, { kind: "restart", forceNewCluster: false });
  assert.deepEqual(parseDaemonFlags(["--data-dir", "/d", "--force-new-cluster"]).mode, { kind: "restart", forceNewCluster: true });
  // Without --data-dir, the default one (where the CLI looks for the socket).
  assert.deepEqual(parseDaemonFlags([]), { dataDir: DEFAULT_DATA_DIR, listenAddr: undefined, advertiseAddr: undefined, hostname: undefined, mode: { kind: "restart", forceNewCluster: false } });
});

test("bad command lines are refused with what was wrong, and the usage", () => {
  const refused = (argv: string[], why: RegExp): void => {
    assert.throws(() => parseDaemonFlags(argv), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, why);
      assert.match(err.message, /usage:/);
      return true;
    });
  };
  refused(["--data-dir", "/d", "--init"], /--init needs --listen-addr/);
  refused(["--data-dir", "/d", "--listen-addr", "1.2.3.4"], /--listen-addr must be HOST:PORT/);
  refused(["--data-dir", "/d", "--listen-addr", "1.2.3.4:0", "--init"], /port from 1 to 65535, got "1.2.3.4:0"/);
  refused(["--data-dir", "/d", "--listen-addr", "a:1", "--join-addr", "b:2"], /joining needs both --join-addr and --join-token/);
  refused(["--data-dir", "/d", "--listen-addr", "a:1", "--init", "--join-token", "t"], /--init cannot be combined/);
  refused(["--data-dir", "/d", "--init", "--force-new-cluster", "--listen-addr", "a:1"], /--init cannot be combined with --force-new-cluster/);
  refused(["--data-dir", "/d", "--bogus"], /unknown argument "--bogus"/);
  refused(["--data-dir"], /--data-dir needs a value/);
});

test("splitHostPort: a host (IPv6 without brackets) and a port from 0 to 65535, or nothing", () => {
  assert.deepEqual(splitHostPort("127.0.0.1:4242"), { host: "127.0.0.1", port: 4242 });
  assert.deepEqual(splitHostPort("[::1]:0"), { host: "::1", port: 0 });
  assert.deepEqual(splitHostPort("manager-1.example:65535"), { host: "manager-1.example", port: 65535 });
  for (const bad of ["4242", ":4242", "host:", "host:65536", "host:-1", "host:4.5", "host:x"]) assert.equal(splitHostPort(bad), undefined, bad);
});
