/** A container's root filesystem: an overlayfs of the image's layers with an upper directory of its own. */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { mount, unmount } from "../../sys/libc.ts";
import type { ContainerPaths } from "./paths.ts";

/**
 * Mounts the overlay at `paths.rootfs`; `layers` are host directories, topmost first. An image
 * without layers gets an empty lower directory, since overlayfs needs one.
 */
export async function mountRootfs(paths: ContainerPaths, layers: string[]): Promise<void> {
  await Promise.all([paths.rootfs, paths.upper, paths.work].map((d) => mkdir(d, { recursive: true })));
  let lower = layers;
  if (lower.length === 0) {
    lower = [join(paths.dir, "empty")];
    await mkdir(lower[0]!, { recursive: true });
  }
  mount("overlay", paths.rootfs, "overlay", 0, `lowerdir=${lower.join(":")},upperdir=${paths.upper},workdir=${paths.work}`);
}

/** Unmounts the root filesystem (fine if it is not mounted). */
export function unmountRootfs(paths: ContainerPaths): void {
  unmount(paths.rootfs);
}
