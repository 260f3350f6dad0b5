/**
 * The OCI runtime config of a container, built from the task spec merged with the image config,
 * as Docker merges them: the task's command replaces the image's entrypoint (and drops its cmd),
 * the task's args replace the image's cmd, environment variables from the task override the
 * image's. Namespaces are fresh (pid, mount, ipc, uts, network: a network namespace with only
 * loopback), capabilities are Docker's default set with the task's additions and removals,
 * no-new-privileges is set, and cgroup limits come from the task's resource limits.
 */
import type { ContainerSpec } from "../../../proto/gen/specs.ts";
import type { Resources } from "../../../proto/gen/types.ts";
import { ExecError, ExecErrorCode } from "../../exec/errors.ts";
import type { ImageRuntimeConfig } from "../../image/media.ts";
import { DEFAULT_PATH, envValue } from "../command.ts";

/** Docker's default capability set: what a container gets unless the task adds or drops some. */
export const DEFAULT_CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
];
/** Every capability a task may add (Linux 5.x), for "ALL". */
const ALL_CAPABILITIES = [
  ...DEFAULT_CAPABILITIES, "CAP_DAC_READ_SEARCH", "CAP_LINUX_IMMUTABLE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_IPC_LOCK",
  "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
  "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_LEASE", "CAP_AUDIT_CONTROL", "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];
/** CFS period for CPU limits, Docker's: quota is a share of this. */
const CPU_PERIOD_US = 100_000;
/** Paths hidden from containers and paths made read-only, as runc's and Docker's defaults. */
const MASKED_PATHS = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"];
const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/** One mount in an OCI config. */
export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** The parts of an OCI runtime config the engine writes. */
export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<"bounding" | "effective" | "permitted", string[]>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    cgroupsPath: string;
    resources: {
      devices: { allow: boolean; access: string }[];
      memory?: { limit: number; swap: number };
      cpu?: { quota: number; period: number };
      pids?: { limit: number };
    };
    namespaces: { type: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/** Everything the config is built from, already resolved on the host. */
export interface BundleInput {
  spec: ContainerSpec;
  limits: Resources | undefined;
  image: ImageRuntimeConfig;
  /** The container's process argv (see {@link processArgs}). */
  args: string[];
  /** The container's environment (see {@link processEnv}). */
  env: string[];
  cwd: string;
  user: { uid: number; gid: number };
  hostname: string;
  rootfs: string;
  cgroupsPath: string;
  /** Mounts from the task (bind, volume, tmpfs) and the secret and config files, resolved. */
  mounts: OciMount[];
}

/** The argv a task runs: Docker's entrypoint/cmd rules. Throws `invalid-spec` when it is empty. */
export function processArgs(spec: ContainerSpec, image: ImageRuntimeConfig): string[] {
  const args = spec.command.length > 0 ? [...spec.command, ...spec.args] : [...(image.Entrypoint ?? []), ...(spec.args.length > 0 ? spec.args : (image.Cmd ?? []))];
  if (args.length === 0) throw new ExecError(ExecErrorCode.InvalidSpec, `no command: the task sets none and image ${spec.image} has no entrypoint or cmd`);
  return args;
}

/** The environment: the image's, overridden by the task's, with PATH and HOSTNAME always set. */
export function processEnv(spec: ContainerSpec, image: ImageRuntimeConfig, hostname: string, home: string): string[] {
  const env = new Map<string, string>();
  const put = (kv: string): void => {
    const eq = kv.indexOf("=");
    if (eq > 0) env.set(kv.slice(0, eq), kv.slice(eq + 1));
  };
  put(`PATH=${DEFAULT_PATH}`);
  put(`HOSTNAME=${hostname}`);
  for (const kv of image.Env ?? []) put(kv);
  for (const kv of spec.env) put(kv);
  if (!env.has("HOME")) env.set("HOME", home);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/** Normalizes a capability name (net_admin, NET_ADMIN, CAP_NET_ADMIN); throws for an unknown one. */
function capName(name: string): string {
  const n = name.toUpperCase();
  if (n === "ALL") return n;
  const full = n.startsWith("CAP_") ? n : `CAP_${n}`;
  if (!ALL_CAPABILITIES.includes(full)) throw new ExecError(ExecErrorCode.InvalidSpec, `unknown capability "${name}"`);
  return full;
}

/** The capability set after the task's additions and drops ("ALL" allowed in either). */
export function capabilities(add: string[], drop: string[]): string[] {
  const adds = add.map(capName);
  const drops = drop.map(capName);
  let caps = new Set(adds.includes("ALL") ? ALL_CAPABILITIES : [...DEFAULT_CAPABILITIES, ...adds]);
  if (drops.includes("ALL")) caps = new Set(adds.filter((c) => c !== "ALL"));
  for (const c of drops) caps.delete(c);
  return [...caps].sort();
}

/** The mounts every container has: proc, a tmpfs /dev with pts, shm and mqueue, read-only sysfs. */
function baseMounts(): OciMount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
  ];
}

/** cgroup limits from the task's resource limits (zero means no limit). */
function resources(limits: Resources | undefined): OciSpec["linux"]["resources"] {
  const r: OciSpec["linux"]["resources"] = { devices: [{ allow: false, access: "rwm" }] };
  if (limits?.memoryBytes) r.memory = { limit: limits.memoryBytes, swap: limits.memoryBytes }; // swap limit = memory limit: no swap on top
  if (limits?.nanoCpus) r.cpu = { quota: Math.max(1000, Math.round((limits.nanoCpus * CPU_PERIOD_US) / 1e9)), period: CPU_PERIOD_US };
  if (limits?.pids) r.pids = { limit: limits.pids };
  return r;
}

/** The OCI runtime config for a container. */
export function runtimeConfig(input: BundleInput): OciSpec {
  const caps = capabilities(input.spec.capabilityAdd, input.spec.capabilityDrop);
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: input.user,
      args: input.args,
      env: input.env,
      cwd: input.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: true,
    },
    root: { path: input.rootfs, readonly: input.spec.readOnly },
    hostname: input.hostname,
    mounts: [...baseMounts(), ...input.mounts],
    linux: {
      cgroupsPath: input.cgroupsPath,
      resources: resources(input.limits),
      namespaces: ["pid", "network", "ipc", "uts", "mount"].map((type) => ({ type })),
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}

/** The working directory: the task's, else the image's, else /. */
export function processCwd(spec: ContainerSpec, image: ImageRuntimeConfig): string {
  const cwd = spec.dir || image.WorkingDir || "/";
  if (!cwd.startsWith("/")) throw new ExecError(ExecErrorCode.InvalidSpec, `working directory "${cwd}" is not absolute`);
  return cwd;
}

/** PATH of an environment list, for command lookup. */
export function pathOf(env: string[]): string | undefined {
  return envValue(env, "PATH");
}
