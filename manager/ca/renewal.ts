/**
 * Certificate renewal. A node renews at a random point between 50% and 80% of its certificate's
 * validity (DESIGN.md), so nodes that joined together do not all ask the CA at once, and a
 * failed renewal leaves time to retry before the certificate expires.
 */
import type { NodeRole } from "../../proto/gen/specs.ts";
import { requestRenewal } from "./client.ts";
import type { TlsBundle } from "./signer.ts";
import type { TlsIdentity } from "./tls-identity.ts";
import type { CertValidity } from "./x509.ts";

/** The earliest point of renewal, as a fraction of the validity (DESIGN.md). */
export const RENEW_FROM_FRACTION = 0.5;
/** The latest point of renewal, as a fraction of the validity (DESIGN.md). */
export const RENEW_TO_FRACTION = 0.8;
/** Shortest wait after a failed renewal: at most one attempt a second, even close to expiry. */
export const RENEWAL_RETRY_MIN_MS = 1_000;
/** Longest wait after a failed renewal: a manager that is down for long is asked twice a minute. */
export const RENEWAL_RETRY_MAX_MS = 30_000;
/** Between those bounds, a tenth of the validity left: about ten tries before the certificate expires. */
const RETRIES_IN_REMAINING_VALIDITY = 10;

/** When to renew a certificate: uniformly between 50% and 80% of its validity (`random` in [0, 1)). */
export function renewalTime(validity: CertValidity, random: () => number = Math.random): number {
  const span = validity.expiresAt - validity.issuedAt;
  return validity.issuedAt + span * (RENEW_FROM_FRACTION + (RENEW_TO_FRACTION - RENEW_FROM_FRACTION) * random());
}

/** How long to wait after a failed renewal, given how much validity is left. */
export function renewalRetryDelay(remainingMs: number): number {
  return Math.min(RENEWAL_RETRY_MAX_MS, Math.max(RENEWAL_RETRY_MIN_MS, remainingMs / RETRIES_IN_REMAINING_VALIDITY));
}

/** Time and timers, injectable so tests control them. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  schedule(fn: () => void, ms: number): () => void;
}

/** The longest delay setTimeout accepts (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The real clock. Delays longer than a timer can hold (90-day certificates) are chained. */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(fn, ms) {
    let timer: NodeJS.Timeout;
    const arm = (remaining: number): void => {
      timer = setTimeout(() => (remaining > MAX_TIMER_MS ? arm(remaining - MAX_TIMER_MS) : fn()), Math.min(remaining, MAX_TIMER_MS));
      timer.unref();
    };
    arm(ms);
    return () => clearTimeout(timer);
  },
};

/** What a {@link CertificateRenewer} works with. */
export interface RenewerOptions {
  /** The identity to keep valid; updated in place on each renewal. */
  identity: TlsIdentity;
  /** The manager to ask, host:port; read at each attempt, so it can follow the cluster. */
  managerAddr(): string;
  /** Called after `identity` took a renewed certificate: persist it, act on a role change. */
  onRenewed?(bundle: TlsBundle, role: NodeRole): void;
  /** Called when a scheduled renewal failed; it is retried (see {@link renewalRetryDelay}). */
  onError?(err: Error): void;
  clock?: Clock;
  /** Uniform in [0, 1); decides where in the renewal window each renewal falls. */
  random?: () => number;
}

/** The renewer's life: created, running (a renewal is scheduled), or stopped for good. */
type RenewerState = "idle" | "running" | "stopped";

/** Keeps a node's certificate valid by renewing it through the CA before it expires. */
export class CertificateRenewer {
  readonly #opts: RenewerOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  #state: RenewerState = "idle";
  #cancelTimer: (() => void) | undefined;
  #inFlight: Promise<void> | undefined;

  /** A renewer that does nothing until {@link start}. */
  constructor(opts: RenewerOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#random = opts.random ?? Math.random;
  }

  /** Schedules the renewal of the current certificate. */
  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    this.#scheduleAt(renewalTime(this.#opts.identity.validity, this.#random));
  }

  /** Cancels any scheduled renewal; a renewal in flight finishes but changes nothing. */
  stop(): void {
    this.#state = "stopped";
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  /**
   * Renews now (after a promotion or demotion, say), then schedules the next renewal if the
   * renewer runs. Concurrent calls share one request. Rejects when the renewal fails; a running
   * renewer then retries on its own.
   */
  renewNow(): Promise<void> {
    this.#inFlight ??= this.#renew().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #renew(): Promise<void> {
    this.#cancelTimer?.();
    const { identity } = this.#opts;
    try {
      const { bundle, role } = await requestRenewal(this.#opts.managerAddr(), identity);
      if (this.#state === "stopped") return;
      identity.update(bundle);
      this.#opts.onRenewed?.(bundle, role);
      this.#scheduleAt(renewalTime(identity.validity, this.#random));
    } catch (err) {
      this.#scheduleAt(this.#clock.now() + renewalRetryDelay(identity.validity.expiresAt - this.#clock.now()));
      throw err;
    }
  }

  #scheduleAt(when: number): void {
    if (this.#state !== "running") return;
    this.#cancelTimer = this.#clock.schedule(() => {
      this.renewNow().catch((err: unknown) => this.#opts.onError?.(err instanceof Error ? err : new Error(String(err))));
    }, Math.max(0, when - this.#clock.now()));
  }
}
