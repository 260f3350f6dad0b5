/**
 * A small command-line parser in the style of Docker's (spf13/pflag): `--name value`,
 * `--name=value`, `-n value`, `-nvalue`, grouped boolean shorthands (`-qf`), `--flag=false` for
 * booleans, repeatable list flags, and `--` to end the flags. Flags and positional arguments may
 * be interleaved. Anything it does not know is a {@link UsageError}.
 */
import { checkChoice, UsageError } from "./errors.ts";

/** What a flag takes: nothing (a switch), one value (the last one given wins), or a value per use. */
export const FlagKind = {
  BOOL: "bool",
  STRING: "string",
  LIST: "list",
} as const;
/** One value of {@link FlagKind}. */
export type FlagKind = (typeof FlagKind)[keyof typeof FlagKind];

/** One flag a command accepts. */
export interface FlagSpec {
  /** The long name, without `--`. */
  name: string;
  /** A one-letter shorthand, without `-`. */
  short?: string;
  kind: FlagKind;
  /** What the value is, for the help text (`string`, `k=v`, `DIR`...); defaults to the kind. */
  valueName?: string;
  /** One line for the help text. */
  description: string;
  /** The only values allowed; anything else is refused with a message listing them. */
  choices?: readonly string[];
}

/** The flags found on a command line, read by their long names. */
export class ParsedFlags {
  readonly #values = new Map<string, string[]>();

  /** Records one occurrence of flag `name`. */
  add(name: string, value: string): void {
    const values = this.#values.get(name) ?? [];
    values.push(value);
    this.#values.set(name, values);
  }

  /** Whether the flag was given at all. */
  has(name: string): boolean {
    return this.#values.has(name);
  }

  /** A boolean flag: true when given last without `=false`. */
  bool(name: string): boolean {
    return this.string(name) === "true";
  }

  /** A single-value flag: the last value given, or undefined. */
  string(name: string): string | undefined {
    return this.#values.get(name)?.at(-1);
  }

  /** A list flag: every value given, in order. */
  list(name: string): string[] {
    return [...(this.#values.get(name) ?? [])];
  }

  /** These flags, overridden flag by flag by those of `other` (global flags given after a command win). */
  merged(other: ParsedFlags): ParsedFlags {
    const result = new ParsedFlags();
    for (const source of [this, other]) for (const [name, values] of source.#values) result.#values.set(name, [...values]);
    return result;
  }
}

/** The result of parsing: the flags, and the positional arguments in order. */
export interface ParsedArgs {
  flags: ParsedFlags;
  positionals: string[];
}

/** How {@link parseArgs} treats the first positional argument. */
export interface ParseOptions {
  /**
   * Stop at the first positional argument and return it and everything after it, unparsed, as
   * positionals: for the flags before a command name, which belong to the program, not the command.
   */
  stopAtPositional?: boolean;
}

/** Parses `argv` against `specs`; throws a {@link UsageError} for anything not allowed. */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[], options: ParseOptions = {}): ParsedArgs {
  const flags = new ParsedFlags();
  const positionals: string[] = [];
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  let i = 0;
  /** The value of a flag that takes one: `inline` if given with it, else the next argument. */
  const valueFor = (shown: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    if (i >= argv.length) throw new UsageError(`flag needs an argument: ${shown}`);
    return argv[i++]!;
  };
  const record = (spec: FlagSpec, shown: string, value: string): void => {
    if (spec.kind === FlagKind.BOOL) value = checkChoice(`value for ${shown}`, value, ["true", "false"]);
    else if (spec.choices) checkChoice(spec.name, value, spec.choices);
    flags.add(spec.name, value);
  };

  while (i < argv.length) {
    const arg = argv[i++]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const inline = eq < 0 ? undefined : arg.slice(eq + 1);
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`);
      const shown = `--${name}`;
      record(spec, shown, spec.kind === FlagKind.BOOL ? (inline ?? "true") : valueFor(shown, inline));
    } else if (arg.startsWith("-") && arg.length > 1) {
      // A group of shorthands: switches, possibly ending with one that takes a value (`-qf`, `-Hunix:///x`).
      for (let c = 1; c < arg.length; c++) {
        const letter = arg[c]!;
        const spec = byShort.get(letter);
        if (!spec) throw new UsageError(`unknown shorthand flag: '${letter}' in ${arg}`);
        const shown = `-${letter}`;
        if (spec.kind === FlagKind.BOOL) {
          record(spec, shown, "true");
          continue;
        }
        const rest = arg.slice(c + 1);
        record(spec, shown, valueFor(shown, rest === "" ? undefined : rest.replace(/^=/, "")));
        break;
      }
    } else {
      positionals.push(arg);
      if (options.stopAtPositional) {
        positionals.push(...argv.slice(i));
        break;
      }
    }
  }
  return { flags, positionals };
}

/** A label flag's `k=v` (or `k`, for an empty value) as a key and a value; a {@link UsageError} when the key is empty. */
export function parseLabel(label: string): [string, string] {
  const eq = label.indexOf("=");
  const [key, value] = eq < 0 ? [label, ""] : [label.slice(0, eq), label.slice(eq + 1)];
  if (!key) throw new UsageError(`invalid label ${JSON.stringify(label)}: the key is empty; use key=value`);
  return [key, value];
}
