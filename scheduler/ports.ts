/**
 * Ports published in host mode: each binds the port on the node that runs the task, so two
 * tasks on one node must never publish the same one. A port is kept as one number, its key:
 * protocol index × 65536 + port.
 */
import type { Task } from "../proto/gen/objects.ts";
import { PublishMode } from "../proto/gen/specs.ts";

/** Protocols in key order; an empty protocol is tcp, as in Docker (the control API rejects unknown ones). */
const PROTOCOLS = ["tcp", "udp", "sctp"] as const;
const PORTS_PER_PROTOCOL = 65536;

/** The keys of the host-mode ports a task publishes (those with a fixed published port). */
export function hostPortKeys(task: Task): number[] {
  const keys: number[] = [];
  for (const port of task.endpoint?.ports ?? []) {
    if (port.publishMode !== PublishMode.PUBLISH_HOST || port.publishedPort === 0) continue;
    const protocol = Math.max(0, PROTOCOLS.indexOf(port.protocol.toLowerCase() as (typeof PROTOCOLS)[number]));
    keys.push(protocol * PORTS_PER_PROTOCOL + port.publishedPort);
  }
  return keys;
}

/** A port key as users write it: `8080/tcp`. */
export function portName(key: number): string {
  return `${key % PORTS_PER_PROTOCOL}/${PROTOCOLS[Math.floor(key / PORTS_PER_PROTOCOL)]}`;
}
