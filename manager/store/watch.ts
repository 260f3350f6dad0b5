/**
 * The watch queue: after each applied transaction the store publishes its changes to every
 * subscription whose filter lets them through, followed by a marker. Each subscription queues
 * events until its consumer takes them; one that falls too far behind is closed with an error,
 * so a stuck consumer costs a bounded amount of memory.
 */
import { StoreError, StoreErrorCode } from "./errors.ts";
import { typed } from "./events.ts";
import type { AnyChange, Change, CommitEvent, RestoredEvent, StoreEvent, WatchFilter } from "./events.ts";
import type { TableName } from "./tables.ts";

/**
 * Events a subscription may hold unconsumed before it is closed with SLOW_WATCHER. Generous
 * enough for a burst such as a restore of a large store or a service scaled by thousands, yet
 * it caps a stuck consumer at this many events' worth of memory.
 */
export const WATCH_QUEUE_LIMIT = 100_000;

/** A stream of store events: iterate it with `for await`; `close()` (or leaving the loop) ends it. */
export interface Subscription<N extends TableName = TableName> extends AsyncIterableIterator<StoreEvent<N>> {
  /** Ends the subscription: queued events are dropped and a waiting `next()` returns done. */
  close(): void;
}

/** Compact the queue's array once this many consumed slots lead it (amortizes the copy). */
const COMPACT_AFTER = 1024;

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** What the hub hands events to. */
interface Sink {
  deliver(changes: readonly AnyChange[], marker: CommitEvent | RestoredEvent): void;
}

/** A consumer waiting in `next()`. */
interface Waiting<E> {
  resolve(result: IteratorResult<E>): void;
  reject(error: StoreError): void;
}

/** One subscription: its filter, its queue, and a consumer possibly waiting on it. */
class Watcher<N extends TableName> implements Subscription<N>, Sink {
  private queue: StoreEvent<N>[] = [];
  private head = 0;
  private waiting: Waiting<StoreEvent<N>> | undefined;
  private failed: StoreError | undefined;
  private ended = false;

  constructor(
    private readonly filter: WatchFilter<N>,
    private readonly limit: number,
    private readonly onEnd: (w: Sink) => void,
  ) {}

  /** Queues the changes that pass the filter and the marker that ends them. */
  deliver(changes: readonly AnyChange[], marker: CommitEvent | RestoredEvent): void {
    let passed: StoreEvent<N>[];
    try {
      passed = typed(changes).filter((c) => this.matches(c)) as unknown as StoreEvent<N>[];
    } catch (err) {
      this.fail(new StoreError(StoreErrorCode.INVALID, `watch filter threw: ${(err as Error).message}`));
      return;
    }
    if (passed.length === 0 && marker.kind === "commit") return;
    const queued = this.queue.length - this.head + passed.length + 1 - (this.waiting ? 1 : 0); // a waiting consumer takes one at once
    if (queued > this.limit) {
      this.fail(new StoreError(StoreErrorCode.SLOW_WATCHER,
        `watcher closed: it fell more than ${this.limit} events behind; subscribe again (viewAndWatch) to resync`));
      return;
    }
    for (const event of passed) this.push(event);
    this.push(marker);
  }

  /** {@inheritDoc Subscription.close} */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue = [];
    this.head = 0;
    this.onEnd(this);
    this.waiting?.resolve(DONE);
    this.waiting = undefined;
  }

  /** The next event, waiting for one if none is queued. Rejects once with SLOW_WATCHER when the subscription was closed for falling behind. */
  next(): Promise<IteratorResult<StoreEvent<N>>> {
    if (this.head < this.queue.length) {
      const value = this.queue[this.head++]!;
      if (this.head >= COMPACT_AFTER && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.failed) {
      const error = this.failed;
      this.failed = undefined;
      return Promise.reject(error);
    }
    if (this.ended) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  /** Called when a `for await` loop is left early: closes the subscription. */
  return(): Promise<IteratorResult<StoreEvent<N>>> {
    this.close();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): Subscription<N> {
    return this;
  }

  private matches(change: Change): boolean {
    const { tables, where } = this.filter;
    if (tables && !(tables as readonly TableName[]).includes(change.table)) return false;
    return !where || where(change as unknown as Change<N>);
  }

  private push(event: StoreEvent<N>): void {
    if (this.waiting) {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting.resolve({ done: false, value: event });
    } else {
      this.queue.push(event);
    }
  }

  /** Closes the subscription; its consumer's next `next()` rejects with `error`. */
  private fail(error: StoreError): void {
    const waiting = this.waiting;
    this.waiting = undefined; // so that close() does not report a clean end to it
    this.close();
    if (waiting) waiting.reject(error);
    else this.failed = error;
  }
}

/** Every open subscription of a store. */
export class Watchers {
  private readonly open = new Set<Sink>();

  /** @param limit events a subscription may hold unconsumed (see {@link WATCH_QUEUE_LIMIT}) */
  constructor(private readonly limit: number) {}

  /** Opens a subscription; it receives what is published from now on. */
  subscribe<N extends TableName>(filter: WatchFilter<N>): Subscription<N> {
    const watcher = new Watcher<N>(filter, this.limit, (w) => this.open.delete(w));
    this.open.add(watcher);
    return watcher;
  }

  /** Hands one transaction's changes (or a restore's) and its marker to every subscription. */
  publish(changes: readonly AnyChange[], marker: CommitEvent | RestoredEvent): void {
    for (const watcher of [...this.open]) watcher.deliver(changes, marker);
  }
}
