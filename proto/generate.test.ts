import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { generateAll } from "./generate.ts";
import { MessageCodec, MessageType, EntryType, ConfChangeCodec, ConfChangeType } from "./gen/raft.ts";

test("generated code in proto/gen is up to date with the .proto files (run `npm run proto`)", () => {
  const files = generateAll();
  assert.ok(files.size > 0, "no .proto files found");
  for (const [path, expected] of files) {
    let actual = "";
    try {
      actual = readFileSync(path, "utf8");
    } catch {
      assert.fail(`${path} is missing: run npm run proto`);
    }
    assert.equal(actual, expected, `${path} is stale: run npm run proto`);
  }
});

test("a raft message survives encode and decode with 64-bit fields as numbers", () => {
  const msg = {
    type: MessageType.MSG_APP, to: 2, from: 1, term: 7, logTerm: 6, index: 2 ** 40, commit: 9,
    entries: [{ term: 7, index: 2 ** 40 + 1, type: EntryType.ENTRY_NORMAL, data: new Uint8Array([1, 2, 3]) }],
    reject: false, rejectHint: 0, context: new Uint8Array(),
  };
  const back = MessageCodec.decode(MessageCodec.encode(msg));
  assert.equal(back.index, 2 ** 40);
  assert.equal(back.entries[0]!.index, 2 ** 40 + 1);
  assert.deepEqual([...back.entries[0]!.data], [1, 2, 3]);
  assert.equal(back.type, MessageType.MSG_APP);
  assert.equal(back.snapshot, undefined);
});

test("decoding garbage names the type that failed", () => {
  assert.throws(() => ConfChangeCodec.decode(new Uint8Array([0xff, 0xff, 0xff])), /invalid shoal\.raft\.ConfChange/);
  const cc = ConfChangeCodec.decode(ConfChangeCodec.encode({ type: ConfChangeType.CONF_CHANGE_ADD_LEARNER, nodeId: 4, context: new Uint8Array() }));
  assert.equal(cc.type, ConfChangeType.CONF_CHANGE_ADD_LEARNER);
  assert.equal(cc.nodeId, 4);
});
