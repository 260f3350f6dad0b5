/**
 * Nodes as people and scripts see them: the words for states, availabilities and roles (the
 * same words the flags take), the row of `node ls`, its JSON line, and `node inspect --pretty`.
 */
import type { Node } from "../../proto/gen/objects.ts";
import { NodeState } from "../../proto/gen/objects.ts";
import { NodeAvailability, NodeRole } from "../../proto/gen/specs.ts";
import { labelItems, timestamp } from "./output.ts";
import type { Field } from "./output.ts";

/** Availability names, as `--availability` takes them. */
export const AVAILABILITIES = {
  active: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
  pause: NodeAvailability.NODE_AVAILABILITY_PAUSE,
  drain: NodeAvailability.NODE_AVAILABILITY_DRAIN,
} as const;
/** One key of {@link AVAILABILITIES}. */
export type AvailabilityName = keyof typeof AVAILABILITIES;

/** Role names, as `--role` and `--filter role=` take them. */
export const ROLES = {
  worker: NodeRole.NODE_ROLE_WORKER,
  manager: NodeRole.NODE_ROLE_MANAGER,
} as const;
/** One key of {@link ROLES}. */
export type RoleName = keyof typeof ROLES;

/** Node state names, as `node ls` shows them. */
const STATES = {
  Unknown: NodeState.NODE_STATE_UNKNOWN,
  Down: NodeState.NODE_STATE_DOWN,
  Ready: NodeState.NODE_STATE_READY,
  Disconnected: NodeState.NODE_STATE_DISCONNECTED,
} as const;

/** The name of `value` in `names`, or `fallback` for a value this CLI does not know (from a newer server). */
function nameOf(names: Readonly<Record<string, number>>, value: number | undefined, fallback: string): string {
  return Object.keys(names).find((name) => names[name] === value) ?? fallback;
}

/** "drain" → "Drain". */
function capitalized(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** The role name of a role value. */
export function roleName(role: NodeRole): string {
  return nameOf(ROLES, role, `role ${role}`);
}

/** What `node ls` and its `--format json` lines show of one node. */
export interface NodeSummary {
  ID: string;
  /** Whether this is the node that answered the request. */
  Self: boolean;
  Hostname: string;
  Status: string;
  Availability: string;
  /** Leader, Reachable or Unreachable; empty for workers. */
  ManagerStatus: string;
  Role: string;
}

/** Leader, Reachable or Unreachable for a manager; empty for a worker. */
function managerStatusOf(node: Node): string {
  const ms = node.managerStatus;
  if (!ms) return "";
  return ms.leader ? "Leader" : ms.reachable ? "Reachable" : "Unreachable";
}

/** The summary of `node`; `selfNodeId` is the node that answered. */
export function summarize(node: Node, selfNodeId: string): NodeSummary {
  return {
    ID: node.id,
    Self: node.id === selfNodeId,
    Hostname: node.description?.hostname ?? "",
    Status: nameOf(STATES, node.status?.state, "Unknown"),
    Availability: capitalized(nameOf(AVAILABILITIES, node.spec?.availability, "unknown")),
    ManagerStatus: managerStatusOf(node),
    Role: roleName(node.role),
  };
}

/** The columns of `node ls`. */
export const NODE_TABLE_HEADERS = ["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS"] as const;

/** One row of `node ls`: the answering node's id is marked with `*`, as Docker marks it. */
export function tableRow(s: NodeSummary): string[] {
  return [s.Self ? `${s.ID} *` : s.ID, s.Hostname, s.Status, s.Availability, s.ManagerStatus];
}

/** Orders nodes as `docker node ls` does: by hostname, numbers in names compared as numbers, then by id. */
export function byHostname(a: Node, b: Node): number {
  const ha = a.description?.hostname ?? "";
  const hb = b.description?.hostname ?? "";
  return ha.localeCompare(hb, "en", { numeric: true }) || a.id.localeCompare(b.id);
}

/** A byte count with binary units, as Docker shows memory (`7.75GiB`). */
function bytesSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toFixed(3))}${units[unit]}`;
}

/** `node inspect --pretty`: the node as labelled fields (absent ones are dropped when rendered). */
export function nodeFields(node: Node): Field[] {
  const summary = summarize(node, "");
  const desired = node.spec ? roleName(node.spec.desiredRole) : summary.Role;
  const ms = node.managerStatus;
  const platform = node.description?.platform;
  const resources = node.description?.resources;
  return [
    { label: "ID", value: node.id },
    { label: "Hostname", value: summary.Hostname },
    { label: "Joined at", value: timestamp(node.meta?.createdAt) },
    { label: "Updated at", value: timestamp(node.meta?.updatedAt) },
    { label: "Role", value: desired === summary.Role ? summary.Role : `${summary.Role} (changing to ${desired})` },
    { label: "Labels", items: labelItems(node.spec?.annotations?.labels) },
    {
      label: "Status",
      fields: [
        { label: "State", value: summary.Status },
        { label: "Message", value: node.status?.message ?? "" },
        { label: "Availability", value: summary.Availability },
        { label: "Address", value: node.status?.addr ?? "" },
      ],
    },
    {
      label: "Manager Status",
      fields: ms
        ? [
            { label: "Address", value: ms.addr },
            { label: "Raft Status", value: ms.reachable ? "Reachable" : "Unreachable" },
            { label: "Leader", value: ms.leader ? "Yes" : "No" },
          ]
        : [],
    },
    {
      label: "Platform",
      fields: [
        { label: "Operating System", value: platform?.os ?? "" },
        { label: "Architecture", value: platform?.architecture ?? "" },
      ],
    },
    {
      label: "Resources",
      fields: [
        { label: "CPUs", value: resources?.nanoCpus ? String(resources.nanoCpus / 1e9) : "" },
        { label: "Memory", value: resources?.memoryBytes ? bytesSize(resources.memoryBytes) : "" },
      ],
    },
    { label: "Engine Labels", items: labelItems(node.description?.engineLabels) },
  ];
}
