/**
 * The one generator of `proto/gen/`: reads every `.proto` file in `proto/` and writes, for each,
 * a TypeScript module with an interface per message, a const object and union type per enum,
 * and a typed codec per message. Output depends only on the `.proto` files, so it is
 * reproducible; `proto/generate.test.ts` fails when the checked-in output is stale.
 *
 * Usage: `npm run proto` (writes) or `generateAll()` (returns the files, writes nothing).
 */
import { readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

const PROTO_DIR = fileURLToPath(new URL(".", import.meta.url));
const GEN_DIR = join(PROTO_DIR, "gen");

/** Maps a protobuf scalar type to the TypeScript type the codec produces for it. */
const SCALAR_TS: Record<string, string> = {
  double: "number", float: "number",
  int32: "number", uint32: "number", sint32: "number", fixed32: "number", sfixed32: "number",
  int64: "number", uint64: "number", sint64: "number", fixed64: "number", sfixed64: "number",
  bool: "boolean", string: "string", bytes: "Uint8Array",
};

function docComment(text: string | null, indent: string): string {
  if (!text) return "";
  const lines = text.trim().split("\n").map((l) => l.trim());
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join("\n")}\n${indent} */\n`;
}

function tsTypeOf(field: protobuf.Field): string {
  const scalar = SCALAR_TS[field.type];
  const base = scalar ?? (field.resolvedType ? field.resolvedType.name : field.type);
  if (field instanceof protobuf.MapField) return `Record<string, ${base}>`;
  return field.repeated ? `${base}[]` : base;
}

function emitEnum(e: protobuf.Enum): string {
  let out = docComment(e.comment, "");
  out += `export const ${e.name} = {\n`;
  for (const [name, value] of Object.entries(e.values)) {
    out += docComment(e.comments[name] ?? null, "  ");
    out += `  ${name}: ${value},\n`;
  }
  out += `} as const;\n`;
  out += `/** One value of {@link ${e.name}}. */\n`;
  out += `export type ${e.name} = (typeof ${e.name})[keyof typeof ${e.name}];\n`;
  return out;
}

function emitMessage(t: protobuf.Type): string {
  let out = docComment(t.comment, "");
  out += `export interface ${t.name} {\n`;
  for (const field of t.fieldsArray) {
    out += docComment(field.comment, "  ");
    // Message-typed fields have presence in proto3; scalars, enums and lists always have a value.
    const isMap = field instanceof protobuf.MapField;
    const optional = field.resolvedType instanceof protobuf.Type && !field.repeated && !isMap ? "?" : "";
    out += `  ${field.name}${optional}: ${tsTypeOf(field)};\n`;
  }
  out += `}\n`;
  out += `/** Wire codec for {@link ${t.name}}. */\n`;
  out += `export const ${t.name}Codec: Codec<${t.name}> = makeCodec<${t.name}>(root, "${t.fullName.slice(1)}");\n`;
  return out;
}

/** Lower-cases the first letter: RPC `IssueCertificate` becomes method `issueCertificate`. */
function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * Emits a grpc-js service definition: for each RPC its path, streaming flags, and serializers
 * built from the message codecs.
 */
function emitService(svc: protobuf.Service): string {
  let out = docComment(svc.comment, "");
  out += `export const ${svc.name}Service = {\n`;
  for (const m of svc.methodsArray) {
    const req = m.resolvedRequestType!.name;
    const res = m.resolvedResponseType!.name;
    out += docComment(m.comment, "  ");
    out += `  ${lowerFirst(m.name)}: {\n`;
    out += `    path: "/${svc.fullName.slice(1)}/${m.name}",\n`;
    out += `    requestStream: ${Boolean(m.requestStream)},\n`;
    out += `    responseStream: ${Boolean(m.responseStream)},\n`;
    out += `    requestSerialize: (m: ${req}): Buffer => asBuffer(${req}Codec.encode(m)),\n`;
    out += `    requestDeserialize: (b: Buffer): ${req} => ${req}Codec.decode(b),\n`;
    out += `    responseSerialize: (m: ${res}): Buffer => asBuffer(${res}Codec.encode(m)),\n`;
    out += `    responseDeserialize: (b: Buffer): ${res} => ${res}Codec.decode(b),\n`;
    out += `  },\n`;
  }
  out += `} satisfies ServiceDefinition;\n`;
  return out;
}

/** Every `.proto` file of `proto/`, as paths, in name order. */
export function protoFiles(): string[] {
  return readdirSync(PROTO_DIR).filter((f) => f.endsWith(".proto")).sort().map((f) => join(PROTO_DIR, f));
}

/** `protoFile` parsed with the files it imports, resolved. */
export function parseProto(protoFile: string): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, basename(target));
  root.loadSync(protoFile, { keepCase: false, alternateCommentMode: true });
  root.resolveAll();
  return root;
}

/** The JSON descriptor of a parsed root that generated code embeds and loads with `rootFromJSON`. */
export function descriptorOf(root: protobuf.Root): protobuf.INamespace {
  return root.toJSON({ keepComments: false });
}

function generateFile(protoFile: string): string {
  const root = parseProto(protoFile);
  const types: string[] = [];
  const imported = new Map<string, Set<string>>(); // other .proto file -> type names used from it
  const importedValues = new Map<string, Set<string>>(); // other .proto file -> codecs used from it
  const note = (into: Map<string, Set<string>>, t: protobuf.ReflectionObject | null, name?: string): void => {
    if (t && t.filename && basename(t.filename) !== basename(protoFile)) {
      const from = basename(t.filename).replace(/\.proto$/, ".ts");
      if (!into.has(from)) into.set(from, new Set());
      into.get(from)!.add(name ?? t.name);
    }
  };
  const noteImport = (t: protobuf.ReflectionObject | null): void => note(imported, t);
  let hasServices = false;
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      const ours = !nested.filename || basename(nested.filename) === basename(protoFile);
      if (ours && nested instanceof protobuf.Enum) types.push(emitEnum(nested));
      else if (ours && nested instanceof protobuf.Type) {
        types.push(emitMessage(nested));
        for (const f of nested.fieldsArray) noteImport(f.resolvedType);
      } else if (ours && nested instanceof protobuf.Service) {
        hasServices = true;
        types.push(emitService(nested));
        for (const m of nested.methodsArray) {
          for (const t of [m.resolvedRequestType, m.resolvedResponseType]) {
            noteImport(t);
            note(importedValues, t, `${t!.name}Codec`);
          }
        }
      }
      if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) walk(nested);
    }
  };
  walk(root);
  const importLines = [...imported.keys()].sort().map((from) =>
    `import type { ${[...imported.get(from)!].sort().join(", ")} } from "./${from}";\n`).join("") +
    [...importedValues.keys()].sort().map((from) =>
      `import { ${[...importedValues.get(from)!].sort().join(", ")} } from "./${from}";\n`).join("") +
    (hasServices ? `import type { ServiceDefinition } from "@grpc/grpc-js";\n` : "");
  const descriptor = JSON.stringify(descriptorOf(root));
  return (
    `// Generated by \`npm run proto\` from proto/${basename(protoFile)}. Do not edit.\n` +
    `/* eslint-disable */\n` +
    `import { ${hasServices ? "asBuffer, " : ""}makeCodec, rootFromJSON } from "../codec.ts";\n` +
    `import type { Codec } from "../codec.ts";\n` +
    importLines + `\n` +
    `const root = rootFromJSON(${descriptor});\n\n` +
    types.join("\n")
  );
}

/** Generates every module; returns a map from output path to its contents. */
export function generateAll(): Map<string, string> {
  const files = new Map<string, string>();
  for (const protoFile of protoFiles()) {
    files.set(join(GEN_DIR, basename(protoFile).replace(/\.proto$/, ".ts")), generateFile(protoFile));
  }
  return files;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(GEN_DIR, { recursive: true });
  for (const [path, text] of generateAll()) {
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
}

