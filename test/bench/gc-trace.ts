/**
 * What V8's garbage collector did in a process, summed from the lines `node --trace-gc-nvp`
 * prints (one per collection, `name=value` pairs): young collections (scavenges), full
 * collections (mark-compact) and what the longest one spent its pause on, the bytes allocated
 * and the bytes moved to the old generation. The benchmark reads them from the managers' output
 * when asked (BENCH_GC_TRACE=1).
 */

/** Collections of one process over a period. */
export interface GcSummary {
  /** Young-generation collections (`gc=s`). */
  scavenges: number;
  /** Their pauses, summed. */
  scavengePauseMs: number;
  /** Full collections (`gc=mc`). */
  fullGcs: number;
  /** Their pauses, summed. */
  fullGcPauseMs: number;
  /** The longest full-collection pause. */
  maxFullGcPauseMs: number;
  /**
   * Parts of that pause: freeing the external strings that died (Node's received HTTP/2 header
   * values are external strings), moving live objects, and sweeping.
   */
  longestFullGcPhasesMs: { externalStrings: number; evacuate: number; sweep: number };
  /** Bytes the scavenges moved into the old generation, in MB. */
  promotedMB: number;
  /** Bytes allocated (each collection says how many since the one before), in MB. */
  allocatedMB: number;
}

/** The `name=value` pairs of one trace line, or undefined when the line is not a collection's (no `gc` and `pause`). */
function fields(line: string): Map<string, string> | undefined {
  if (!line.includes(" gc=")) return undefined;
  const pairs = new Map<string, string>();
  for (const word of line.split(/\s+/)) {
    const eq = word.indexOf("=");
    if (eq > 0) pairs.set(word.slice(0, eq), word.slice(eq + 1));
  }
  return pairs.has("pause") ? pairs : undefined;
}

/** The V8 isolate (thread) a trace line comes from: V8 starts each line with `[pid:0xaddress]`. */
function isolateOf(line: string): string | undefined {
  return /^\[\d+:(0x[0-9a-f]+)\]/.exec(line)?.[1];
}

/**
 * The isolate with the most collections among `lines`: the process's main thread, where a
 * daemon does its work. Worker threads (Node's module loader is one) trace their own.
 */
export function mainIsolate(lines: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const isolate = fields(line) && isolateOf(line);
    if (isolate) counts.set(isolate, (counts.get(isolate) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

/**
 * Sums the collections among `lines` (other lines are ignored), of `isolate` only when given;
 * figures rounded to 0.1.
 */
export function summarizeGcTrace(lines: readonly string[], isolate?: string): GcSummary {
  const sum: GcSummary = {
    scavenges: 0, scavengePauseMs: 0, fullGcs: 0, fullGcPauseMs: 0, maxFullGcPauseMs: 0,
    longestFullGcPhasesMs: { externalStrings: 0, evacuate: 0, sweep: 0 }, promotedMB: 0, allocatedMB: 0,
  };
  for (const line of lines) {
    const f = fields(line);
    if (!f || (isolate !== undefined && isolateOf(line) !== isolate)) continue;
    const pause = Number(f.get("pause"));
    sum.allocatedMB += Number(f.get("allocated") ?? 0) / 1e6;
    if (f.get("gc") === "s") {
      sum.scavenges++;
      sum.scavengePauseMs += pause;
      sum.promotedMB += Number(f.get("promoted") ?? 0) / 1e6;
    } else if (f.get("gc") === "mc") {
      sum.fullGcs++;
      sum.fullGcPauseMs += pause;
      if (pause > sum.maxFullGcPauseMs) {
        sum.maxFullGcPauseMs = pause;
        const phase = (name: string): number => Number(f.get(name) ?? 0);
        sum.longestFullGcPhasesMs = { externalStrings: phase("clear.external_string_table"), evacuate: phase("evacuate"), sweep: phase("sweep") };
      }
    }
  }
  const tenth = (x: number): number => Math.round(x * 10) / 10;
  return {
    ...sum,
    scavengePauseMs: tenth(sum.scavengePauseMs),
    fullGcPauseMs: tenth(sum.fullGcPauseMs),
    maxFullGcPauseMs: tenth(sum.maxFullGcPauseMs),
    promotedMB: tenth(sum.promotedMB),
    allocatedMB: tenth(sum.allocatedMB),
  };
}
