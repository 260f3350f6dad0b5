import assert from "node:assert/strict";
import { test } from "node:test";
import type { TestContext } from "node:test";
import http2 from "node:http2";
import { gzipSync } from "node:zlib";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import type { ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import { ControlService } from "../../../proto/gen/control.ts";
import type { CreateConfigRequest, CreateConfigResponse } from "../../../proto/gen/control.ts";
import { CertRole, newId } from "../../ca/index.ts";
import { newCluster, testBundle } from "../../ca/testing.ts";
import type { TlsBundle } from "../../ca/index.ts";
import { CLIENT_PREFACE, Flag, FrameType, H2Error, frame, settingsFrame } from "./frames.ts";
import { encodeHeaders } from "./hpack.ts";
import { percentEncode, UnaryServer } from "./unary-server.ts";
import type { UnaryMethod } from "./unary-server.ts";

const create = ControlService.createConfig;
type CreateHandler = (call: ServerUnaryCall<CreateConfigRequest, CreateConfigResponse>, callback: sendUnaryData<CreateConfigResponse>) => void;

/** Answers CreateConfig with the config it was sent. */
const echo: CreateHandler = (call, callback) => callback(null, { config: { id: "c1", spec: call.request.spec } });

interface Fixture {
  addr: string;
  port: number;
  operator: TlsBundle;
  client: grpc.Client;
  unary: UnaryServer;
}

/** A UnaryServer behind TLS with a manager's certificate, serving CreateConfig with `handler`, and a grpc-js client with an operator's certificate. */
async function serve(t: TestContext, handler: CreateHandler, clientOptions: grpc.ChannelOptions = {}): Promise<Fixture> {
  const cluster = await newCluster();
  const rootCa = cluster.rootCa!;
  const server = await testBundle(rootCa, { role: CertRole.MANAGER, nodeId: newId(), clusterId: cluster.id });
  const operator = await testBundle(rootCa, { role: CertRole.OPERATOR, operator: "ci", clusterId: cluster.id });
  const method: UnaryMethod = {
    requestDeserialize: create.requestDeserialize, responseSerialize: create.responseSerialize as (v: unknown) => Buffer,
    handler: handler as unknown as UnaryMethod["handler"],
  };
  const unary = new UnaryServer((path) => (path === create.path ? method : undefined));
  const tlsServer = tls.createServer({ key: server.keyPem, cert: server.certPem, ca: server.caCertPem, requestCert: true, rejectUnauthorized: false, ALPNProtocols: ["h2"] },
    (socket) => unary.serve(socket));
  await new Promise<void>((resolve) => tlsServer.listen(0, "127.0.0.1", resolve));
  const port = (tlsServer.address() as AddressInfo).port;
  const addr = `127.0.0.1:${port}`;
  const client = new grpc.Client(addr, grpc.credentials.createSsl(Buffer.from(operator.caCertPem), Buffer.from(operator.keyPem), Buffer.from(operator.certPem),
    { checkServerIdentity: () => undefined }), { "grpc.ssl_target_name_override": "shoal", ...clientOptions });
  t.after(() => {
    client.close();
    unary.close();
    tlsServer.close();
  });
  return { addr, port, operator, client, unary };
}

/** CreateConfig through `client`. */
function callCreate(client: grpc.Client, req: CreateConfigRequest, metadata = new grpc.Metadata(), deadlineMs = 10_000): Promise<CreateConfigResponse> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(create.path, create.requestSerialize, create.responseDeserialize, req, metadata, { deadline: Date.now() + deadlineMs },
      (err: grpc.ServiceError | null, res?: CreateConfigResponse) => (err ? reject(err) : resolve(res!)));
  });
}

const spec = (name: string, data = Buffer.from("data")): CreateConfigRequest => ({ spec: { annotations: { name, labels: {} }, data } });

/** A raw HTTP/2 client over TLS with `bundle`'s certificate: what the server sends back, frame by frame. */
async function rawConnection(f: Fixture): Promise<{ socket: tls.TLSSocket; frames: { type: number; flags: number; streamId: number; payload: Buffer }[]; closed: Promise<void> }> {
  const socket = tls.connect({ host: "127.0.0.1", port: f.port, ca: f.operator.caCertPem, cert: f.operator.certPem, key: f.operator.keyPem, ALPNProtocols: ["h2"], checkServerIdentity: () => undefined });
  await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
  const frames: { type: number; flags: number; streamId: number; payload: Buffer }[] = [];
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      frames.push({ type: pending[3]!, flags: pending[4]!, streamId: pending.readUInt32BE(5) & 0x7fffffff, payload: pending.subarray(9, 9 + length) });
      pending = pending.subarray(9 + length);
    }
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => undefined);
  return { socket, frames, closed };
}

