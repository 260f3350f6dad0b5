/**
 * The command line of `shoald`:
 *
 *   shoald --data-dir DIR --listen-addr HOST:PORT [--advertise-addr HOST:PORT] --init
 *   shoald --data-dir DIR --listen-addr HOST:PORT [--advertise-addr HOST:PORT] --join-addr HOST:PORT --join-token TOKEN
 *   shoald --data-dir DIR [--force-new-cluster]
 */

/** What `shoald` was asked to do. */
export type DaemonMode =
  | { kind: "init" }
  | { kind: "join"; joinAddr: string; joinToken: string }
  | { kind: "restart"; forceNewCluster: boolean };

/** Parsed command line of `shoald`. */
export interface DaemonFlags {
  /** Where the node keeps its state. */
  dataDir: string;
  /** Where it listens for other nodes (and remote operators). */
  listenAddr?: string;
  /** The address others use to reach it (defaults to the listen address). */
  advertiseAddr?: string;
  /** Hostname to report (defaults to the machine's). */
  hostname?: string;
  /** Init, join, or restart from the data directory. */
  mode: DaemonMode;
}

/** Where a node keeps its state unless told otherwise (the `shoal` CLI looks for its socket there). */
export const DEFAULT_DATA_DIR = "/var/lib/shoal";

/** Usage text, printed with every usage error. */
export const SHOALD_USAGE = `usage:
  shoald [--data-dir DIR] --listen-addr HOST:PORT [--advertise-addr HOST:PORT] --init
  shoald [--data-dir DIR] --listen-addr HOST:PORT [--advertise-addr HOST:PORT] --join-addr HOST:PORT --join-token TOKEN
  shoald [--data-dir DIR] [--force-new-cluster]
options:
  --data-dir DIR    where the node keeps its state (default: ${DEFAULT_DATA_DIR})
  --hostname NAME   the hostname this node reports (default: the machine's)`;

/** A command line that cannot be used; the message says what was wrong. */
export class UsageError extends Error {
  /** Makes an error whose message ends with the usage text. */
  constructor(what: string) {
    super(`${what}\n${SHOALD_USAGE}`);
    this.name = "UsageError";
  }
}

/**
 * `host:port` as a host (an IPv6 literal without its brackets) and a port number from 0 to
 * 65535, or undefined when `value` is not that.
 */
export function splitHostPort(value: string): { host: string; port: number } | undefined {
  const colon = value.lastIndexOf(":");
  const digits = value.slice(colon + 1);
  const port = Number(digits);
  if (colon <= 0 || !/^\d{1,5}$/.test(digits) || port > 65535) return undefined;
  return { host: value.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port };
}

/** Checks a HOST:PORT address and returns it; throws UsageError naming the flag otherwise. */
export function parseHostPort(flag: string, value: string): string {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new UsageError(`${flag} must be HOST:PORT with a port from 1 to 65535, got "${value}"`);
  return value;
}

/** Parses `shoald`'s arguments. */
export function parseDaemonFlags(argv: string[]): DaemonFlags {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  const valued = ["--data-dir", "--listen-addr", "--advertise-addr", "--join-addr", "--join-token", "--hostname"];
  const boolean = ["--init", "--force-new-cluster"];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (valued.includes(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === "") throw new UsageError(`${name} needs a value`);
      values.set(name, value);
    } else if (boolean.includes(name)) {
      switches.add(name);
    } else {
      throw new UsageError(`unknown argument "${arg}"`);
    }
  }
  const dataDir = values.get("--data-dir") ?? DEFAULT_DATA_DIR;
  const listenAddr = values.has("--listen-addr") ? parseHostPort("--listen-addr", values.get("--listen-addr")!) : undefined;
  const advertiseAddr = values.has("--advertise-addr") ? parseHostPort("--advertise-addr", values.get("--advertise-addr")!) : undefined;
  const joinAddr = values.has("--join-addr") ? parseHostPort("--join-addr", values.get("--join-addr")!) : undefined;
  const joinToken = values.get("--join-token");
  const init = switches.has("--init");
  const force = switches.has("--force-new-cluster");
  let mode: DaemonMode;
  if (init) {
    if (joinAddr || joinToken) throw new UsageError("--init cannot be combined with --join-addr or --join-token");
    if (force) throw new UsageError("--init cannot be combined with --force-new-cluster");
    if (!listenAddr) throw new UsageError("--init needs --listen-addr");
    mode = { kind: "init" };
  } else if (joinAddr || joinToken) {
    if (!joinAddr || !joinToken) throw new UsageError("joining needs both --join-addr and --join-token");
    if (force) throw new UsageError("--force-new-cluster cannot be combined with joining");
    if (!listenAddr) throw new UsageError("joining needs --listen-addr");
    mode = { kind: "join", joinAddr, joinToken };
  } else {
    mode = { kind: "restart", forceNewCluster: force };
  }
  return { dataDir, listenAddr, advertiseAddr, hostname: values.get("--hostname"), mode };
}
