/**
 * Preloaded into a process (`NODE_OPTIONS=--import .../cpu-profile.ts`, since Node refuses
 * `--cpu-prof` there) to profile it the way `node --cpu-prof` does: the V8 CPU profile is written
 * to $BENCH_PROFILE_DIR/<pid>.cpuprofile when the process exits (not when it is SIGKILLed).
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env.BENCH_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 500 });
  session.post("Profiler.start");
  process.once("exit", () => {
    // A session in the same thread answers synchronously, so this runs before the process ends.
    session.post("Profiler.stop", (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