/** The GOAWAY among `frames`: its code and debug text. */
function goAway(frames: { type: number; payload: Buffer }[]): { code: number; debug: string } | undefined {
  const f = frames.find((x) => x.type === FrameType.GOAWAY);
  return f && { code: f.payload.readUInt32BE(4), debug: f.payload.subarray(8).toString("utf8") };
}

test("grpc-js calls are answered, and the handler sees the request, the caller's metadata, the path and its certificate", async (t) => {
  let seen: { path: string; trace: unknown[]; bin: unknown[]; role: unknown; hasSocket: boolean } | undefined;
  const f = await serve(t, (call, callback) => {
    seen = {
      path: call.getPath(), trace: call.metadata.get("x-trace"), bin: call.metadata.get("x-blob-bin"),
      role: call.getAuthContext().sslPeerCertificate?.subject.OU, hasSocket: "tlsSocket" in call,
    };
    echo(call, callback);
  });
  const md = new grpc.Metadata();
  md.set("x-trace", "abc");
  md.set("x-blob-bin", Buffer.from([0, 1, 255]));
  const res = await callCreate(f.client, spec("one", Buffer.from("hello")), md);
  assert.equal(res.config?.spec?.annotations?.name, "one");
  assert.equal(Buffer.from(res.config!.spec!.data).toString(), "hello");
  assert.deepEqual(seen, { path: create.path, trace: ["abc"], bin: [Buffer.from([0, 1, 255])], role: "operator", hasSocket: true });
  // The same connection serves the calls that follow.
  for (let i = 0; i < 20; i++) assert.equal((await callCreate(f.client, spec(`n${i}`))).config?.spec?.annotations?.name, `n${i}`);
});

test("an error's code and message reach the caller, with characters the protocol must percent-encode", async (t) => {
  const message = "naïve 100% sure\r\nsecond line ✓";
  const f = await serve(t, (_call, callback) => callback({ code: grpc.status.FAILED_PRECONDITION, details: message }));
  await assert.rejects(callCreate(f.client, spec("x")), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(err.details, message);
    return true;
  });
  assert.equal(percentEncode("a%b é"), "a%25b %C3%A9");
  assert.equal(percentEncode("plain text"), "plain text");
});

test("requests compressed with gzip or deflate, as grpc-js's clients can send them, are answered", async (t) => {
  for (const algorithm of [1, 2]) { // grpc-js: 1 deflate, 2 gzip
    const f = await serve(t, echo, { "grpc.default_compression_algorithm": algorithm });
    const data = Buffer.alloc(100_000, 3);
    const res = await callCreate(f.client, spec(`z${algorithm}`, data));
    assert.ok(Buffer.from(res.config!.spec!.data).equals(data));
  }
});

test("a method the server does not have is UNIMPLEMENTED and named", async (t) => {
  const f = await serve(t, echo);
  const get = ControlService.getConfig;
  await assert.rejects(new Promise((resolve, reject) => f.client.makeUnaryRequest(get.path, get.requestSerialize, get.responseDeserialize, { config: "x" },
    (err: grpc.ServiceError | null, res?: unknown) => (err ? reject(err) : resolve(res)))), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.UNIMPLEMENTED);
    assert.match(err.details, /does not implement the method \/shoal\.control\.Control\/GetConfig/);
    return true;
  });
});

test("requests and answers of 3 MB cross the flow-control windows both ways", async (t) => {
  const f = await serve(t, echo);
  const big = Buffer.alloc(3 * 1024 * 1024, 7);
  big[12345] = 1;
  const results = await Promise.all([0, 1, 2].map((i) => callCreate(f.client, spec(`big${i}`, big))));
  for (const res of results) assert.ok(Buffer.from(res.config!.spec!.data).equals(big));
});

