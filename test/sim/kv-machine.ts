/**
 * The state machine the simulator replicates: a key-value map plus, per client, the sequence
 * number of its last applied write, so a write retried after a timeout is applied once
 * (client sessions, thesis §6.3).
 */

/** A write as it travels in a log entry. */
export interface KvCommand {
  /** Client id. */
  c: number;
  /** The client's sequence number for this operation. */
  s: number;
  /** Key. */
  k: string;
  /** Value. */
  v: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a write for a log entry. */
export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

/** Decodes a write from a log entry. */
export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(decoder.decode(data)) as KvCommand;
}

/** A key-value map with per-client deduplication of writes. */
export class KvMachine {
  private readonly values = new Map<string, string>();
  private readonly lastSeq = new Map<number, number>();

  /** Applies a write unless this client's write with that sequence number was applied already. */
  apply(cmd: KvCommand): void {
    if ((this.lastSeq.get(cmd.c) ?? 0) >= cmd.s) return;
    this.lastSeq.set(cmd.c, cmd.s);
    this.values.set(cmd.k, cmd.v);
  }

  /** The value of `key`, undefined when never written. */
  get(key: string): string | undefined {
    return this.values.get(key);
  }

  /** The whole state, in a canonical form. */
  serialize(): Uint8Array {
    const values = [...this.values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const seqs = [...this.lastSeq].sort(([a], [b]) => a - b);
    return encoder.encode(JSON.stringify({ values, seqs }));
  }

  /** A machine holding a serialized state (empty bytes: the empty state). */
  static restore(data: Uint8Array): KvMachine {
    const m = new KvMachine();
    if (data.byteLength === 0) return m;
    const { values, seqs } = JSON.parse(decoder.decode(data)) as { values: [string, string][]; seqs: [number, number][] };
    for (const [k, v] of values) m.values.set(k, v);
    for (const [c, s] of seqs) m.lastSeq.set(c, s);
    return m;
  }
}
