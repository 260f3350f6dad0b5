import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AnswerQueue } from "./answer-queue.ts";

/** Resolves after the immediates queued before it: the end of a turn of the event loop. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A queue and the values it answered, in the order answered. */
function queueOf<T>(atOnce: number): { queue: AnswerQueue<T>; answered: T[]; give: (v: T) => void } {
  const queue = new AnswerQueue<T>(atOnce);
  const answered: T[] = [];
  return { queue, answered, give: (v) => queue.give((x) => answered.push(x), v) };
}

describe("AnswerQueue", () => {
  it("answers the first group at once and the rest together in the next turn, in order", async () => {
    const { queue, answered, give } = queueOf<number>(16);
    for (let i = 0; i < 40; i++) give(i);
    assert.deepEqual(answered, [...Array(16).keys()], "the first group is answered at once");
    assert.equal(queue.length, 24);
    await nextTurn();
    assert.deepEqual(answered, [...Array(40).keys()], "the rest in the next turn, in the order given");
    assert.equal(queue.length, 0);
  });

  it("answers one writer at once: a lone write waits for no turn", () => {
    const { answered, give } = queueOf<string>(16);
    give("only");
    assert.deepEqual(answered, ["only"]);
  });

  it("keeps an answer given while others wait behind them", async () => {
    const { answered, give } = queueOf<string>(2);
    for (const v of ["a", "b", "c", "d", "e"]) give(v);
    give("f");
    assert.deepEqual(answered, ["a", "b"]);
    await nextTurn();
    assert.deepEqual(answered, ["a", "b", "c", "d", "e", "f"]);
    // That turn answered four, more than its group: a new answer waits for the turn after.
    give("g");
    assert.equal(answered.length, 6);
    await nextTurn();
    assert.deepEqual(answered.at(-1), "g");
  });

  it("gives each new turn room for a group at once", async () => {
    const { answered, give } = queueOf<number>(3);
    for (let i = 0; i < 3; i++) give(i);
    await nextTurn();
    for (let i = 3; i < 6; i++) give(i);
    assert.deepEqual(answered, [0, 1, 2, 3, 4, 5]);
  });

  it("refuses a group size that is not a whole number of at least 1", () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new AnswerQueue(bad), /answers given at once must be a whole number of at least 1/);
    }
  });
});