test("an answer larger than the client's windows waits for them: a client of 64 KB windows that reads slowly gets all of it", async (t) => {
  const f = await serve(t, echo);
  const session = http2.connect(`https://${f.addr}`, {
    ca: f.operator.caCertPem, cert: f.operator.certPem, key: f.operator.keyPem, checkServerIdentity: () => undefined,
    settings: { initialWindowSize: 65_535 },
  });
  t.after(() => session.destroy());
  const data = Buffer.alloc(2 * 1024 * 1024, 5);
  const message = create.requestSerialize(spec("slow-reader", data));
  const body = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), message]);
  body.writeUInt32BE(message.length, 1);
  const stream = session.request({ ":method": "POST", ":path": create.path, "content-type": "application/grpc", te: "trailers" });
  const chunks: Buffer[] = [];
  let trailers: http2.IncomingHttpHeaders = {};
  stream.on("trailers", (h) => void (trailers = h));
  const ended = new Promise<void>((resolve, reject) => {
    stream.on("end", resolve).on("error", reject).on("close", () => reject(new Error(`closed with code ${stream.rstCode}`)));
  });
  stream.on("data", (c: Buffer) => {
    chunks.push(c);
    stream.pause(); // the client's window stays spent a while
    setTimeout(() => stream.resume(), 2);
  });
  stream.end(body);
  await ended;
  assert.equal(trailers["grpc-status"], "0");
  const answer = Buffer.concat(chunks);
  const decoded = create.responseDeserialize(answer.subarray(5));
  assert.equal(answer.readUInt32BE(1), answer.length - 5);
  assert.ok(Buffer.from(decoded.config!.spec!.data).equals(data));
});

test("a request above 4 MB is refused with RESOURCE_EXHAUSTED, and the connection goes on serving", async (t) => {
  let handled = 0;
  const f = await serve(t, (call, callback) => {
    handled++;
    echo(call, callback);
  }, { "grpc.max_send_message_length": -1 });
  await assert.rejects(callCreate(f.client, spec("huge", Buffer.alloc(5 * 1024 * 1024))), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(err.details, /larger than the server accepts/);
    return true;
  });
  assert.equal(handled, 0);
  assert.equal((await callCreate(f.client, spec("after"))).config?.spec?.annotations?.name, "after");
});

test("500 calls at once, answered in any order, all get their own answer", async (t) => {
  const f = await serve(t, (call, callback) => void setTimeout(() => echo(call, callback), Math.random() * 20));
  const names = Array.from({ length: 500 }, (_, i) => `c${i}`);
  const answers = await Promise.all(names.map((n) => callCreate(f.client, spec(n))));
  assert.deepEqual(answers.map((a) => a.config?.spec?.annotations?.name), names);
});

test("a deadline that passes ends the call with DEADLINE_EXCEEDED from the server; the handler's late answer is dropped", async (t) => {
  const late: sendUnaryData<CreateConfigResponse>[] = [];
  const f = await serve(t, (call, callback) => {
    if (call.request.spec?.annotations?.name === "slow") late.push(callback);
    else echo(call, callback);
  });
  // Node's own client: it keeps no timer of its own, so the status must come from the server.
  const session = http2.connect(`https://${f.addr}`, {
    ca: f.operator.caCertPem, cert: f.operator.certPem, key: f.operator.keyPem, checkServerIdentity: () => undefined,
  });
  t.after(() => session.destroy());
  const message = create.requestSerialize(spec("slow"));
  const body = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), message]);
  body.writeUInt32BE(message.length, 1);
  const stream = session.request({ ":method": "POST", ":path": create.path, "content-type": "application/grpc", te: "trailers", "grpc-timeout": "100m" });
  const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
    stream.on("response", resolve).on("error", reject);
    stream.end(body);
  });
  assert.equal(headers["grpc-status"], String(grpc.status.DEADLINE_EXCEEDED));
  assert.equal(late.length, 1);
  late[0]!(null, { config: { id: "late" } }); // dropped: the stream is over
  assert.equal((await callCreate(f.client, spec("fine"))).config?.spec?.annotations?.name, "fine");
});

