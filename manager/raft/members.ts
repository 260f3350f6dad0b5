/**
 * Who is in the Raft group and where: the replicated list of members (raft id, node id, address)
 * and of removed raft ids, which are never let back in. It changes only by applying membership
 * entries (whose context carries the member) and by restoring snapshots, so every manager holds
 * the same list at the same index.
 */
import type { ConfChange } from "../../proto/gen/raft.ts";
import { ConfChangeType } from "../../proto/gen/raft.ts";
import type { RaftMember, RaftSnapshotData } from "../../proto/gen/raftrpc.ts";
import { RaftMemberCodec, RaftSnapshotDataCodec } from "../../proto/gen/raftrpc.ts";
import { appendBytesField, bytesFieldHeader } from "../../proto/codec.ts";

/** The field number of `state` in RaftSnapshotData (proto/raftrpc.proto). */
const RAFT_SNAPSHOT_STATE_FIELD = 3;

/** The members of the Raft group and the ids removed from it. */
export class Members {
  private readonly byId = new Map<number, RaftMember>();
  private readonly removedIds = new Set<number>();

  /** Every current member. */
  list(): RaftMember[] {
    return [...this.byId.values()].sort((a, b) => a.raftId - b.raftId);
  }

  /** The member with raft id `raftId`. */
  get(raftId: number): RaftMember | undefined {
    return this.byId.get(raftId);
  }

  /** The member on node `nodeId`. */
  byNodeId(nodeId: string): RaftMember | undefined {
    for (const m of this.byId.values()) if (m.nodeId === nodeId) return m;
    return undefined;
  }

  /** Whether `raftId` was removed (and so may never take part again). */
  isRemoved(raftId: number): boolean {
    return this.removedIds.has(raftId);
  }

  /** Adds or updates a member (used at bootstrap). */
  set(member: RaftMember): void {
    this.byId.set(member.raftId, { ...member });
  }

  /** Applies a committed membership change. */
  apply(cc: ConfChange): void {
    if (cc.type === ConfChangeType.CONF_CHANGE_REMOVE_NODE) {
      this.byId.delete(cc.nodeId);
      this.removedIds.add(cc.nodeId);
      return;
    }
    if (cc.context.byteLength > 0) {
      const member = RaftMemberCodec.decode(cc.context);
      this.byId.set(cc.nodeId, { ...member, raftId: cc.nodeId });
    }
  }

  /** Wraps the application's state with the membership, for a Raft snapshot. */
  wrapSnapshot(state: Uint8Array): Uint8Array {
    return appendBytesField(this.encodedWithoutState(), RAFT_SNAPSHOT_STATE_FIELD, state);
  }

  /**
   * Captures the membership now, as the bytes that go before a state of a given length taken
   * at the same moment: the snapshot is those bytes and the state's, one after the other
   * (the state written straight after them, without being copied).
   */
  snapshotPrefix(): (stateLength: number) => Uint8Array {
    const rest = this.encodedWithoutState();
    return (stateLength) => bytesFieldHeader(rest, RAFT_SNAPSHOT_STATE_FIELD, stateLength);
  }

  /** The membership as a RaftSnapshotData without its state field. */
  private encodedWithoutState(): Uint8Array {
    const members = this.list();
    const removed = [...this.removedIds].sort((a, b) => a - b);
    return RaftSnapshotDataCodec.encode({ members, removed } as Omit<RaftSnapshotData, "state"> as RaftSnapshotData);
  }

  /** Restores the membership from a snapshot and returns the application's state in it. */
  restoreSnapshot(data: Uint8Array): Uint8Array {
    const snap: RaftSnapshotData = RaftSnapshotDataCodec.decode(data);
    this.byId.clear();
    this.removedIds.clear();
    for (const m of snap.members) this.byId.set(m.raftId, m);
    for (const id of snap.removed) this.removedIds.add(id);
    return snap.state;
  }

  /** Forgets every member but `keep` and marks the others removed (forcing a new cluster). */
  keepOnly(keep: number): void {
    for (const id of [...this.byId.keys()]) {
      if (id === keep) continue;
      this.byId.delete(id);
      this.removedIds.add(id);
    }
  }
}
