/** What a node reports about itself: hostname, platform, CPUs and memory, engine labels. */
import { cpus, hostname, totalmem } from "node:os";
import type { NodeDescription } from "../../proto/gen/objects.ts";
import { hostPlatform } from "../image/platform.ts";

/** This machine's description; `labels` are the engine's labels (such as its name). */
export function describeNode(labels: Record<string, string>, name: string = hostname()): NodeDescription {
  const p = hostPlatform();
  return {
    hostname: name,
    platform: { os: p.os, architecture: p.architecture },
    resources: { nanoCpus: cpus().length * 1e9, memoryBytes: totalmem(), pids: 0 },
    engineLabels: labels,
  };
}
