import { test } from "node:test";
import assert from "node:assert/strict";
import { PlacementError, PlacementErrorCode, parseConstraint, parseSpreadDescriptor, validatePlacement } from "./index.ts";
import { makeNode, makeReplicas, schedule } from "./testing.ts";

const ALLOWED = "allowed attributes: node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.<label>, engine.labels.<label>";

test("a constraint parses into attribute, operator and value, spaces around them ignored", () => {
  const c = parseConstraint(" node.labels.zone  ==  EU-west ");
  assert.equal(c.expression, "node.labels.zone==EU-west");
  assert.equal(c.key.name, "node.labels.zone");
  assert.equal(c.equal, true);
  assert.equal(c.value, "eu-west");
  assert.equal(parseConstraint("Node.Role!=manager").expression, "node.role!=manager");
  assert.equal(parseConstraint("node.platform.arch==x86_64").value, "amd64");
});

test("bad constraint expressions are refused with what was wrong and what is allowed", () => {
  const cases: [string, string][] = [
    ["node.labels.zone=eu", 'invalid constraint "node.labels.zone=eu": expected == or != between an attribute and a value (a single = is not an operator), as in node.labels.zone==eu or node.role!=manager'],
    ["node.labels.zone", 'invalid constraint "node.labels.zone": expected == or != between an attribute and a value, as in node.labels.zone==eu or node.role!=manager'],
    ["==eu", `invalid constraint "==eu": no attribute before ==; ${ALLOWED}`],
    ["node.zone==eu", `invalid constraint "node.zone==eu": unknown attribute "node.zone"; ${ALLOWED}`],
    ["node.labels.==eu", `invalid constraint "node.labels.==eu": unknown attribute "node.labels."; ${ALLOWED}`],
    ["node.labels.zone!=", 'invalid constraint "node.labels.zone!=": no value after !=, as in node.labels.zone==eu or node.role!=manager'],
    ["node.labels.zone==eu==us", 'invalid constraint "node.labels.zone==eu==us": the value "eu==us" may only hold letters, digits, spaces and : - _ . * ( ) ? + [ ] \\ ^ $ | /'],
    ["node.role==boss", 'invalid constraint "node.role==boss": node.role is manager or worker, not "boss"'],
  ];
  for (const [expression, message] of cases) {
    assert.throws(() => parseConstraint(expression), (err: unknown) => {
      assert.ok(err instanceof PlacementError);
      assert.equal(err.code, PlacementErrorCode.INVALID_CONSTRAINT);
      assert.equal(err.message, message);
      return true;
    });
  }
});

test("spread preferences take node or engine labels only", () => {
  assert.equal(parseSpreadDescriptor("node.labels.zone").name, "node.labels.zone");
  assert.equal(parseSpreadDescriptor("engine.labels.rack").name, "engine.labels.rack");
  assert.throws(() => parseSpreadDescriptor("node.hostname"), {
    name: "PlacementError",
    code: PlacementErrorCode.INVALID_PREFERENCE,
    message: 'invalid placement preference "spread=node.hostname": spread takes node.labels.<label> or engine.labels.<label>, as in spread=node.labels.zone',
  });
});

test("validatePlacement checks a whole placement spec, as the control API will before storing it", () => {
  const ok = validatePlacement({ constraints: ["node.role==worker"], preferences: [{ spreadDescriptor: "node.labels.dc" }], maxReplicas: 0, platforms: [] });
  assert.equal(ok.constraints.length, 1);
  assert.equal(ok.spread.length, 1);
  assert.throws(() => validatePlacement({ constraints: ["node.role==worker", "zone=eu"], preferences: [], maxReplicas: 0, platforms: [] }), /invalid constraint "zone=eu"/);
});

test("a task with a bad constraint stays pending and its explanation is the parse error", () => {
  const plan = schedule([makeNode({ id: "a" })], makeReplicas(2, { serviceId: "web", constraints: ["node.labels.zone=eu"] }));
  for (const d of plan.decisions) {
    assert.equal(d.nodeId, "");
    assert.match(d.explanation, /^invalid constraint "node.labels.zone=eu": expected == or !=/);
  }
});
