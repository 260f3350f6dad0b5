/**
 * Where the CLI connects and how: `-H`/`--host` or `SHOAL_HOST` names the daemon, as `-H` and
 * DOCKER_HOST do for Docker. `unix:///path` is the daemon's local socket (no TLS: the socket's
 * owner-only permissions are the access control). `tcp://host:port` is a remote manager, reached
 * over mutual TLS with an operator certificate (`shoal cluster client-cert` makes one) given by
 * `--tlscert/--tlskey/--tlscacert`, each defaulting to its file in `SHOAL_CERT_PATH`, as
 * DOCKER_CERT_PATH works.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import type { ChannelCredentials, ChannelOptions } from "@grpc/grpc-js";
import { clientCredentials, CLUSTER_CHANNEL_OPTIONS, TlsIdentity } from "../../manager/ca/index.ts";
import type { ParsedFlags } from "./args.ts";
import { CliError, UsageError } from "./errors.ts";

/** The daemon's default data directory; its control socket lives there (shoald's default too). */
export const DEFAULT_DATA_DIR = "/var/lib/shoal";
/** The name of the daemon's control socket inside its data directory. */
export const CONTROL_SOCKET_NAME = "shoald.sock";
/** The host used when neither `-H` nor `SHOAL_HOST` names one. */
export const DEFAULT_HOST = `unix://${join(DEFAULT_DATA_DIR, CONTROL_SOCKET_NAME)}`;

/** The environment variables the CLI reads. */
export const EnvVar = {
  HOST: "SHOAL_HOST",
  CERT_PATH: "SHOAL_CERT_PATH",
} as const;

/** The names of the TLS files in a `SHOAL_CERT_PATH` directory (those of DOCKER_CERT_PATH). */
export const CertPathFile = {
  CERT: "cert.pem",
  KEY: "key.pem",
  CA: "ca.pem",
} as const;

/** The TLS files: the flag of each, its name in `SHOAL_CERT_PATH`, and what it is, for messages. */
const TLS_FILES = [
  { flag: "tlscert", file: CertPathFile.CERT, what: "client certificate" },
  { flag: "tlskey", file: CertPathFile.KEY, what: "client key" },
  { flag: "tlscacert", file: CertPathFile.CA, what: "cluster CA certificate" },
] as const;

/** The flags of a `tcp://` host's TLS files. */
export const TLS_FLAGS: readonly string[] = TLS_FILES.map((f) => f.flag);

/** What a channel to the daemon needs. */
export interface Endpoint {
  /** The host as the user wrote it (or the default), for messages. */
  host: string;
  /** The grpc-js target. */
  target: string;
  credentials: ChannelCredentials;
  options: ChannelOptions;
}

/** The environment as the CLI sees it. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A usage error for a host string the CLI cannot use. */
function badHost(host: string, why: string): UsageError {
  return new UsageError(`invalid host ${JSON.stringify(host)}: ${why}; use unix:///path/to/shoald.sock or tcp://HOST:PORT`);
}

/** Reads one TLS file, with a message naming it and where its name came from when that fails. */
function readTlsFile(path: string, what: string, from: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (err as Error).message;
    throw new CliError(`cannot read the ${what} ${path} (${from}): ${reason}`);
  }
}

/** Mutual-TLS credentials from the TLS flags and `SHOAL_CERT_PATH`, checked to belong together. */
function tlsCredentials(host: string, flags: ParsedFlags, env: Env): ChannelCredentials {
  const certPath = env[EnvVar.CERT_PATH] || undefined;
  const files = TLS_FILES.map(({ flag, file, what }) => {
    const given = flags.string(flag);
    if (given !== undefined) return { what, path: given, from: `--${flag}` };
    if (certPath !== undefined) return { what, path: join(certPath, file), from: EnvVar.CERT_PATH };
    throw new CliError(
      `${host} is reached over mutual TLS, but no ${what} is given: use --${flag} FILE, or set ${EnvVar.CERT_PATH} to a directory ` +
        `holding ${Object.values(CertPathFile).join(", ")} (\`shoal cluster client-cert\` makes one)`,
    );
  });
  const [cert, key, ca] = files.map((f) => readTlsFile(f.path, f.what, f.from).toString("utf8"));
  let identity: TlsIdentity;
  try {
    identity = new TlsIdentity({ certPem: cert!, keyPem: key!, caCertPem: ca! });
  } catch (err) {
    throw new CliError(`the TLS files ${files.map((f) => f.path).join(", ")} cannot be used: ${(err as Error).message}`);
  }
  // The server must present a manager certificate of the client certificate's cluster, issued by the CA.
  return clientCredentials(identity);
}

/**
 * The endpoint named by `-H` (in `flags`) or `SHOAL_HOST`, or the default socket. Throws a
 * {@link UsageError} for a host it cannot parse, a {@link CliError} for missing or unusable TLS files.
 */
export function resolveEndpoint(flags: ParsedFlags, env: Env): Endpoint {
  const host = flags.string("host") ?? (env[EnvVar.HOST] || DEFAULT_HOST);
  if (host.startsWith("unix://")) {
    const path = host.slice("unix://".length);
    if (!path.startsWith("/")) throw badHost(host, "a unix socket path must be absolute");
    const tlsFlag = TLS_FLAGS.find((f) => flags.has(f));
    if (tlsFlag) throw new UsageError(`--${tlsFlag} applies only to tcp:// hosts; ${host} is a local socket, used without TLS`);
    return { host, target: `unix://${path}`, credentials: credentials.createInsecure(), options: {} };
  }
  if (host.startsWith("tcp://")) {
    let url: URL;
    try {
      url = new URL(host);
    } catch {
      throw badHost(host, "it is not a valid address");
    }
    if (!url.hostname || !url.port) throw badHost(host, "a tcp host needs a host name or address and a port");
    if (url.pathname || url.search || url.hash || url.username) throw badHost(host, "a tcp host is only HOST:PORT");
    return { host, target: `${url.hostname}:${url.port}`, credentials: tlsCredentials(host, flags, env), options: { ...CLUSTER_CHANNEL_OPTIONS } };
  }
  throw badHost(host, "unknown scheme");
}
