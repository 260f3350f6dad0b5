import { test } from "node:test";
import assert from "node:assert/strict";
import { appendBytesField, bytesFieldHeader, varintLength, writeVarint } from "./codec.ts";
import { RaftMemberCodec, RaftSnapshotDataCodec } from "./gen/raftrpc.ts";
import type { RaftSnapshotData } from "./gen/raftrpc.ts";

test("a bytes field appended to an encoded message decodes as if it had been encoded with it", () => {
  const members = [{ raftId: 7, nodeId: "n7", addr: "127.0.0.1:1" }];
  const withoutState = RaftSnapshotDataCodec.encode({ members, removed: [3] } as Omit<RaftSnapshotData, "state"> as RaftSnapshotData);
  for (const size of [0, 1, 127, 128, 300_000]) {
    const state = new Uint8Array(size).map((_, i) => i % 251);
    const appended = appendBytesField(withoutState, 3, state);
    const plain = (d: RaftSnapshotData): RaftSnapshotData => ({ ...d, state: new Uint8Array(d.state) });
    assert.deepEqual(plain(RaftSnapshotDataCodec.decode(appended)), plain(RaftSnapshotDataCodec.decode(RaftSnapshotDataCodec.encode({ members, removed: [3], state }))), `${size} bytes`);
    // The header alone, with the bytes written after it by the caller, is the same message.
    const header = bytesFieldHeader(withoutState, 3, size);
    assert.deepEqual([...header, ...state], [...appended], `${size} bytes, header then bytes`);
  }
});

test("varints: lengths and bytes at the 7-bit boundaries", () => {
  for (const [n, bytes] of [[0, [0]], [127, [0x7f]], [128, [0x80, 0x01]], [300, [0xac, 0x02]], [2 ** 32 - 1, [0xff, 0xff, 0xff, 0xff, 0x0f]]] as const) {
    const out = new Uint8Array(8);
    assert.equal(writeVarint(out, 1, n), 1 + bytes.length);
    assert.deepEqual([...out.subarray(1, 1 + bytes.length)], bytes);
    assert.equal(varintLength(n), bytes.length);
  }
});

test("messages written one by one as a repeated field's elements, in several takes, are that field's encoding", () => {
  const members = Array.from({ length: 40 }, (_, i) => ({ raftId: i * 1_000_003, nodeId: `node-${"é".repeat(i)}`, addr: `127.0.0.${i}:${4000 + i}` }));
  const writer = RaftMemberCodec.repeatedFieldWriter(1);
  const takes: Uint8Array[] = [];
  members.forEach((member, i) => {
    writer.add(member);
    if (i % 15 === 14) takes.push(writer.take());
  });
  takes.push(writer.take());
  assert.deepEqual(takes.map((t) => t.byteLength > 0), [true, true, true], "three takes, each of its own elements");
  const whole = Buffer.concat(takes);
  assert.deepEqual(whole, Buffer.from(RaftSnapshotDataCodec.encode({ members, removed: [], state: new Uint8Array() })));
  assert.deepEqual(RaftSnapshotDataCodec.decode(whole).members, members);
  assert.equal(writer.take().byteLength, 0, "nothing added since the last take");
});