test("a call the client cancels is marked cancelled for its handler", async (t) => {
  let pending: ServerUnaryCall<CreateConfigRequest, CreateConfigResponse> | undefined;
  const f = await serve(t, (call) => void (pending = call));
  const md = new grpc.Metadata();
  const call = f.client.makeUnaryRequest(create.path, create.requestSerialize, create.responseDeserialize, spec("x"), md, () => undefined);
  while (!pending) await new Promise((r) => setTimeout(r, 5));
  assert.equal(pending.cancelled, false);
  call.cancel();
  const deadline = Date.now() + 5_000;
  while (!pending.cancelled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(pending.cancelled, true);
});

test("a request that is not gRPC gets HTTP 415; a message compressed in an unknown way, framed wrongly or inflating beyond 4 MB gets a status saying so", async (t) => {
  const f = await serve(t, echo);
  const session = http2.connect(`https://${f.addr}`, { ca: f.operator.caCertPem, cert: f.operator.certPem, key: f.operator.keyPem, checkServerIdentity: () => undefined });
  t.after(() => session.destroy());
  const ask = (headers: http2.OutgoingHttpHeaders, body: Buffer): Promise<http2.IncomingHttpHeaders> => new Promise((resolve, reject) => {
    const s = session.request(headers);
    s.on("response", resolve).on("error", reject);
    s.end(body);
  });
  const plain = await ask({ ":method": "POST", ":path": create.path, "content-type": "application/json" }, Buffer.from("{}"));
  assert.equal(plain[":status"], 415);
  const brotli = await ask({ ":method": "POST", ":path": create.path, "content-type": "application/grpc", "grpc-encoding": "br" }, Buffer.from([1, 0, 0, 0, 0]));
  assert.equal(brotli["grpc-status"], String(grpc.status.UNIMPLEMENTED));
  assert.match(String(brotli["grpc-message"]), /compressed with br are not supported: send them with gzip, deflate or uncompressed/);
  const unsaid = await ask({ ":method": "POST", ":path": create.path, "content-type": "application/grpc" }, Buffer.from([1, 0, 0, 0, 0]));
  assert.equal(unsaid["grpc-status"], String(grpc.status.INTERNAL));
  assert.match(String(unsaid["grpc-message"]), /compressed message without grpc-encoding/);
  const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
  const framed = Buffer.concat([Buffer.from([1, 0, 0, 0, 0]), bomb]);
  framed.writeUInt32BE(bomb.length, 1);
  const inflated = await ask({ ":method": "POST", ":path": create.path, "content-type": "application/grpc", "grpc-encoding": "gzip" }, framed);
  assert.equal(inflated["grpc-status"], String(grpc.status.RESOURCE_EXHAUSTED));
  assert.match(String(inflated["grpc-message"]), /larger than the server accepts \(4 MB\) once decompressed/);
  const tooLong = await ask({ ":method": "POST", ":path": create.path, "content-type": "application/grpc" }, Buffer.from([0, 0, 0, 0, 9, 1]));
  assert.equal(tooLong["grpc-status"], String(grpc.status.INTERNAL));
  assert.match(String(tooLong["grpc-message"]), /one request message of 9 bytes; the request carried 1/);
  const headerList = await ask({ ":method": "POST", ":path": create.path, "content-type": "application/grpc", "x-big": "v".repeat(20_000) }, Buffer.from([0, 0, 0, 0, 0]));
  assert.equal(headerList["grpc-status"], String(grpc.status.RESOURCE_EXHAUSTED));
  assert.match(String(headerList["grpc-message"]), /metadata is larger than the server accepts/);
});

/** Malformed connections: the bytes sent after the preface, and the GOAWAY expected. */
const MALFORMED: { name: string; bytes: () => Buffer; code: number; debug: RegExp }[] = [
  { name: "not HTTP/2 at all", bytes: () => Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), code: H2Error.PROTOCOL_ERROR, debug: /did not start with the HTTP\/2 preface/ },
  { name: "a frame before SETTINGS", bytes: () => Buffer.concat([CLIENT_PREFACE, frame(FrameType.PING, 0, 0, Buffer.alloc(8))]), code: H2Error.PROTOCOL_ERROR, debug: /first frame must be SETTINGS/ },
  { name: "DATA on stream 0", bytes: () => Buffer.concat([CLIENT_PREFACE, settingsFrame([]), frame(FrameType.DATA, 0, 0, Buffer.from("x"))]), code: H2Error.PROTOCOL_ERROR, debug: /DATA on stream 0/ },
  {
    name: "a frame longer than allowed", code: H2Error.FRAME_SIZE_ERROR, debug: /20000 bytes is longer than the 16384 allowed/,
    bytes: () => Buffer.concat([CLIENT_PREFACE, settingsFrame([]), frame(FrameType.DATA, 0, 1, Buffer.alloc(20_000))]),
  },
  {
    name: "a header block HPACK cannot decode", code: H2Error.COMPRESSION_ERROR, debug: /could not be decoded/,
    bytes: () => Buffer.concat([CLIENT_PREFACE, settingsFrame([]), frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))]),
  },
  {
    name: "HEADERS on a server's (even) stream id", code: H2Error.PROTOCOL_ERROR, debug: /HEADERS on stream 2/,
    bytes: () => Buffer.concat([CLIENT_PREFACE, settingsFrame([]), frame(FrameType.HEADERS, Flag.END_HEADERS, 2, encodeHeaders([":path", "/"]))]),
  },
  {
    name: "a header block interrupted", code: H2Error.PROTOCOL_ERROR, debug: /interrupted by another frame/,
    bytes: () => Buffer.concat([CLIENT_PREFACE, settingsFrame([]), frame(FrameType.HEADERS, 0, 1, encodeHeaders([":path", "/"])), frame(FrameType.PING, 0, 0, Buffer.alloc(8))]),
  },
  {
    name: "a window beyond 2^31-1", code: H2Error.FLOW_CONTROL_ERROR, debug: /window above 2\^31-1/,
    bytes: () => Buffer.concat([CLIENT_PREFACE, settingsFrame([]), frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff]))]),
  },
];

