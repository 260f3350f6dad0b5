// Host tests of the runc engine: real containers from a busybox image pulled from a registry on
// loopback, driven through the task state machine. Root, runc, conmon, docker-registry and
// busybox-static are needed; without them the tests are skipped with the reason.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import type { Task } from "../../proto/gen/objects.ts";
import { HealthState, TaskState } from "../../proto/gen/types.ts";
import type { TaskStatus } from "../../proto/gen/types.ts";
import { MountType } from "../../proto/gen/specs.ts";
import { step } from "../../agent/exec/index.ts";
import type { Controller, LogEntry, LogReader } from "../../agent/exec/index.ts";
import { containerIdOf } from "../../agent/engine/runc/index.ts";
import type { RuncExecutor } from "../../agent/engine/runc/index.ts";
import { engineFixture, engineSkipReason } from "./fixtures/engine.ts";
import type { EngineFixture } from "./fixtures/engine.ts";
import { containerSpec, makeTask } from "./fixtures/task.ts";

const skip = engineSkipReason();
if (skip) console.log(`# skipping runc engine host tests: ${skip}`);
const run = promisify(execFile);
const T = { timeout: 30_000 };

/** Steps a task until it reaches `until` or a final state; returns the last status. */
async function drive(task: Task, ctl: Controller, until: TaskState = TaskState.TASK_STATE_COMPLETE): Promise<TaskStatus> {
  for (;;) {
    const status = await step(task, ctl);
    task.status = status;
    if (status.state >= until || status.state >= TaskState.TASK_STATE_COMPLETE) return status;
  }
}

async function collect(logs: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of logs) out.push(e);
  return out;
}

