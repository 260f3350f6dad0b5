import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Node } from "../../proto/gen/objects.ts";
import { NodeRole } from "../../proto/gen/specs.ts";
import { Tables } from "./table.ts";
import { makeNode } from "./testing.ts";

/** A step of the model test (nodes made by makeNode are known by their hostname): put a node (hostname and role from small sets, so keys are shared) or remove one. */
type Step = { put: true; id: number; host: number; manager: boolean } | { put: false; id: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ put: fc.constant(true as const), id: fc.nat(7), host: fc.nat(3), manager: fc.boolean() }),
  fc.record({ put: fc.constant(false as const), id: fc.nat(7) }),
);

test("secondary indexes find exactly the objects a scan finds, as keys gain and lose objects (one, several, none)", () => {
  fc.assert(fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
    const tables = new Tables();
    const model = new Map<string, Node>();
    for (const s of steps) {
      const id = `n${s.id}`;
      if (s.put) {
        const node = makeNode(id, { hostname: `host-${s.host}`, role: s.manager ? NodeRole.NODE_ROLE_MANAGER : NodeRole.NODE_ROLE_WORKER });
        tables.put("node", node);
        model.set(id, node);
      } else {
        tables.remove("node", id);
        model.delete(id);
      }
      for (let host = 0; host < 4; host++) {
        const found = tables.find("node", "name", `HOST-${host}`).map((o) => o.id).sort();
        const scanned = [...model.values()].filter((n) => n.description?.hostname === `host-${host}`).map((n) => n.id).sort();
        assert.deepEqual(found, scanned, `name host-${host}`);
      }
      for (const role of [NodeRole.NODE_ROLE_MANAGER, NodeRole.NODE_ROLE_WORKER]) {
        const found = tables.find("node", "role", role).map((o) => o.id).sort();
        const scanned = [...model.values()].filter((n) => n.role === role).map((n) => n.id).sort();
        assert.deepEqual(found, scanned, `role ${role}`);
      }
    }
  }), { seed: 4242, numRuns: 300 });
});
