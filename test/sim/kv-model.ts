// A key-value store as a sequential model for the linearizability checker. The history is
// partitioned by key, so the state of one partition is just the current value of its key
// (undefined while the key was never written).

import type { Model, Operation } from "./linearizability.ts";

/** An operation on the store: write `value` under `key`, or read `key`. */
export type KvInput = { kind: "put"; key: string; value: string } | { kind: "get"; key: string };

/** The output of a get: the value read, undefined when the key is absent. */
export interface KvGetOutput {
  /** The value read; undefined when the key is absent. */
  value: string | undefined;
}

/** The output of a put: nothing (the output of a completed put may also be left undefined). */
export type KvPutOutput = Record<never, never>;

/** What the store answered. */
export type KvOutput = KvGetOutput | KvPutOutput;

/** The state of one partition (one key): its current value. */
export type KvState = string | undefined;

/** One operation of a KV client history. */
export type KvOperation = Operation<KvInput, KvOutput>;

/** Renders a value for reports. */
function show(v: string | undefined): string {
  return v === undefined ? "(absent)" : JSON.stringify(v);
}

/** The value a get returned (a missing output or `value` field counts as absent). */
function readValue(output: KvOutput | undefined): string | undefined {
  return output !== undefined && "value" in output ? output.value : undefined;
}

/**
 * The key-value model. Partitioned by key, in order of each key's first operation; pending
 * gets, and pending puts whose value no completed get of that key returned, are left out of
 * the partitions (they cannot matter).
 * A completed get must read the current value; pending operations may take effect or not.
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => undefined,
  step(state, input, output, completed) {
    if (input.kind === "put") return { ok: true, next: input.value };
    if (!completed) return { ok: true, next: state }; // a pending read constrains nothing
    return { ok: readValue(output) === state, next: state };
  },
  partition(history) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of history) {
      let part = byKey.get(op.input.key);
      if (part === undefined) {
        part = [];
        byKey.set(op.input.key, part);
      }
      part.push(op);
    }
    // Pending gets constrain nothing, and a pending put whose value no completed get returned
    // can be dropped too: a linearization that applies it can leave it out, since only pending
    // operations come between it and the next put. This keeps them out of the search.
    return [...byKey.values()].map((part) => {
      const read = new Set<string | undefined>();
      for (const op of part) if (op.input.kind === "get" && Number.isFinite(op.return)) read.add(readValue(op.output));
      return part.filter((op) => Number.isFinite(op.return) || (op.input.kind === "put" && read.has(op.input.value)));
    });
  },
  readOnly: (input) => input.kind === "get",
  hash: (state) => (state === undefined ? "(absent)" : JSON.stringify(state)),
  describeState: show,
  describe(op) {
    const when = `[${op.call}, ${Number.isFinite(op.return) ? op.return : "pending"}]`;
    const done = Number.isFinite(op.return);
    if (op.input.kind === "put") {
      return `client ${op.clientId} put(${JSON.stringify(op.input.key)}, ${show(op.input.value)})${done ? " -> ok" : ""} ${when}`;
    }
    return `client ${op.clientId} get(${JSON.stringify(op.input.key)})${done ? ` -> ${show(readValue(op.output))}` : ""} ${when}`;
  },
};
