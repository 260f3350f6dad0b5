// Properties that hold for any cluster and batch, checked against an oracle written here,
// independently of the scheduler's own filters.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Node, PlacementPlan, Task } from "../proto/gen/objects.ts";
import { NodeState } from "../proto/gen/objects.ts";
import { NodeAvailability, NodeRole } from "../proto/gen/specs.ts";
import { GiB, MiB, makeNode, makeReplicas, makeTask, schedule } from "./testing.ts";

const RUNS = 1000;
const CONSTRAINTS = [
  "node.labels.zone==a", "node.labels.zone!=b", "node.labels.rack==r2", "node.role==worker", "node.role!=worker",
  "node.platform.arch==amd64", "node.platform.os==linux", "engine.labels.disk==ssd", "engine.labels.disk!=ssd", "node.hostname!=n1",
];
const SPREADS = [[], ["node.labels.zone"], ["node.labels.rack"], ["node.labels.zone", "node.labels.rack"]];
const PLATFORMS = [[], ["linux/arm64"], ["linux/amd64", "windows/amd64"]];

interface ServiceSpec {
  replicas: number; constraints: string[]; spread: string[]; cpus: number; memory: number;
  port: string | undefined; maxReplicas: number; platforms: string[];
}

const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });

const nodeArb = fc.record({
  zone: optional(fc.constantFrom("a", "b", "c")),
  rack: optional(fc.constantFrom("r1", "r2")),
  manager: fc.boolean(),
  state: fc.constantFrom(...Array<NodeState>(8).fill(NodeState.NODE_STATE_READY), NodeState.NODE_STATE_DOWN),
  availability: fc.constantFrom(...Array<NodeAvailability>(6).fill(NodeAvailability.NODE_AVAILABILITY_ACTIVE), NodeAvailability.NODE_AVAILABILITY_PAUSE, NodeAvailability.NODE_AVAILABILITY_DRAIN),
  os: fc.constantFrom("linux", "linux", "linux", "windows"),
  arch: fc.constantFrom("amd64", "arm64"),
  disk: optional(fc.constantFrom("ssd", "hdd")),
  spareCpus: fc.integer({ min: 0, max: 8 }),
  spareGiB: fc.integer({ min: 0, max: 8 }),
  existing: fc.array(fc.record({ service: fc.constantFrom("old0", "old1"), quarterCpus: fc.integer({ min: 0, max: 2 }), memory: fc.constantFrom(0, 256 * MiB, 512 * MiB) }), { maxLength: 3 }),
  existingPort: fc.boolean(),
});

const serviceArb: fc.Arbitrary<ServiceSpec> = fc.record({
  replicas: fc.integer({ min: 1, max: 20 }),
  constraints: fc.subarray(CONSTRAINTS, { maxLength: 2 }),
  spread: fc.constantFrom(...SPREADS),
  cpus: fc.constantFrom(0, 0.5, 1),
  memory: fc.constantFrom(0, 512 * MiB, 1 * GiB),
  port: fc.constantFrom(undefined, undefined, "80", "443"),
  maxReplicas: fc.constantFrom(0, 0, 1, 2, 3),
  platforms: fc.constantFrom(...PLATFORMS),
});

const scenarioArb = fc.record({ nodes: fc.array(nodeArb, { minLength: 1, maxLength: 20 }), services: fc.array(serviceArb, { minLength: 1, maxLength: 4 }) }).map(({ nodes, services }) => {
  const cluster: Node[] = [];
  const existing: Task[] = [];
  nodes.forEach((n, i) => {
    const id = `n${i}`;
    const used = n.existing.reduce((sum, t) => ({ cpus: sum.cpus + t.quarterCpus / 4, memory: sum.memory + t.memory }), { cpus: 0, memory: 0 });
    cluster.push(makeNode({
      id, role: n.manager ? "manager" : "worker", state: n.state, availability: n.availability, os: n.os, arch: n.arch,
      labels: { ...(n.zone && { zone: n.zone }), ...(n.rack && { rack: n.rack }) }, engineLabels: n.disk ? { disk: n.disk } : {},
      cpus: used.cpus + n.spareCpus, memory: used.memory + n.spareGiB * GiB,
    }));
    n.existing.forEach((t, k) => existing.push(makeTask({
      id: `${id}-old${k}`, serviceId: t.service, nodeId: id, cpus: t.quarterCpus / 4, memory: t.memory, hostPorts: k === 0 && n.existingPort ? ["80"] : [],
    })));
  });
  const batch = services.flatMap((s, i) => makeReplicas(s.replicas, {
    serviceId: `s${i}`, constraints: s.constraints, spread: s.spread, cpus: s.cpus, memory: s.memory,
    hostPorts: s.port ? [s.port] : [], maxReplicas: s.maxReplicas, platforms: s.platforms,
  }));
  return { cluster, existing, services, batch };
});

