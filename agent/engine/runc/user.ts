/** Resolves `user[:group]` against the image's /etc/passwd and /etc/group, as Docker does. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ExecError, ExecErrorCode } from "../../exec/errors.ts";

/** A resolved user. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  home: string;
}

/** The colon-separated records of a file in the root filesystem (empty when missing). */
async function records(rootfs: string, file: string): Promise<string[][]> {
  const text = await readFile(join(rootfs, file), "utf8").catch(() => "");
  return text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));
}

/** The uid, gid and home of `user` (name or number, optionally `:group`); root when empty. */
export async function resolveUser(rootfs: string, user: string, image: string): Promise<ResolvedUser> {
  const [u = "", g] = (user || "0").split(":");
  const passwd = await records(rootfs, "etc/passwd");
  const entry = passwd.find((r) => r[0] === u || (/^\d+$/.test(u) && r[2] === u));
  if (!entry && !/^\d+$/.test(u)) throw new ExecError(ExecErrorCode.InvalidSpec, `user "${u}" not found in /etc/passwd of image ${image}`);
  const uid = entry ? Number(entry[2]) : Number(u);
  let gid = entry ? Number(entry[3]) : 0;
  if (g !== undefined && g !== "") {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const grp = (await records(rootfs, "etc/group")).find((r) => r[0] === g);
      if (!grp) throw new ExecError(ExecErrorCode.InvalidSpec, `group "${g}" not found in /etc/group of image ${image}`);
      gid = Number(grp[2]);
    }
  }
  return { uid, gid, home: entry?.[5] || "/" };
}
