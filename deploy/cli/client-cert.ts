/**
 * `shoal cluster client-cert`: gets an operator certificate from the cluster CA, so that a CLI on
 * another machine (a CI runner, say) can reach a manager over mutual TLS. The private key is made
 * here and never leaves this machine; only a CSR is sent. `shoal cluster revoke-client-cert`
 * ends every certificate with a name, for good (manager/ca/operators.ts).
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createCsr, generateKeyPem, OPERATOR_NAME_PATTERN, OPERATOR_NAME_RULE, TlsIdentity } from "../../manager/ca/index.ts";
import { FlagKind } from "./args.ts";
import type { Command } from "./command.ts";
import { CertPathFile, EnvVar } from "./connection.ts";
import { ANY_NUMBER } from "./each-arg.ts";
import { CliError, ExitCode, UsageError } from "./errors.ts";

/** Who the certificate is for when `--name` is not given and the environment names no user. */
const DEFAULT_OPERATOR_NAME = "operator";

/** `s` as one shell word. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Throws a usage error when no certificate could carry `name`. */
function checkOperatorName(name: string): void {
  if (!OPERATOR_NAME_PATTERN.test(name)) {
    throw new UsageError(`invalid name ${JSON.stringify(name)}: use ${OPERATOR_NAME_RULE}`);
  }
}

/** `shoal cluster client-cert --out DIR [--name NAME]`. */
export const clientCert: Command = {
  name: "client-cert",
  summary: "Get an operator certificate for driving the cluster from another machine",
  usage: "--out DIR [--name NAME]",
  flags: [
    { name: "out", kind: FlagKind.STRING, valueName: "DIR", description: `Directory to write ${Object.values(CertPathFile).join(", ")} to (created if needed)` },
    { name: "name", kind: FlagKind.STRING, valueName: "NAME", description: "Who the certificate is for, as the cluster's logs will name it (default: $USER)" },
  ],
  args: { min: 0, max: 0 },
  async run({ flags, io, connect }) {
    const out = flags.string("out");
    if (!out) throw new UsageError("--out DIR is required: the directory to write the certificate, its key and the cluster CA to");
    const name = flags.string("name") ?? (io.env.USER || DEFAULT_OPERATOR_NAME);
    checkOperatorName(name);
    const dir = resolve(out);
    const paths = { cert: join(dir, CertPathFile.CERT), key: join(dir, CertPathFile.KEY), ca: join(dir, CertPathFile.CA) };
    const existing = Object.values(paths).filter((p) => existsSync(p));
    if (existing.length) throw new CliError(`${existing.join(", ")} already exists: choose another --out directory, or remove what is there`);

    const client = connect();
    const keyPem = await generateKeyPem();
    const { certPem, caCertPem } = await client.issueOperatorCertificate({ csrPem: createCsr(keyPem), name });
    try {
      new TlsIdentity({ certPem, keyPem, caCertPem });
    } catch (err) {
      throw new CliError(`the manager returned a certificate that cannot be used: ${(err as Error).message}`);
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // "wx": never overwrite, even a file that appeared since the check above.
    await writeFile(paths.key, keyPem, { mode: 0o600, flag: "wx" });
    await writeFile(paths.cert, certPem, { mode: 0o644, flag: "wx" });
    await writeFile(paths.ca, caCertPem, { mode: 0o644, flag: "wx" });
    const addr = await client.managerAddr();
    io.stdout.write(
      `Wrote an operator certificate for "${name}" to ${dir}:\n` +
        `  ${CertPathFile.CERT}   the certificate\n` +
        `  ${CertPathFile.KEY}    its private key (mode 0600): whoever holds it can change the cluster\n` +
        `  ${CertPathFile.CA}     the cluster's root CA\n\n` +
        `To use it from another machine:\n\n` +
        `    ${EnvVar.HOST}=tcp://${addr} ${EnvVar.CERT_PATH}=${shellWord(dir)} shoal node ls\n\n`,
    );
    return ExitCode.OK;
  },
};

/** `shoal cluster revoke-client-cert NAME [NAME...]`. */
export const revokeClientCert: Command = {
  name: "revoke-client-cert",
  summary: "Revoke every operator certificate with these names, for good",
  usage: "NAME [NAME...]",
  flags: [],
  args: { min: 1, max: ANY_NUMBER },
  async run({ args, io, connect }) {
    for (const name of args) checkOperatorName(name);
    const client = connect();
    const cluster = await client.getCluster();
    await client.updateCluster({ version: cluster.meta?.version ?? 0, rotateWorkerToken: false, rotateManagerToken: false, revokeOperators: args });
    io.stdout.write(
      `Revoked the operator certificates named ${args.map((a) => JSON.stringify(a)).join(", ")}: every call with one of them is refused from now on, ` +
        "and no certificate is issued under these names again.\n",
    );
    return ExitCode.OK;
  },
};
