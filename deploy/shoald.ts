/**
 * `shoald`: the node daemon (see deploy/daemon/flags.ts for its command line).
 *
 * Test-only tuning through the environment: SHOAL_TICK_MS (Raft tick), SHOAL_HEARTBEAT_MS
 * (node heartbeat period), SHOAL_CERT_VALIDITY_MS (validity of issued certificates),
 * SHOAL_SNAPSHOT_INTERVAL (least entries between store snapshots) and SHOAL_FAULTS_FILE
 * (deploy/daemon/file-faults.ts).
 */
import { allocatorAdvice } from "./daemon/allocator.ts";
import { Daemon } from "./daemon/daemon.ts";
import type { DaemonTuning } from "./daemon/daemon.ts";
import { parseDaemonFlags, UsageError } from "./daemon/flags.ts";
import { v8PoolAdvice } from "./daemon/v8-pool.ts";

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer, got "${v}"`);
  return n;
}

async function main(): Promise<number> {
  let daemon: Daemon;
  try {
    const flags = parseDaemonFlags(process.argv.slice(2));
    const tuning: DaemonTuning = {
      tickMs: envNumber("SHOAL_TICK_MS"),
      heartbeatPeriodMs: envNumber("SHOAL_HEARTBEAT_MS"),
      certValidityMs: envNumber("SHOAL_CERT_VALIDITY_MS"),
      snapshotInterval: envNumber("SHOAL_SNAPSHOT_INTERVAL"),
    };
    const log = (line: string): void => void process.stderr.write(`shoald: ${line}\n`);
    for (const advice of [allocatorAdvice(), v8PoolAdvice()]) if (advice) log(advice);
    daemon = await Daemon.start(flags, tuning, log);
  } catch (err) {
    process.stderr.write(`shoald: ${(err as Error).message}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.stderr.write(`shoald: ${signal}: shutting down\n`);
      void daemon.stop().finally(resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  return 0;
}

// Exit once stopped rather than wait for the event loop to drain: a peer's connection accepted
// in the middle of its TLS handshake when the servers shut down is not closed by grpc-js and
// kept a stopped daemon alive (indefinitely, when the peer kept it open).
process.exit(await main());
