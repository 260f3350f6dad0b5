/**
 * Media types and JSON shapes of the OCI image spec and Docker's image manifest v2 schema 2: the
 * two are the same documents under different names.
 */

/** The media types the registry client understands. */
export const MediaType = {
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  OciIndex: "application/vnd.oci.image.index.v1+json",
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciNondistributableLayer: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  OciNondistributableLayerGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
} as const;

/** What a manifest request accepts, most specific first. */
export const MANIFEST_ACCEPT = [MediaType.OciIndex, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.DockerManifest].join(", ");

/** Layer media types the unpacker handles (gzip or plain tar; it sniffs which). */
export const LAYER_TYPES: ReadonlySet<string> = new Set([
  MediaType.DockerLayerGzip,
  MediaType.DockerForeignLayerGzip,
  MediaType.OciLayer,
  MediaType.OciLayerGzip,
  MediaType.OciNondistributableLayer,
  MediaType.OciNondistributableLayerGzip,
]);

/** A pointer to content by digest. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  urls?: string[];
}

/** An image index / manifest list: one manifest per platform. */
export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

/** An image manifest: a config and layers, bottom first. */
export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** Docker's HEALTHCHECK as stored in an image config; durations in nanoseconds. */
export interface ImageHealthcheck {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

/** The runtime part of an image config. */
export interface ImageRuntimeConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  StopSignal?: string;
  Healthcheck?: ImageHealthcheck;
  Labels?: Record<string, string> | null;
}

/** An image config blob. */
export interface ImageConfig {
  architecture: string;
  os: string;
  config?: ImageRuntimeConfig;
  rootfs: { type: string; diff_ids: string[] };
}
