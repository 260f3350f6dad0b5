/**
 * `shoal cluster ...`: the cluster object, its join tokens (as `docker swarm join-token`), and
 * operator certificates for remote clients (and their revocation).
 */
import type { Cluster, RootCA } from "../../proto/gen/objects.ts";
import { FlagKind } from "./args.ts";
import { clientCert, revokeClientCert } from "./client-cert.ts";
import type { Command, CommandGroup } from "./command.ts";
import { checkChoice, CliError, ExitCode } from "./errors.ts";
import { ROLES } from "./node-view.ts";
import type { RoleName } from "./node-view.ts";
import { renderJson } from "./output.ts";

/** The cluster as shown: the root CA's private key is left out even if a server sent it. */
type ShownCluster = Omit<Cluster, "rootCa"> & { rootCa?: Omit<RootCA, "caKeyPem"> };

/** `cluster` without its CA key. */
function withoutCaKey(cluster: Cluster): ShownCluster {
  if (!cluster.rootCa) return cluster;
  const { caKeyPem: _key, ...rootCa } = cluster.rootCa;
  return { ...cluster, rootCa };
}

const inspect: Command = {
  name: "inspect",
  summary: "Display detailed information on the cluster",
  usage: "[OPTIONS]",
  flags: [{ name: "format", kind: FlagKind.STRING, valueName: "string", description: "Output format", choices: ["json"] }],
  args: { min: 0, max: 0 },
  async run({ io, connect }) {
    io.stdout.write(renderJson(withoutCaKey(await connect().getCluster())));
    return ExitCode.OK;
  },
};

const joinToken: Command = {
  name: "join-token",
  summary: "Show or rotate the token a node needs to join the cluster as a worker or a manager",
  usage: "[OPTIONS] (worker|manager)",
  flags: [
    { name: "quiet", short: "q", kind: FlagKind.BOOL, description: "Only display the token" },
    { name: "rotate", kind: FlagKind.BOOL, description: "Replace the token with a new one; the old one stops working" },
  ],
  args: { min: 1, max: 1 },
  async run({ flags, io, args, connect }) {
    const role = checkChoice("role", args[0]!, Object.keys(ROLES) as RoleName[]);
    const rotate = flags.bool("rotate");
    const client = connect();
    let cluster = await client.getCluster();
    if (rotate) {
      cluster = await client.updateCluster({ version: cluster.meta?.version ?? 0, rotateWorkerToken: role === "worker", rotateManagerToken: role === "manager", revokeOperators: [] });
    }
    const token = cluster.rootCa?.joinTokens?.[role];
    if (!token) throw new CliError(`the cluster has no ${role} join token`);
    if (flags.bool("quiet")) {
      io.stdout.write(`${token}\n`);
      return ExitCode.OK;
    }
    if (rotate) io.stdout.write(`Successfully rotated ${role} join token.\n\n`);
    const addr = await client.managerAddr();
    io.stdout.write(
      `To add a ${role} to this cluster, run the following command:\n\n` +
        `    shoald --data-dir <DIR> --listen-addr <HOST:PORT> --join-addr ${addr} --join-token ${token}\n\n`,
    );
    return ExitCode.OK;
  },
};

/** `shoal cluster`: manage the cluster. */
export const clusterGroup: CommandGroup = {
  name: "cluster",
  summary: "Manage the cluster",
  commands: [inspect, joinToken, clientCert, revokeClientCert],
};