type Scenario = { cluster: Node[]; existing: Task[]; services: ServiceSpec[]; batch: Task[] };

/** What each node has left and runs after the plan, computed from the scenario alone. */
class Outcome {
  readonly cpu = new Map<string, number>();
  readonly memory = new Map<string, number>();
  readonly ports = new Map<string, string[]>();
  readonly perService = new Map<string, number>(); // `${service}@${node}` → tasks

  constructor(readonly s: Scenario, readonly plan: PlacementPlan) {
    for (const n of s.cluster) {
      this.cpu.set(n.id, n.description!.resources!.nanoCpus);
      this.memory.set(n.id, n.description!.resources!.memoryBytes);
      this.ports.set(n.id, []);
    }
    const byId = new Map(s.batch.map((t) => [t.id, t]));
    const placed = plan.decisions.filter((d) => d.nodeId !== "").map((d) => ({ ...byId.get(d.taskId)!, nodeId: d.nodeId }));
    for (const t of [...s.existing, ...placed]) {
      this.cpu.set(t.nodeId, this.cpu.get(t.nodeId)! - t.spec!.resources!.reservations!.nanoCpus);
      this.memory.set(t.nodeId, this.memory.get(t.nodeId)! - t.spec!.resources!.reservations!.memoryBytes);
      this.ports.get(t.nodeId)!.push(...t.endpoint!.ports.map((p) => `${p.publishedPort}/${p.protocol}`));
      const key = `${t.serviceId}@${t.nodeId}`;
      this.perService.set(key, (this.perService.get(key) ?? 0) + 1);
    }
  }

  tasksOf(service: number, node: Node): number {
    return this.perService.get(`s${service}@${node.id}`) ?? 0;
  }

  /** Whether a node passes everything that never changes: readiness, availability, constraints, platform. */
  static eligible(node: Node, spec: ServiceSpec): boolean {
    return node.status!.state === NodeState.NODE_STATE_READY && node.spec!.availability === NodeAvailability.NODE_AVAILABILITY_ACTIVE &&
      spec.constraints.every((c) => satisfied(node, c)) &&
      (spec.platforms.length === 0 || spec.platforms.includes(`${node.description!.platform!.os}/${node.description!.platform!.architecture}`));
  }

  /** Whether the node could take one more task of service `i` now. */
  canTake(node: Node, i: number): boolean {
    const spec = this.s.services[i]!;
    return Outcome.eligible(node, spec) &&
      this.cpu.get(node.id)! >= spec.cpus * 1e9 && this.memory.get(node.id)! >= spec.memory &&
      (!spec.port || !this.ports.get(node.id)!.includes(`${spec.port}/tcp`)) &&
      (spec.maxReplicas === 0 || this.tasksOf(i, node) < spec.maxReplicas);
  }
}

function satisfied(node: Node, expression: string): boolean {
  const [, key, op, value] = /^(.+?)(==|!=)(.+)$/.exec(expression)!;
  const values: Record<string, string | undefined> = {
    "node.role": node.role === NodeRole.NODE_ROLE_MANAGER ? "manager" : "worker",
    "node.hostname": node.description!.hostname,
    "node.platform.arch": node.description!.platform!.architecture,
    "node.platform.os": node.description!.platform!.os,
    "node.labels.zone": node.spec!.annotations!.labels.zone,
    "node.labels.rack": node.spec!.annotations!.labels.rack,
    "engine.labels.disk": node.description!.engineLabels.disk,
  };
  return ((values[key!] ?? "") === value) === (op === "==");
}

