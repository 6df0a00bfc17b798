// Whether every change made in this page is stored on the server: the state line's "saved" only
// when it is true, the leave-page warning while it is not.
//
// What the server is known to have stored grows from three sources, all of which come after the
// server stored what they describe (it stores every update before it relays or acknowledges it):
// - its "saved" message (type 100), sent after it stored updates this socket sent: its state
//   vector;
// - every update it relays to us (others' edits): the structs and deletions it carries;
// - every sync step 2 it sends (on connecting, and in answer to our sync step 1): its document's
//   whole delete set, and the structs we lacked.
//
// A state vector counts inserted characters only: deleting text does not move it. So the
// deletions made here are kept apart, as ranges of ids, until a delete set from the server covers
// them (after a deletion the island asks for one with a sync step 1, which the server answers
// after it stored what came before on the socket).
import * as Y from "yjs";

export class SaveState {
  /** @param {Y.Doc} doc */
  constructor(doc) {
    this.doc = doc;
    /** @type {Map<number, number>} client id -> clock the server has stored up to */
    this.stored = new Map();
    /** @type {Array<{client: number, clock: number, len: number}>} deletions made here, not yet known stored */
    this.deletions = [];
  }

  /** The state vector of the server's "saved" message. */
  serverStateVector(encoded) {
    for (const [client, clock] of Y.decodeStateVector(encoded)) this.#reach(client, clock);
  }

  /** An update the server sent (a relayed update, or a sync step 2): it holds only stored data. */
  serverUpdate(update) {
    const { structs, ds } = Y.decodeUpdate(update);
    for (const struct of structs) {
      if (!(struct instanceof Y.Skip)) this.#reach(struct.id.client, struct.id.clock + struct.length);
    }
    if (this.deletions.length === 0) return;
    for (const [client, ranges] of ds.clients) {
      this.deletions = this.deletions.flatMap((deletion) =>
        deletion.client === client ? subtract(deletion, ranges) : [deletion],
      );
    }
  }

  /** A transaction made here (typing, the toolbar): remember what it deleted. */
  localTransaction(transaction) {
    for (const [client, ranges] of transaction.deleteSet.clients) {
      for (const { clock, len } of ranges) if (len > 0) this.deletions.push({ client, clock, len });
    }
  }

  /** Whether the server has stored everything this document holds. */
  get saved() {
    if (this.deletions.length > 0) return false;
    for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(this.doc))) {
      if ((this.stored.get(client) ?? 0) < clock) return false;
    }
    return true;
  }

  /** Whether some deletion made here is not yet known to be stored. */
  get deletionsPending() {
    return this.deletions.length > 0;
  }

  #reach(client, clock) {
    if ((this.stored.get(client) ?? 0) < clock) this.stored.set(client, clock);
  }
}

// The parts of `range` ({clock, len}) that none of `covered` (a delete set's ranges of the same
// client, [{clock, len}]) covers.
export function subtract(range, covered) {
  let parts = [range];
  for (const { clock, len } of covered) {
    const end = clock + len;
    parts = parts.flatMap((part) => {
      const partEnd = part.clock + part.len;
      if (end <= part.clock || clock >= partEnd) return [part];
      const kept = [];
      if (clock > part.clock) kept.push({ ...part, len: clock - part.clock });
      if (end < partEnd) kept.push({ ...part, clock: end, len: partEnd - end });
      return kept;
    });
    if (parts.length === 0) break;
  }
  return parts;
}
