/**
 * The content store under the node's data directory: image records (by the digest their reference
 * resolved to) and unpacked layers (by diff_id), each layer unpacked once and shared by every
 * image and container that uses it. Pulls of the same image or layer at the same time share one
 * download. Unused images and layers are removed by {@link ImageStore.gc}.
 *
 * Layout: `images/<hex>.json`, `layers/<diff-id hex>/` (an overlayfs lower directory),
 * `tmp/` (layers being unpacked; renamed into place when verified).
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ExecError, ExecErrorCode, isExecError } from "../exec/errors.ts";
import { checkDigest, digestHex } from "./digest.ts";
import { LAYER_TYPES } from "./media.ts";
import type { Descriptor, ImageConfig } from "./media.ts";
import { hostPlatform } from "./platform.ts";
import type { OciPlatform } from "./platform.ts";
import { formatReference, parseReference } from "./reference.ts";
import type { ImageReference } from "./reference.ts";
import type { RegistryClient } from "./registry.ts";
import { unpackLayer } from "./unpack.ts";

/** Layers of one image downloaded at once: enough to overlap latency, few enough for a small node. */
const LAYER_CONCURRENCY = 3;

/** An image in the store. */
export interface Image {
  /** The digest its reference resolved to (index or manifest): what a pinned task names. */
  digest: string;
  /** The platform manifest's digest. */
  manifestDigest: string;
  /** References it was pulled by. */
  references: string[];
  config: ImageConfig;
  /** Layer diff_ids, bottom first. */
  layers: string[];
}

/** What {@link ImageStore.gc} removed. */
export interface GcResult {
  images: string[];
  layers: string[];
}

/** Images and layers on this node. */
export class ImageStore {
  private readonly inflight = new Map<string, Promise<unknown>>();

  /**
   * @param root the store's directory (created if missing)
   * @param registry the client to pull with
   * @param platform the platform to choose from image indexes
   */
  constructor(
    readonly root: string,
    private readonly registry: RegistryClient,
    private readonly platform: OciPlatform = hostPlatform(),
  ) {}

  /**
   * Makes the image `ref` names available locally and returns it. A reference pinned to a digest
   * that is already here needs no registry; a tag is resolved by the registry each time (so a
   * moved tag is seen), falling back to the local copy only when the registry cannot be reached.
   */
  async pull(refText: string): Promise<Image> {
    const ref = parseReference(refText);
    const canonical = formatReference(ref);
    if (ref.digest) {
      const local = await this.get(ref.digest);
      if (local) return local;
    }
    let resolved;
    try {
      resolved = await this.registry.resolve(ref, this.platform);
    } catch (err) {
      const local = isExecError(err, ExecErrorCode.Registry) && !ref.digest ? await this.byReference(canonical) : undefined;
      if (local) return local;
      throw err;
    }
    const { digest, manifestDigest, manifest, config } = resolved;
    return this.once(`image:${digest}:${canonical}`, async () => {
      await this.forEachLimited(manifest.layers, (desc, i) => this.pullLayer(ref, desc, config.rootfs.diff_ids[i]!));
      const existing = await this.get(digest);
      const image: Image = { digest, manifestDigest, references: [...new Set([...(existing?.references ?? []), canonical])], config, layers: config.rootfs.diff_ids };
      await mkdir(join(this.root, "images"), { recursive: true });
      const tmp = join(this.root, "images", `.${digestHex(digest)}.${randomBytes(4).toString("hex")}`);
      await writeFile(tmp, JSON.stringify(image));
      await rename(tmp, this.imagePath(digest));
      return image;
    });
  }

  /** The image with this digest, if it is in the store. */
  async get(digest: string): Promise<Image | undefined> {
    try {
      return JSON.parse(await readFile(this.imagePath(digest), "utf8")) as Image;
    } catch {
      return undefined;
    }
  }

  /** Every image in the store. */
  async list(): Promise<Image[]> {
    const names = await readdir(join(this.root, "images")).catch(() => [] as string[]);
    const images = await Promise.all(names.filter((n) => n.endsWith(".json") && !n.startsWith(".")).map((n) => this.get(`sha256:${n.slice(0, -5)}`)));
    return images.filter((i): i is Image => i !== undefined);
  }

  /** Host directories of an image's layers, topmost first (the order overlayfs's lowerdir wants). */
  layerDirs(image: Image): string[] {
    return image.layers.map((d) => join(this.root, "layers", digestHex(d))).reverse();
  }

  /** Removes every image not in `inUse` (digests), then every layer no remaining image uses. */
  async gc(inUse: Iterable<string>): Promise<GcResult> {
    const keep = new Set(inUse);
    const removed: GcResult = { images: [], layers: [] };
    const kept = new Set<string>();
    for (const image of await this.list()) {
      if (keep.has(image.digest) || this.inflight.size > 0) {
        for (const l of image.layers) kept.add(digestHex(l));
        continue;
      }
      await rm(this.imagePath(image.digest), { force: true });
      removed.images.push(image.digest);
    }
    if (this.inflight.size > 0) return removed; // a pull may be about to use a layer no record names yet
    for (const hex of await readdir(join(this.root, "layers")).catch(() => [] as string[])) {
      if (kept.has(hex)) continue;
      await rm(join(this.root, "layers", hex), { recursive: true, force: true });
      removed.layers.push(`sha256:${hex}`);
    }
    return removed;
  }

  /** Downloads, verifies and unpacks one layer unless it is already here. */
  private async pullLayer(ref: ImageReference, desc: Descriptor, diffId: string): Promise<void> {
    const hex = digestHex(diffId);
    const dir = join(this.root, "layers", hex);
    if (await stat(dir).catch(() => undefined)) return;
    await this.once(`layer:${hex}`, async () => {
      if (!LAYER_TYPES.has(desc.mediaType)) throw new ExecError(ExecErrorCode.CorruptLayer, `layer ${desc.digest} of ${formatReference(ref)} has unsupported media type ${desc.mediaType}`);
      const tmp = join(this.root, "tmp", `${hex}.${randomBytes(4).toString("hex")}`);
      await mkdir(tmp, { recursive: true });
      await mkdir(join(this.root, "layers"), { recursive: true });
      try {
        const what = `layer ${desc.digest} of ${formatReference(ref)}`;
        const got = await unpackLayer(await this.registry.blob(ref, desc), tmp, what);
        checkDigest(what, desc.digest, got.digest);
        checkDigest(`uncompressed ${what}`, diffId, got.diffId);
        await rename(tmp, dir);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    });
  }

  /** Runs `fn` for each item, at most {@link LAYER_CONCURRENCY} at a time; the first error wins. */
  private async forEachLimited<T>(items: T[], fn: (item: T, index: number) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    };
    await Promise.all(Array.from({ length: Math.min(LAYER_CONCURRENCY, items.length) }, worker));
  }

  /** Shares one run of `fn` among concurrent callers with the same key. */
  private once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running as Promise<T>;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** The newest local image pulled by this canonical reference. */
  private async byReference(canonical: string): Promise<Image | undefined> {
    return (await this.list()).find((i) => i.references.includes(canonical));
  }

  /** Where an image's record lives. */
  private imagePath(digest: string): string {
    return join(this.root, "images", `${digestHex(digest)}.json`);
  }
}
