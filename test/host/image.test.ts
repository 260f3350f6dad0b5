// Host tests of the image side of the engine core: a real docker-registry on loopback, images
// assembled from busybox-static, pulled through the registry client into the content store.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isExecError } from "../../agent/exec/index.ts";
import { ImageStore, RegistryClient } from "../../agent/image/index.ts";
import { BUSYBOX, buildImage, buildIndex, Pusher } from "./fixtures/image.ts";
import { REGISTRY_BIN, startRegistry } from "./fixtures/registry.ts";
import type { TestRegistry } from "./fixtures/registry.ts";

const skip = process.getuid?.() !== 0 ? "needs root (layers keep file ownership and whiteouts are device nodes)" : !existsSync(REGISTRY_BIN) ? `needs ${REGISTRY_BIN} (apt-get install docker-registry)` : !existsSync(BUSYBOX) ? `needs ${BUSYBOX} (apt-get install busybox-static)` : false;
if (skip) console.log(`# skipping image host tests: ${skip}`);

function tempStore(client: RegistryClient): ImageStore {
  const dir = mkdtempSync(join(tmpdir(), "shoal-images-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return new ImageStore(dir, client);
}

async function rejectsWith(p: Promise<unknown>, code: string, text: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isExecError(err), `expected an ExecError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, text);
    return true;
  });
}

describe("image pull from an open registry", { skip }, () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry("none");
  });
  after(async () => reg?.stop());

  it("pulls an OCI image by tag, unpacks it once, and resolves the tag to its digest", async () => {
    const img = buildImage({ extraLayers: [[{ path: "etc/passwd.wh", content: "x" }, { path: "bin/.wh.cat" }, { path: "bin/hello", content: "hi\n" }]] });
    await new Pusher(reg.host).image("test/busybox", "v1", img);
    const store = tempStore(new RegistryClient());
    const image = await store.pull(`${reg.host}/test/busybox:v1`);
    assert.equal(image.digest, img.manifest.digest);
    assert.equal(image.layers.length, 2);
    const [top, bottom] = store.layerDirs(image);
    assert.ok(statSync(join(bottom!, "bin/busybox")).mode & 0o111);
    assert.equal(readFileSync(join(top!, "bin/hello"), "utf8"), "hi\n");
    const wh = statSync(join(top!, "bin/cat"));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, "a whiteout is a 0/0 character device");
    const pinned = await store.pull(`${reg.host}/test/busybox@${img.manifest.digest}`);
    assert.equal(pinned.digest, image.digest);
  });

  it("selects this node's platform from an OCI index and a Docker manifest list", async () => {
    const amd = buildImage({ architecture: "amd64", config: { Cmd: ["echo", "amd64"] } });
    const arm = buildImage({ architecture: "arm64", config: { Cmd: ["echo", "arm64"] } });
    const pusher = new Pusher(reg.host);
    await pusher.image("test/multi", "amd64", amd);
    await pusher.image("test/multi", "arm64", arm);
    for (const docker of [false, true]) {
      const index = buildIndex([{ image: arm, architecture: "arm64", variant: "v8" }, { image: amd, architecture: "amd64" }], docker);
      await pusher.manifest("test/multi", "multi", index);
      const store = tempStore(new RegistryClient());
      const image = await store.pull(`${reg.host}/test/multi:multi`);
      const want = process.arch === "arm64" ? arm : amd;
      assert.equal(image.digest, index.digest);
      assert.equal(image.manifestDigest, want.manifest.digest);
    }
    const only = buildIndex([{ image: arm, architecture: "s390x" }]);
    await pusher.manifest("test/multi", "other", only);
    await rejectsWith(tempStore(new RegistryClient()).pull(`${reg.host}/test/multi:other`), "image-not-found", /no manifest for platform linux\/.* \(it has linux\/s390x\)/);
  });

  it("pulls Docker schema 2 images and uncompressed OCI layers", async () => {
    const pusher = new Pusher(reg.host);
    const docker = buildImage({ docker: true });
    const plain = buildImage({ gzip: false });
    await pusher.image("test/docker", "latest", docker);
    await pusher.image("test/plain", "latest", plain);
    const store = tempStore(new RegistryClient());
    assert.equal((await store.pull(`${reg.host}/test/docker`)).digest, docker.manifest.digest);
    assert.equal((await store.pull(`${reg.host}/test/plain`)).digest, plain.manifest.digest);
  });

  it("says clearly when an image does not exist", async () => {
    await rejectsWith(tempStore(new RegistryClient()).pull(`${reg.host}/test/nothing:here`), "image-not-found", /image not found: .*test\/nothing:here/);
  });

  it("refuses content that does not match its digest", async () => {
    const img = buildImage({ extraLayers: [[{ path: "f", content: "original" }]] });
    await new Pusher(reg.host).image("test/tampered", "latest", img);
    const other = buildImage({ extraLayers: [[{ path: "f", content: "tampered" }]] });
    writeFileSync(reg.blobPath(img.layers[1]!.digest), other.layers[1]!.bytes);
    await rejectsWith(tempStore(new RegistryClient()).pull(`${reg.host}/test/tampered`), "digest-mismatch", /digest mismatch for layer sha256:/);
    const wrong = `sha256:${"0".repeat(64)}`;
    await rejectsWith(tempStore(new RegistryClient()).pull(`${reg.host}/test/tampered@${wrong}`), "image-not-found", /image not found/);
  });

  it("refuses a corrupt layer", async () => {
    const img = buildImage();
    const garbage = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from("definitely not gzip data at all")]);
    const { sha256 } = await import("./fixtures/image.ts");
    const bad = { ...img.layers[0]!, bytes: garbage, digest: sha256(garbage) };
    const pusher = new Pusher(reg.host);
    await pusher.blob("test/corrupt", bad);
    await pusher.blob("test/corrupt", img.config);
    const manifest = JSON.parse(img.manifest.bytes.toString()) as { layers: { digest: string; size: number }[] };
    manifest.layers[0] = { ...manifest.layers[0]!, digest: bad.digest, size: garbage.length };
    const { blob } = await import("./fixtures/image.ts");
    await pusher.manifest("test/corrupt", "latest", blob(img.manifest.mediaType, Buffer.from(JSON.stringify(manifest))));
    const store = tempStore(new RegistryClient());
    await rejectsWith(store.pull(`${reg.host}/test/corrupt`), "corrupt-layer", /corrupt layer/);
  });

  it("garbage-collects images no task uses, and the layers only they used", async () => {
    const pusher = new Pusher(reg.host);
    const a = buildImage({ extraLayers: [[{ path: "a", content: "a" }]] });
    const b = buildImage({ extraLayers: [[{ path: "b", content: "b" }]] });
    await pusher.image("test/gc", "a", a);
    await pusher.image("test/gc", "b", b);
    const store = tempStore(new RegistryClient());
    const ia = await store.pull(`${reg.host}/test/gc:a`);
    const ib = await store.pull(`${reg.host}/test/gc:b`);
    const removed = await store.gc([ia.digest]);
    assert.deepEqual(removed.images, [ib.digest]);
    assert.deepEqual(removed.layers, [ib.layers[1]]);
    assert.ok(store.layerDirs(ia).every((d) => existsSync(d)));
  });
});

for (const mode of ["basic", "token"] as const) {
  describe(`image pull with ${mode === "basic" ? "basic (htpasswd)" : "bearer-token"} authentication`, { skip }, () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startRegistry(mode);
      await new Pusher(reg.host, reg.pushAuthorization("test/private")).image("test/private", "latest", buildImage());
    });
    after(async () => reg?.stop());

    it("pulls with the right credentials", async () => {
      const store = tempStore(new RegistryClient({ credentials: () => ({ username: reg.user, password: reg.password }) }));
      assert.ok((await store.pull(`${reg.host}/test/private`)).digest.startsWith("sha256:"));
    });

    it("reports refused credentials and missing ones", async () => {
      const wrong = tempStore(new RegistryClient({ credentials: () => ({ username: reg.user, password: "wrong" }) }));
      await rejectsWith(wrong.pull(`${reg.host}/test/private`), "auth-refused", /refused the credentials/);
      await rejectsWith(tempStore(new RegistryClient()).pull(`${reg.host}/test/private`), "auth-refused", /requires/);
    });
  });
}