describe("runc engine", { skip, timeout: 240_000 }, () => {
  let fx: EngineFixture;
  let ex: RuncExecutor;
  const controllers: Controller[] = [];
  const track = <C extends Controller>(c: C): C => (controllers.push(c), c);

  before(async () => {
    fx = await engineFixture();
    ex = fx.executor();
  });
  after(async () => {
    for (const c of controllers) await c.remove().catch(() => undefined);
    await fx?.cleanup();
  });

  it("runs a command with its environment to completion, with logs", T, async () => {
    const task = makeTask(containerSpec(fx.image, { command: ["sh", "-c", 'echo "hello $GREETING from $(hostname) in $(pwd)"; echo oops >&2; id -u'], env: ["GREETING=world"], dir: "/tmp", hostname: "box" }));
    const ctl = track(ex.controller(task));
    const status = await drive(task, ctl);
    assert.equal(status.state, TaskState.TASK_STATE_COMPLETE, status.err);
    assert.equal(status.exitCode, 0);
    const logs = await collect(ctl.logs());
    // The two streams are read by conmon separately: order holds within a stream only.
    assert.deepEqual(logs.filter((l) => l.stream === "stdout").map((l) => l.line), ["hello world from box in /tmp", "0"]);
    assert.deepEqual(logs.filter((l) => l.stream === "stderr").map((l) => l.line), ["oops"]);
    assert.match(logs[0]!.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}/);
    assert.ok(Math.abs(logs[0]!.time - Date.now()) < 60_000);
    assert.deepEqual((await collect(ctl.logs({ tail: 1 }))).map((l) => l.line), [logs[2]!.line]);
    assert.deepEqual(await collect(ctl.logs({ since: Date.now() + 60_000 })), []);
  });

  it("reports a non-zero exit code as a failed task", T, async () => {
    const task = makeTask(containerSpec(fx.image, { command: ["sh", "-c", "exit 7"] }));
    const status = await drive(task, track(ex.controller(task)));
    assert.equal(status.state, TaskState.TASK_STATE_FAILED);
    assert.equal(status.exitCode, 7);
    assert.match(status.err, /non-zero exit \(7\)/);
  });

  it("rejects a task whose command is not in the image", T, async () => {
    const task = makeTask(containerSpec(fx.image, { command: ["no-such-command"] }));
    const status = await drive(task, track(ex.controller(task)));
    assert.equal(status.state, TaskState.TASK_STATE_REJECTED);
    assert.match(status.err, /command not found in image .*"no-such-command"/);
  });

  it("rejects a task whose image does not exist", T, async () => {
    const task = makeTask(containerSpec(`${fx.registry.host}/test/missing:1`, { command: ["true"] }));
    const status = await drive(task, track(ex.controller(task)));
    assert.equal(status.state, TaskState.TASK_STATE_REJECTED);
    assert.match(status.err, /image not found: .*test\/missing:1/);
  });

  it("follows logs until the container stops", T, async () => {
    const task = makeTask(containerSpec(fx.image, { command: ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done"] }));
    const ctl = track(ex.controller(task));
    await drive(task, ctl, TaskState.TASK_STATE_RUNNING);
    const lines = (await collect(ctl.logs({ follow: true }))).map((l) => l.line);
    assert.deepEqual(lines, ["line1", "line2", "line3"]);
    assert.equal((await drive(task, ctl)).state, TaskState.TASK_STATE_COMPLETE);
  });

  it("stops with the stop signal a process traps, and SIGKILLs one that ignores it after the grace period", T, async () => {
    const trapping = makeTask(containerSpec(fx.image, { command: ["sh", "-c", 'trap "echo got TERM; exit 3" TERM; while true; do sleep 0.05; done'], stopGracePeriodMs: 5000 }));
    const ignoring = makeTask(containerSpec(fx.image, { command: ["sh", "-c", 'trap "" TERM; while true; do sleep 0.05; done'], stopGracePeriodMs: 700 }));
    const quitting = makeTask(containerSpec(fx.image, { command: ["sh", "-c", 'trap "exit 4" QUIT; while true; do sleep 0.05; done'], stopSignal: "SIGQUIT", stopGracePeriodMs: 5000 }));
    for (const [task, exitCode, fast] of [[trapping, 3, true], [ignoring, 137, false], [quitting, 4, true]] as const) {
      const ctl = track(ex.controller(task));
      assert.equal((await drive(task, ctl, TaskState.TASK_STATE_RUNNING)).state, TaskState.TASK_STATE_RUNNING);
      await new Promise((r) => setTimeout(r, 200)); // let the shell install its trap
      const waiting = ctl.wait();
      const t0 = Date.now();
      task.desiredState = TaskState.TASK_STATE_SHUTDOWN;
      const status = await step(task, ctl);
      const took = Date.now() - t0;
      assert.equal(status.state, TaskState.TASK_STATE_SHUTDOWN);
      assert.equal((await waiting).exitCode, exitCode);
      if (fast) assert.ok(took < 2000, `stopped in ${took} ms`);
      else assert.ok(took >= 700 && took < 5000, `killed after the grace period, in ${took} ms`);
    }
  });

  it("kills a process that exceeds its memory limit", T, async () => {
    const task = makeTask(containerSpec(fx.image, { command: ["sh", "-c", "dd if=/dev/zero bs=1M count=64 | cat > /dev/shm/fill; sleep 1; x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived"] }), { memoryBytes: 32 * 1024 * 1024 });
    const status = await drive(task, track(ex.controller(task)));
    assert.equal(status.state, TaskState.TASK_STATE_FAILED);
    assert.match(status.err, /out of memory|non-zero exit \(137\)/);
  });

  it("runs with a read-only root, a writable tmpfs and a named volume", T, async () => {
    const task = makeTask(
      containerSpec(fx.image, {
        command: ["sh", "-c", "touch /rootfile 2>/dev/null && echo root-writable; touch /scratch/ok && echo tmpfs-ok; echo kept > /data/v; echo done"],
        readOnly: true,
        mounts: [
          { type: MountType.MOUNT_TMPFS, source: "", target: "/scratch", readOnly: false, tmpfsSizeBytes: 1 << 20, tmpfsMode: 0 },
          { type: MountType.MOUNT_VOLUME, source: "vol1", target: "/data", readOnly: false, tmpfsSizeBytes: 0, tmpfsMode: 0 },
        ],
      }),
    );
    const ctl = track(ex.controller(task));
    assert.equal((await drive(task, ctl)).state, TaskState.TASK_STATE_COMPLETE);
    assert.deepEqual((await collect(ctl.logs())).map((l) => l.line), ["tmpfs-ok", "done"]);
    assert.equal(readFileSync(join(fx.dataDir, "volumes", "vol1", "v"), "utf8"), "kept\n");
  });

  it("places a secret readable inside the container that never touches the agent's disk", T, async () => {
    const secret = `s3cr3t-${Date.now()}-${Math.random()}`;
    const task = makeTask(
      containerSpec(fx.image, {
        command: ["sh", "-c", "cat /run/secrets/db_password; echo; stat -c '%u %g %a' /run/secrets/db_password; cat /etc/app.conf; sleep 30"],
        user: "nobody",
        secrets: [{ id: "sec1", name: "db_password", target: "db_password", uid: 65534, gid: 65534, mode: 0o400 }],
        configs: [{ id: "cfg1", name: "app", target: "/etc/app.conf", uid: 0, gid: 0, mode: 0o444 }],
      }),
    );
    const files = new Map([["sec1", Buffer.from(secret)], ["cfg1", Buffer.from("setting=1\n")]]);
    const ctl = track(ex.controller(task, { get: (id) => files.get(id) }));
    await drive(task, ctl, TaskState.TASK_STATE_RUNNING);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual((await collect(ctl.logs())).map((l) => l.line), [secret, "65534 65534 400", "setting=1"]);
    // Every file under the data directory that is on the agent's disk (not in a mount) lacks the secret.
    const { stdout } = await run("grep", ["-rlF", "--exclude=container.log", "-x", "-e", secret, fx.dataDir], { encoding: "utf8" }).catch((e: { stdout: string }) => e);
    const onDisk = stdout.split("\n").filter(Boolean).filter((f) => !f.includes("/files/") && !f.includes("/rootfs/"));
    assert.deepEqual(onDisk, []);
    const mounts = readFileSync("/proc/self/mounts", "utf8");
    assert.match(mounts, new RegExp(`^tmpfs ${fx.dataDir}/containers/[^ ]+/files tmpfs`, "m"));
    await ctl.remove();
    assert.ok(!readFileSync("/proc/self/mounts", "utf8").includes(`${fx.dataDir}/containers/${containerIdOf(task.id)}/`), "no mounts left after remove");
  });

  it("reports health: healthy, then unhealthy, which fails the task", T, async () => {
    const task = makeTask(
      containerSpec(fx.image, {
        command: ["sh", "-c", "touch /tmp/ok; sleep 1; rm /tmp/ok; sleep 60"],
        healthcheck: { test: ["CMD-SHELL", "test -f /tmp/ok || (echo missing; exit 1)"], intervalMs: 200, timeoutMs: 2000, retries: 2, startPeriodMs: 0 },
      }),
    );
    const ctl = track(ex.controller(task));
    const running = await drive(task, ctl, TaskState.TASK_STATE_RUNNING);
    assert.equal(running.health, HealthState.HEALTH_STARTING);
    const seen = new Set<number>();
    const watch = setInterval(() => seen.add(ctl.health().state), 50);
    const status = await drive(task, ctl);
    clearInterval(watch);
    assert.ok(seen.has(HealthState.HEALTH_HEALTHY), "was healthy first");
    assert.equal(status.state, TaskState.TASK_STATE_FAILED);
    assert.equal(status.health, HealthState.HEALTH_UNHEALTHY);
    assert.match(status.err, /unhealthy: missing/);
  });

  it("keeps containers through an agent restart and supervises them again", T, async () => {
    const task = makeTask(containerSpec(fx.image, { command: ["sh", "-c", 'trap "echo bye; exit 5" TERM; echo started; while true; do sleep 0.05; done'] }));
    // The "old agent": another process that starts the container and exits.
    const { stdout } = await run(process.execPath, ["--import", "tsx", join(import.meta.dirname, "fixtures", "start-task.ts"), fx.dataDir, fx.runtimeRoot, JSON.stringify(task)], { encoding: "utf8" });
    const before = JSON.parse(stdout) as { status: string; pid: number };
    assert.equal(before.status, "running");
    // The "new agent": a fresh executor over the same data directory.
    const fresh = fx.executor();
    assert.ok((await fresh.tasks()).includes(task.id));
    const ctl = track(fresh.controller(task));
    const info = await ctl.inspect();
    assert.equal(info.status, "running");
    assert.equal(info.pid, before.pid);
    task.status = { ...task.status!, state: TaskState.TASK_STATE_RUNNING };
    const waiting = ctl.wait();
    await new Promise((r) => setTimeout(r, 200));
    await ctl.shutdown();
    assert.equal((await waiting).exitCode, 5);
    assert.deepEqual((await collect((ctl as Controller & LogReader).logs())).map((l) => l.line), ["started", "bye"]);
  });

  it("garbage-collects images no container uses", T, async () => {
    for (const c of controllers.splice(0)) await c.remove();
    assert.deepEqual(await ex.tasks(), []);
    const gc = await ex.pruneImages();
    assert.deepEqual(gc.images, [fx.built.manifest.digest]);
    assert.deepEqual(readdirSync(join(fx.dataDir, "images", "layers")), []);
    assert.ok(statSync(fx.dataDir).isDirectory());
  });
});
