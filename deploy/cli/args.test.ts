import { test } from "node:test";
import assert from "node:assert/strict";
import { FlagKind, parseArgs } from "./args.ts";
import type { FlagSpec } from "./args.ts";
import { UsageError } from "./errors.ts";

const specs: FlagSpec[] = [
  { name: "quiet", short: "q", kind: FlagKind.BOOL, description: "" },
  { name: "force", short: "f", kind: FlagKind.BOOL, description: "" },
  { name: "host", short: "H", kind: FlagKind.STRING, description: "" },
  { name: "format", kind: FlagKind.STRING, description: "", choices: ["json", "table"] },
  { name: "label-add", kind: FlagKind.LIST, description: "" },
];

test("long, short, attached and separate values; flags interleaved with positionals", () => {
  const { flags, positionals } = parseArgs(["a", "--host", "unix:///x", "-q", "b", "--format=json", "--label-add", "k=v", "--label-add=x=y=z", "c"], specs);
  assert.deepEqual(positionals, ["a", "b", "c"]);
  assert.equal(flags.string("host"), "unix:///x");
  assert.equal(flags.bool("quiet"), true);
  assert.equal(flags.bool("force"), false);
  assert.equal(flags.string("format"), "json");
  assert.deepEqual(flags.list("label-add"), ["k=v", "x=y=z"]);
});

test("grouped shorthands, a shorthand with its value attached, and the last single value wins", () => {
  const { flags } = parseArgs(["-qf", "-Hunix:///a", "-H=unix:///b", "-qH", "unix:///c"], specs);
  assert.equal(flags.bool("quiet"), true);
  assert.equal(flags.bool("force"), true);
  assert.equal(flags.string("host"), "unix:///c");
});

test("--flag=false turns a switch off; -- ends the flags; - is a positional", () => {
  const { flags, positionals } = parseArgs(["--force", "--force=false", "-", "--", "--quiet", "-q"], specs);
  assert.equal(flags.bool("force"), false);
  assert.equal(flags.bool("quiet"), false);
  assert.deepEqual(positionals, ["-", "--quiet", "-q"]);
});

test("stopAtPositional leaves everything from the first positional unparsed", () => {
  const { flags, positionals } = parseArgs(["-H", "unix:///x", "node", "ls", "--bogus"], specs, { stopAtPositional: true });
  assert.equal(flags.string("host"), "unix:///x");
  assert.deepEqual(positionals, ["node", "ls", "--bogus"]);
});

test("what is not allowed is a usage error that says what is", () => {
  const refused = (argv: string[], message: string) => assert.throws(() => parseArgs(argv, specs), (err: unknown) => err instanceof UsageError && err.message === message);
  refused(["--bogus"], "unknown flag: --bogus");
  refused(["-qx"], "unknown shorthand flag: 'x' in -qx");
  refused(["--host"], "flag needs an argument: --host");
  refused(["-H"], "flag needs an argument: -H");
  refused(["--format", "yaml"], 'invalid format "yaml": must be json or table');
  refused(["--force=maybe"], 'invalid value for --force "maybe": must be true or false');
});

test("merged flags: the later set overrides flag by flag", () => {
  const root = parseArgs(["-H", "unix:///root", "-q"], specs).flags;
  const merged = root.merged(parseArgs(["-H", "unix:///cmd"], specs).flags);
  assert.equal(merged.string("host"), "unix:///cmd");
  assert.equal(merged.bool("quiet"), true);
});
