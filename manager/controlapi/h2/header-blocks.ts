/**
 * Header blocks as HTTP/2 carries them (RFC 9113 §4.3): a HEADERS frame, without its padding and
 * priority fields, and the CONTINUATION frames that follow it on the same stream, handed over
 * whole with the HEADERS frame's flags. For both sides of a connection (connection.ts, and the
 * load generator's client in test/bench/h2-client.ts).
 */
import { Flag, H2ConnectionError, H2Error } from "./frames.ts";

/** Receives each header block once it is whole. */
export type HeaderBlockSink = (streamId: number, flags: number, block: Buffer) => void;

/** Puts one connection's header blocks together. */
export class HeaderBlocks {
  private pending: { streamId: number; flags: number; parts: Buffer[]; bytes: number } | undefined;

  /** Hands whole blocks to `onBlock`; a block longer than `maxBytes` (encoded) ends the connection. */
  constructor(private readonly maxBytes: number, private readonly onBlock: HeaderBlockSink) {}

  /** Whether a block waits for CONTINUATION frames (no other frame may come meanwhile). */
  get open(): boolean {
    return this.pending !== undefined;
  }

  /** A HEADERS frame. Throws an {@link H2ConnectionError} when its padding does not fit. */
  headers(flags: number, streamId: number, payload: Buffer): void {
    let start = 0;
    let end = payload.length;
    if (flags & Flag.PADDED) {
      if (payload.length < 1) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, "a padded HEADERS frame without its pad length");
      end -= payload[0]!;
      start = 1;
    }
    if (flags & Flag.PRIORITY) start += 5;
    if (end < start) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "HEADERS padding longer than the frame");
    const fragment = payload.subarray(start, end);
    if (flags & Flag.END_HEADERS) this.onBlock(streamId, flags, fragment);
    else this.pending = { streamId, flags, parts: [fragment], bytes: fragment.length };
  }

  /** A CONTINUATION frame. Throws an {@link H2ConnectionError} when no block of its stream waits, or the block grows too long. */
  continuation(flags: number, streamId: number, payload: Buffer): void {
    const p = this.pending;
    if (!p || p.streamId !== streamId) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "CONTINUATION without the HEADERS it continues");
    p.bytes += payload.length;
    if (p.bytes > this.maxBytes) throw new H2ConnectionError(H2Error.ENHANCE_YOUR_CALM, `a header block longer than ${this.maxBytes} bytes`);
    p.parts.push(payload);
    if (!(flags & Flag.END_HEADERS)) return;
    this.pending = undefined;
    this.onBlock(streamId, p.flags, Buffer.concat(p.parts));
  }
}
