/**
 * `shoal node ...`: list, inspect, update, promote, demote and remove nodes, with the flags and
 * output of `docker node ...`. A NODE argument is an id, a unique id prefix or a hostname; the
 * server resolves it (GetNode). Every change reads the node, edits its spec, and writes it back
 * with the version it read, so a change made meanwhile by someone else is refused, not lost.
 */
import type { Node } from "../../proto/gen/objects.ts";
import type { NodeSpec } from "../../proto/gen/specs.ts";
import { NodeAvailability, NodeRole } from "../../proto/gen/specs.ts";
import { FlagKind, parseLabel } from "./args.ts";
import type { FlagSpec } from "./args.ts";
import type { Command, CommandGroup } from "./command.ts";
import type { ControlClient } from "./control-client.ts";
import { ANY_NUMBER, forEachArg } from "./each-arg.ts";
import { CliError, ExitCode, oneOf, UsageError } from "./errors.ts";
import { AVAILABILITIES, byHostname, NODE_TABLE_HEADERS, nodeFields, roleName, ROLES, summarize, tableRow } from "./node-view.ts";
import type { AvailabilityName, RoleName } from "./node-view.ts";
import { renderFields, renderJson, renderJsonLine, renderTable } from "./output.ts";

/** Writes back `node`'s spec as `change` edits it, with the version read; returns the node as updated. */
function editSpec(client: ControlClient, node: Node, change: (spec: NodeSpec) => void): Promise<Node> {
  const spec = structuredClone(node.spec ?? { desiredRole: node.role, availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE });
  change(spec);
  return client.updateNode({ nodeId: node.id, version: node.meta?.version ?? 0, spec });
}

const ls: Command = {
  name: "ls",
  aliases: ["list"],
  summary: "List nodes in the cluster",
  usage: "[OPTIONS]",
  flags: [
    { name: "filter", short: "f", kind: FlagKind.LIST, valueName: "filter", description: "Show only the nodes with a role", choices: Object.keys(ROLES).map((r) => `role=${r}`) },
    { name: "format", kind: FlagKind.STRING, valueName: "string", description: "Output format: a table, or one JSON object per line", choices: ["table", "json"] },
    { name: "quiet", short: "q", kind: FlagKind.BOOL, description: "Only display IDs" },
  ],
  args: { min: 0, max: 0 },
  async run({ flags, io, connect }) {
    const roles = flags.list("filter").map((f) => ROLES[f.slice("role=".length) as RoleName]);
    const { nodes, selfNodeId } = await connect().listNodes(roles);
    const sorted = [...nodes].sort(byHostname);
    if (flags.bool("quiet")) io.stdout.write(sorted.map((n) => `${n.id}\n`).join(""));
    else if (flags.string("format") === "json") io.stdout.write(sorted.map((n) => renderJsonLine(summarize(n, selfNodeId))).join(""));
    else io.stdout.write(renderTable(NODE_TABLE_HEADERS, sorted.map((n) => tableRow(summarize(n, selfNodeId)))));
    return ExitCode.OK;
  },
};

const inspect: Command = {
  name: "inspect",
  summary: "Display detailed information on one or more nodes",
  usage: "[OPTIONS] NODE [NODE...]",
  flags: [{ name: "pretty", kind: FlagKind.BOOL, description: "Print the information in a human friendly format" }],
  args: { min: 1, max: ANY_NUMBER },
  async run(ctx) {
    const found: Node[] = [];
    const code = await forEachArg(ctx, async (client, ref) => {
      found.push(await client.getNode(ref));
    });
    ctx.io.stdout.write(ctx.flags.bool("pretty") ? found.map((n) => renderFields(nodeFields(n))).join("\n") : renderJson(found));
    return code;
  },
};

