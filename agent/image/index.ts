/** Images: references, the registry client, the layer unpacker and the content store. */
export type { Credentials } from "./auth.ts";
export { digestOf } from "./digest.ts";
export { MediaType } from "./media.ts";
export type { Descriptor, ImageConfig, ImageHealthcheck, ImageIndex, ImageManifest, ImageRuntimeConfig } from "./media.ts";
export { formatPlatform, hostPlatform } from "./platform.ts";
export type { OciPlatform } from "./platform.ts";
export { formatReference, parseReference } from "./reference.ts";
export type { ImageReference } from "./reference.ts";
export { RegistryClient } from "./registry.ts";
export type { RegistryOptions, ResolvedImage } from "./registry.ts";
export { ImageStore } from "./store.ts";
export type { GcResult, Image } from "./store.ts";
export { readTar, TarType } from "./tar.ts";
export type { TarEntry } from "./tar.ts";
export { unpackLayer } from "./unpack.ts";
