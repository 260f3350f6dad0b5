/** A seeded random source with the helpers the simulator needs. */
import { seededRandom } from "../../manager/raft/random.ts";

/** Deterministic randomness: the same seed gives the same sequence of choices. */
export class Rng {
  private readonly next: () => number;

  /** A generator seeded with `seed`. */
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** A number in [0, 1). */
  float(): number {
    return this.next();
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** The items in a random order (a copy). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** A function yielding [0, 1), seeded from this generator, for a node's own randomness. */
  fork(): () => number {
    return seededRandom(Math.floor(this.next() * 2 ** 32));
  }
}