const updateFlags: FlagSpec[] = [
  { name: "availability", kind: FlagKind.STRING, valueName: "string", description: "Availability of the node", choices: Object.keys(AVAILABILITIES) },
  { name: "label-add", kind: FlagKind.LIST, valueName: "key=value", description: "Add or update a node label (repeatable)" },
  { name: "label-rm", kind: FlagKind.LIST, valueName: "key", description: "Remove a node label if it exists (repeatable)" },
  { name: "role", kind: FlagKind.STRING, valueName: "string", description: "Role of the node", choices: Object.keys(ROLES) },
];

const update: Command = {
  name: "update",
  summary: "Update a node",
  usage: "[OPTIONS] NODE",
  flags: updateFlags,
  args: { min: 1, max: 1 },
  async run({ flags, io, args, connect }) {
    if (!updateFlags.some((f) => flags.has(f.name))) {
      throw new UsageError(`nothing to update: give ${oneOf(updateFlags.map((f) => `--${f.name}`))}`);
    }
    const ref = args[0]!;
    const availability = flags.string("availability") as AvailabilityName | undefined;
    const role = flags.string("role") as RoleName | undefined;
    const added = flags.list("label-add").map(parseLabel);
    const removed = flags.list("label-rm");
    const client = connect();
    const updated = await editSpec(client, await client.getNode(ref), (spec) => {
      if (availability) spec.availability = AVAILABILITIES[availability];
      if (role) spec.desiredRole = ROLES[role];
      const labels = { ...spec.annotations?.labels };
      for (const [key, value] of added) labels[key] = value;
      for (const key of removed) {
        if (!(key in labels)) throw new CliError(`label ${JSON.stringify(key)} is not set on node ${ref}; nothing was changed`);
        delete labels[key];
      }
      spec.annotations = { name: spec.annotations?.name ?? "", labels };
    });
    io.stdout.write(`${updated.id}\n`);
    return ExitCode.OK;
  },
};

/** `promote` or `demote`: sets the desired role of each NODE to `role`, saying what it did as Docker does. */
function roleChange(name: string, role: NodeRole, summary: string, done: (ref: string) => string): Command {
  return {
    name,
    summary,
    usage: "NODE [NODE...]",
    flags: [],
    args: { min: 1, max: ANY_NUMBER },
    run: (ctx) =>
      forEachArg(ctx, async (client, ref) => {
        const node = await client.getNode(ref);
        if ((node.spec?.desiredRole ?? node.role) === role) {
          ctx.io.stdout.write(`Node ${ref} is already a ${roleName(role)}.\n`);
          return;
        }
        await editSpec(client, node, (spec) => {
          spec.desiredRole = role;
        });
        ctx.io.stdout.write(done(ref));
      }),
  };
}

const rm: Command = {
  name: "rm",
  aliases: ["remove"],
  summary: "Remove one or more nodes from the cluster",
  usage: "[OPTIONS] NODE [NODE...]",
  flags: [{ name: "force", short: "f", kind: FlagKind.BOOL, description: "Force-remove a node from the cluster, even if it is up" }],
  args: { min: 1, max: ANY_NUMBER },
  run: (ctx) =>
    forEachArg(ctx, async (client, ref) => {
      const node = await client.getNode(ref);
      await client.removeNode({ nodeId: node.id, force: ctx.flags.bool("force") });
      ctx.io.stdout.write(`${ref}\n`);
    }),
};

/** `shoal node`: manage the nodes of the cluster. */
export const nodeGroup: CommandGroup = {
  name: "node",
  summary: "Manage cluster nodes",
  commands: [
    ls,
    inspect,
    update,
    roleChange("promote", NodeRole.NODE_ROLE_MANAGER, "Promote one or more nodes to manager in the cluster", (ref) => `Node ${ref} promoted to a manager in the cluster.\n`),
    roleChange("demote", NodeRole.NODE_ROLE_WORKER, "Demote one or more nodes from manager in the cluster", (ref) => `Manager ${ref} demoted in the cluster.\n`),
    rm,
  ],
};
