import assert from "node:assert/strict";
import { test } from "node:test";
import { mainIsolate, summarizeGcTrace } from "./gc-trace.ts";

// Lines as `node --trace-gc-nvp` prints them (most pairs cut), and a daemon's own log line.
const LINES = [
  "[22397:0x13d879f0]    11057 ms: pause=3.6 mutator=63.0 gc=s reduce_memory=0 scavenge=3.5 promoted=1914904 new_space_survived=2331792 allocated=12500000",
  "shoald: a message that happens to hold gc=s is not a collection (it has no pause)",
  "[22397:0x13d879f0]    11102 ms: pause=13.4 mutator=44.5 gc=s reduce_memory=0 promoted=1085096",
  "[22397:0x13d879f0]     9310 ms: pause=78.9 mutator=512.0 gc=mc reduce_memory=0 evacuate=40.4 clear.external_string_table=16.0 sweep=12.5",
  "[22397:0x13d879f0]     7229 ms: pause=8.7 mutator=29.1 gc=mc reduce_memory=0 evacuate=4.0 total_size_before=51000000 allocated=2100000",
];

test("collections are summed by kind: scavenges with the bytes they promoted, full collections with their longest pause and what it went to; allocations over both", () => {
  assert.deepEqual(summarizeGcTrace(LINES), {
    scavenges: 2,
    scavengePauseMs: 17,
    fullGcs: 2,
    fullGcPauseMs: 87.6,
    maxFullGcPauseMs: 78.9,
    longestFullGcPhasesMs: { externalStrings: 16, evacuate: 40.4, sweep: 12.5 },
    promotedMB: 3,
    allocatedMB: 14.6,
  });
});

test("a log without collections sums to zero", () => {
  assert.deepEqual(summarizeGcTrace(["shoald: started", ""]), {
    scavenges: 0, scavengePauseMs: 0, fullGcs: 0, fullGcPauseMs: 0, maxFullGcPauseMs: 0,
    longestFullGcPhasesMs: { externalStrings: 0, evacuate: 0, sweep: 0 }, promotedMB: 0, allocatedMB: 0,
  });
});

test("the main thread is the isolate with the most collections, and a summary can keep to it", () => {
  // A worker thread (here 0x7f00aa) collecting a little beside the main thread.
  const worker = [
    "[22397:0x7f00aa]     4000 ms: pause=29.0 mutator=12.0 gc=mc reduce_memory=1 allocated=500000",
    "[22397:0x7f00aa]     4100 ms: pause=1.0 mutator=12.0 gc=s promoted=100000 allocated=1000000",
  ];
  const lines = [...worker, ...LINES];
  assert.equal(mainIsolate(lines), "0x13d879f0");
  assert.deepEqual(summarizeGcTrace(lines, mainIsolate(lines)), summarizeGcTrace(LINES));
  assert.equal(summarizeGcTrace(lines).fullGcs, 3, "without an isolate, every thread's collections count");
  assert.equal(mainIsolate(["shoald: started"]), undefined);
});