function check(property: (s: Scenario, outcome: Outcome) => void): void {
  fc.assert(fc.property(scenarioArb, (s) => property(s, new Outcome(s, schedule(s.cluster, s.batch, s.existing)))), { numRuns: RUNS });
}

const serviceOf = (taskId: string): number => Number(taskId.slice(1, taskId.indexOf(".")));

test("no node's CPU or memory reservations are exceeded", () => {
  check((s, o) => {
    for (const n of s.cluster) {
      assert.ok(o.cpu.get(n.id)! >= 0, `${n.id} CPU overcommitted`);
      assert.ok(o.memory.get(n.id)! >= 0, `${n.id} memory overcommitted`);
    }
  });
});

test("every placed task is on a ready, active node that satisfies its constraints and platforms", () => {
  check((s, o) => {
    const byId = new Map(s.cluster.map((n) => [n.id, n]));
    for (const d of o.plan.decisions) {
      if (d.nodeId !== "") assert.ok(Outcome.eligible(byId.get(d.nodeId)!, s.services[serviceOf(d.taskId)]!), `${d.taskId} on ${d.nodeId}`);
    }
  });
});

test("no host port is bound twice on one node, and no node runs more than max replicas", () => {
  check((s, o) => {
    for (const n of s.cluster) {
      const ports = o.ports.get(n.id)!;
      assert.equal(new Set(ports).size, ports.length, `${n.id} binds ${ports.join(", ")}`);
      s.services.forEach((spec, i) => assert.ok(spec.maxReplicas === 0 || o.tasksOf(i, n) <= spec.maxReplicas));
    }
  });
});

test("a task stays pending only when no node could take it, and its explanation accounts for every node", () => {
  check((s, o) => {
    for (const d of o.plan.decisions) {
      if (d.nodeId !== "") continue;
      const i = serviceOf(d.taskId);
      assert.deepEqual(s.cluster.filter((n) => o.canTake(n, i)).map((n) => n.id), [], `${d.taskId} pending: ${d.explanation}`);
      assert.equal(d.rejections.reduce((sum, r) => sum + r.nodes, 0), s.cluster.length, d.explanation);
      assert.match(d.explanation, /^no suitable node \(/);
    }
  });
});

test("spread: per label value, counts differ by more than one only where the thinner group is full", () => {
  check((s, o) => {
    s.services.forEach((spec, i) => {
      // each level is checked within each group of the level above it
      let groups: Node[][] = [s.cluster];
      for (const descriptor of spec.spread) {
        const label = descriptor.slice("node.labels.".length);
        const next: Node[][] = [];
        for (const group of groups) {
          const byValue = new Map<string, Node[]>();
          for (const n of group) {
            const v = n.spec!.annotations!.labels[label] ?? "";
            byValue.set(v, [...(byValue.get(v) ?? []), n]);
          }
          const count = (nodes: Node[]): number => nodes.reduce((sum, n) => sum + o.tasksOf(i, n), 0);
          const usable = [...byValue].filter(([, nodes]) => nodes.some((n) => Outcome.eligible(n, spec)));
          for (const [v, thick] of usable) {
            for (const [w, thin] of usable) {
              if (count(thick) >= count(thin) + 2) {
                assert.ok(!thin.some((n) => o.canTake(n, i)), `s${i} ${label}: ${v} has ${count(thick)}, ${w} has ${count(thin)} and room`);
              }
            }
          }
          next.push(...byValue.values());
        }
        groups = next;
      }
    });
  });
});

test("the plan does not depend on the order of nodes and tasks in the snapshot", () => {
  fc.assert(fc.property(scenarioArb, fc.integer(), (s, seed) => {
    const shuffle = <T>(xs: T[]): T[] => xs.map((x, k) => ({ x, r: Math.sin(seed + k) })).sort((a, b) => a.r - b.r).map((e) => e.x);
    assert.deepEqual(schedule(shuffle(s.cluster), s.batch, shuffle(s.existing)), schedule(s.cluster, s.batch, s.existing));
  }), { numRuns: Math.ceil(RUNS / 4) });
});
