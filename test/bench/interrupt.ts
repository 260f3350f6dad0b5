/** Cleaning up after a benchmark that is stopped by a signal. */

/** On SIGINT or SIGTERM: says so, runs `cleanUp` (whatever it throws) and exits with status 130. */
export function cleanUpOnInterrupt(cleanUp: () => Promise<unknown>): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`${signal}: stopping and cleaning up`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
}
