/** Where a container's files live under the node's data directory. */
import { join } from "node:path";

/** The directory of one container and the files in it. */
export class ContainerPaths {
  /** The container's directory: also its OCI bundle (config.json) and conmon's socket directory. */
  readonly dir: string;

  /**
   * @param containersDir the directory holding every container's directory
   * @param id the container id
   */
  constructor(
    containersDir: string,
    readonly id: string,
  ) {
    this.dir = join(containersDir, id);
  }

  /** The OCI runtime config. */
  get config(): string {
    return join(this.dir, "config.json");
  }
  /** Mount point of the overlayfs root. */
  get rootfs(): string {
    return join(this.dir, "rootfs");
  }
  /** The overlay's upper (writable) directory. */
  get upper(): string {
    return join(this.dir, "upper");
  }
  /** The overlay's work directory. */
  get work(): string {
    return join(this.dir, "work");
  }
  /** Mount point of the tmpfs that holds secrets and configs. */
  get files(): string {
    return join(this.dir, "files");
  }
  /** The k8s-file log conmon writes. */
  get log(): string {
    return join(this.dir, "container.log");
  }
  /** Directory where conmon writes the exit file, named after the container. */
  get exitDir(): string {
    return join(this.dir, "exit");
  }
  /** The exit file: the exit code, written by conmon when the process ends. */
  get exitFile(): string {
    return join(this.exitDir, this.id);
  }
  /** conmon's own persistent directory. */
  get persist(): string {
    return join(this.dir, "persist");
  }
  /** The engine's record of the container (task id, image, health check). */
  get meta(): string {
    return join(this.dir, "meta.json");
  }
  /** Pid file of the container's first process. */
  get pidFile(): string {
    return join(this.dir, "pid");
  }
  /** Pid file of the conmon monitoring it. */
  get conmonPidFile(): string {
    return join(this.dir, "conmon.pid");
  }
}
