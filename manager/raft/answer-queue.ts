/**
 * Answers to writers, in two groups when a commit answers many. A commit on a busy leader
 * applies dozens of writes at once; answering all of them in one go keeps every response off
 * the wire until the last one is ready, and the writers' next requests come back all together
 * again: the leader, its followers and the clients then take turns, each waiting for the other,
 * on cores that could work at once. Answering the first group at once and the rest in the next
 * turn of the event loop lets the first responses leave while the rest are prepared, and the
 * writers' requests come back as two batches that overlap in the pipeline.
 */

/** One answer waiting: the function that settles the writer's promise, and its value. */
interface Answer<T> {
  settle: (value: T) => void;
  value: T;
}

/**
 * Settles writers' promises in the order given: the first `atOnce` of a turn of the event loop
 * at once, those beyond it together in the next turn.
 */
export class AnswerQueue<T> {
  private waiting: Answer<T>[] = [];
  /** Answers given in this turn. */
  private givenThisTurn = 0;
  private turnScheduled = false;

  /** @param atOnce answers given at once in one turn of the event loop, at least 1 */
  constructor(private readonly atOnce: number) {
    if (!Number.isInteger(atOnce) || atOnce < 1) {
      throw new RangeError(`answers given at once must be a whole number of at least 1, not ${atOnce}`);
    }
  }

  /** Answers waiting for the next turn. */
  get length(): number {
    return this.waiting.length;
  }

  /** Calls `settle(value)` now when this turn has room and nothing waits before it; else in the next turn. */
  give(settle: (value: T) => void, value: T): void {
    this.scheduleTurn();
    if (this.waiting.length === 0 && this.givenThisTurn < this.atOnce) {
      this.givenThisTurn++;
      settle(value);
      return;
    }
    this.waiting.push({ settle, value });
  }

  /** Starts a new turn with `setImmediate` (after the I/O that is ready), unless one is due. */
  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(() => this.nextTurn());
  }

  /** A new turn: gives every waiting answer. Answers given later in the turn wait when these were `atOnce` or more. */
  private nextTurn(): void {
    this.turnScheduled = false;
    const answers = this.waiting;
    this.givenThisTurn = answers.length;
    if (answers.length === 0) return;
    this.waiting = [];
    this.scheduleTurn();
    for (const { settle, value } of answers) settle(value);
  }
}