for (const m of MALFORMED) {
  test(`a connection that sends ${m.name} is ended with GOAWAY saying so; other connections go on`, async (t) => {
    const f = await serve(t, echo);
    const raw = await rawConnection(f);
    raw.socket.write(m.bytes());
    await raw.closed;
    const away = goAway(raw.frames);
    assert.ok(away, "a GOAWAY was sent before the connection closed");
    assert.equal(away.code, m.code);
    assert.match(away.debug, m.debug);
    assert.equal((await callCreate(f.client, spec("still"))).config?.spec?.annotations?.name, "still");
  });
}

test("metadata with a key gRPC does not allow is left out, and the call is answered", async (t) => {
  let seen: unknown;
  const f = await serve(t, (call, callback) => {
    seen = call.metadata.getMap();
    echo(call, callback);
  });
  const raw = await rawConnection(f);
  t.after(() => raw.socket.destroy());
  const message = create.requestSerialize(spec("odd-metadata"));
  const body = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), message]);
  body.writeUInt32BE(message.length, 1);
  const headers = encodeHeaders([":method", "POST", ":scheme", "https", ":path", create.path, "content-type", "application/grpc", "x@y", "1", "x-ok", "2"]);
  raw.socket.write(Buffer.concat([CLIENT_PREFACE, settingsFrame([]), frame(FrameType.HEADERS, Flag.END_HEADERS, 1, headers), frame(FrameType.DATA, Flag.END_STREAM, 1, body)]));
  const deadline = Date.now() + 5_000;
  while (!raw.frames.some((x) => x.type === FrameType.HEADERS && x.streamId === 1 && (x.flags & Flag.END_STREAM)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(goAway(raw.frames), undefined);
  assert.deepEqual(raw.frames.filter((x) => x.streamId === 1).map((x) => x.type), [FrameType.HEADERS, FrameType.DATA, FrameType.HEADERS]);
  assert.deepEqual(seen, { "x-ok": "2" });
});

test("a PING is answered, and SETTINGS are acknowledged", async (t) => {
  const f = await serve(t, echo);
  const raw = await rawConnection(f);
  t.after(() => raw.socket.destroy());
  raw.socket.write(Buffer.concat([CLIENT_PREFACE, settingsFrame([]), frame(FrameType.PING, 0, 0, Buffer.from("12345678"))]));
  const deadline = Date.now() + 5_000;
  while (!raw.frames.some((x) => x.type === FrameType.PING) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const ping = raw.frames.find((x) => x.type === FrameType.PING);
  assert.ok(ping);
  assert.equal(ping.flags & Flag.ACK, Flag.ACK);
  assert.equal(ping.payload.toString(), "12345678");
  assert.ok(raw.frames.some((x) => x.type === FrameType.SETTINGS && (x.flags & Flag.ACK) !== 0), "the client's SETTINGS were acknowledged");
  assert.ok(raw.frames.some((x) => x.type === FrameType.SETTINGS && (x.flags & Flag.ACK) === 0), "the server sent its own SETTINGS");
});
