// Pure parts of the image side: references, platform choice, the tar reader and the unpacker's refusals.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tar } from "../../test/host/fixtures/tar.ts";
import { isExecError } from "../exec/errors.ts";
import { selectManifest } from "./platform.ts";
import { formatReference, parseReference } from "./reference.ts";
import { readTar } from "./tar.ts";

describe("image references", () => {
  it("parses Docker's forms", () => {
    assert.deepEqual(parseReference("busybox"), { registry: "registry-1.docker.io", repository: "library/busybox", tag: "latest" });
    assert.deepEqual(parseReference("127.0.0.1:5000/a/b:v1"), { registry: "127.0.0.1:5000", repository: "a/b", tag: "v1" });
    const d = `sha256:${"a".repeat(64)}`;
    assert.deepEqual(parseReference(`localhost/x@${d}`), { registry: "localhost", repository: "x", digest: d });
    assert.equal(formatReference(parseReference(`r.io/x:t@${d}`)), `r.io/x:t@${d}`);
  });

  it("refuses malformed references with a clear error", () => {
    for (const bad of ["", "UPPER/case", "x@sha256:short", "x:bad tag"]) {
      assert.throws(() => parseReference(bad), (e: unknown) => isExecError(e, "invalid-spec") && /invalid image reference/.test(e.message));
    }
  });
});

describe("platform selection", () => {
  const d = (architecture: string, variant?: string) => ({ mediaType: "m", digest: architecture + (variant ?? ""), size: 1, platform: { os: "linux", architecture, ...(variant ? { variant } : {}) } });
  it("prefers the exact variant and accepts entries without one", () => {
    assert.equal(selectManifest([d("arm", "v6"), d("arm", "v7")], { os: "linux", architecture: "arm", variant: "v7" })?.digest, "armv7");
    assert.equal(selectManifest([d("arm64")], { os: "linux", architecture: "arm64", variant: "v8" })?.digest, "arm64");
    assert.equal(selectManifest([d("amd64")], { os: "linux", architecture: "s390x" }), undefined);
  });
});

describe("tar reader", () => {
  async function entries(bytes: Buffer, chunk: number): Promise<{ path: string; type: string; body: string }[]> {
    const source = (async function* () {
      for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
    })();
    const out = [];
    for await (const e of readTar(source)) {
      let body = "";
      if (e.path.startsWith("read")) for await (const c of e.body()) body += c.toString();
      out.push({ path: e.path, type: e.type, body });
    }
    return out;
  }

  it("reads files, directories, links and long names in any chunking", async () => {
    const long = `${"d".repeat(90)}/${"f".repeat(60)}`;
    const archive = tar([{ path: "dir", type: "dir" }, { path: "read-me", content: "x".repeat(1000) }, { path: "skip-me", content: "y".repeat(700) }, { path: "ln", type: "symlink", linkname: "read-me" }, { path: long, content: "" }]);
    for (const chunk of [1, 7, 512, 100_000]) {
      const got = await entries(archive, chunk);
      assert.deepEqual(got.map((e) => [e.path, e.type]), [["dir/", "5"], ["read-me", "0"], ["skip-me", "0"], ["ln", "2"], [long, "0"]]);
      assert.equal(got[1]!.body.length, 1000);
    }
  });

  it("refuses a damaged header", async () => {
    const archive = tar([{ path: "a", content: "a" }]);
    archive[10] = 0x41;
    await assert.rejects(entries(archive, 512), (e: unknown) => isExecError(e, "corrupt-layer") && /checksum/.test(e.message));
  });
});
