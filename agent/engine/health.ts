/**
 * Health checks as Docker runs them: a probe command every interval, each with a timeout; the
 * container is `starting` until a probe succeeds, `healthy` after a success, and `unhealthy`
 * after `retries` failures in a row (failures in the start period do not count). The engine
 * supplies how to run a probe (inside the container for runc, on the host for processes).
 */
import type { HealthConfig } from "../../proto/gen/specs.ts";
import { HealthState } from "../../proto/gen/types.ts";
import type { HealthReport } from "../exec/contract.ts";
import { ExecError, ExecErrorCode } from "../exec/errors.ts";
import type { ImageHealthcheck } from "../image/media.ts";

/** Docker's defaults, so that a HEALTHCHECK written for Docker behaves the same here. */
const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 3;
/** Probe output kept in the report, enough to say why it failed. */
const MAX_OUTPUT_CHARS = 4096;

/** A health check with every default filled in. */
export interface HealthSettings {
  /** The probe's argv. */
  command: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

/** What one probe returned. */
export interface ProbeResult {
  exitCode: number;
  output: string;
}

/** Runs a probe command; resolves with exit code -1 and an explanation when it timed out or could not run. */
export type Probe = (argv: string[], timeoutMs: number) => Promise<ProbeResult>;

/** Nanoseconds in an image config to milliseconds. */
const nsToMs = (ns: number | undefined): number => Math.round((ns ?? 0) / 1e6);

/**
 * The health check a task gets: its spec's, else its image's; undefined when neither has one or
 * the test is ["NONE"]. Zero fields in the spec take the image's value, then Docker's default.
 */
export function healthSettings(spec: HealthConfig | undefined, image: ImageHealthcheck | undefined): HealthSettings | undefined {
  const test = spec?.test?.length ? spec.test : (image?.Test ?? []);
  if (test.length === 0 || test[0] === "NONE") return undefined;
  const command = test[0] === "CMD-SHELL" ? ["/bin/sh", "-c", test.slice(1).join(" ")] : test[0] === "CMD" ? test.slice(1) : test;
  return {
    command,
    intervalMs: spec?.intervalMs || nsToMs(image?.Interval) || DEFAULT_INTERVAL_MS,
    timeoutMs: spec?.timeoutMs || nsToMs(image?.Timeout) || DEFAULT_TIMEOUT_MS,
    retries: spec?.retries || image?.Retries || DEFAULT_RETRIES,
    startPeriodMs: spec?.startPeriodMs || nsToMs(image?.StartPeriod) || 0,
  };
}

/** Runs a container's health check on a timer while it runs. */
export class HealthMonitor {
  private state: HealthReport = { state: HealthState.HEALTH_STARTING, failingStreak: 0, lastOutput: "" };
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private unhealthyListeners: (() => void)[] = [];

  /**
   * @param settings the check
   * @param probe how to run it
   */
  constructor(
    private readonly settings: HealthSettings,
    private readonly probe: Probe,
  ) {}

  /** Starts probing; `startedAt` (ms) is when the container started, for the start period. */
  start(startedAt: number): void {
    if (this.timer) return;
    this.startedAt = startedAt;
    this.schedule();
  }

  /** Stops probing. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.unhealthyListeners = [];
  }

  /** The latest conclusion. */
  report(): HealthReport {
    return { ...this.state };
  }

  /** Calls `listener` once, when the container turns unhealthy. */
  onUnhealthy(listener: () => void): void {
    this.unhealthyListeners.push(listener);
  }

  /** Arms the timer for the next probe. */
  private schedule(): void {
    this.timer = setTimeout(() => void this.runProbe(), this.settings.intervalMs);
    this.timer.unref();
  }

  /** Runs one probe and updates the state. */
  private async runProbe(): Promise<void> {
    const at = Date.now();
    const r = await this.probe(this.settings.command, this.settings.timeoutMs);
    if (!this.timer) return; // stopped while probing
    const output = r.output.trim().slice(-MAX_OUTPUT_CHARS);
    if (r.exitCode === 0) {
      this.state = { state: HealthState.HEALTH_HEALTHY, failingStreak: 0, lastOutput: output };
    } else if (at - this.startedAt < this.settings.startPeriodMs && this.state.state === HealthState.HEALTH_STARTING) {
      this.state = { ...this.state, lastOutput: output };
    } else {
      const failingStreak = this.state.failingStreak + 1;
      const unhealthy = failingStreak >= this.settings.retries;
      this.state = { state: unhealthy ? HealthState.HEALTH_UNHEALTHY : this.state.state, failingStreak, lastOutput: output };
      if (unhealthy) for (const l of this.unhealthyListeners.splice(0)) l();
    }
    this.schedule();
  }
}

/**
 * A signal that aborts when `signal` does or when the monitor finds the container unhealthy (its
 * reason then an `unhealthy` ExecError with the probe's output), for a controller's wait.
 */
export function untilUnhealthy(monitor: HealthMonitor | undefined, signal: AbortSignal | undefined): AbortSignal | undefined {
  if (!monitor) return signal;
  const unhealthy = new AbortController();
  monitor.onUnhealthy(() => unhealthy.abort(new ExecError(ExecErrorCode.Unhealthy, `container unhealthy: ${monitor.report().lastOutput || "health check failed"}`)));
  return signal ? AbortSignal.any([signal, unhealthy.signal]) : unhealthy.signal;
}

/** A rejection handler for a wait: stops the monitor when the wait ended because of ill health (not an abort), then rethrows. */
export function stopOnUnhealthy(monitor: HealthMonitor | undefined): (err: unknown) => never {
  return (err) => {
    if (err instanceof ExecError && err.code === ExecErrorCode.Unhealthy) monitor?.stop();
    throw err;
  };
}
