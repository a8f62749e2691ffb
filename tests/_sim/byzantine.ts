/**
 * A Byzantine validator: holds a genuine genesis key (so its own vertices
 * verify, and its votes count as its own) and uses it against the protocol:
 * equivocating vertices, votes for both sides of a conflict, votes steering
 * each querier away from its preference, withheld votes, votes of garbage ids,
 * votes claiming to be another validator's, replayed votes, and malformed
 * vertices.
 */
import {
  createReferenceCodec,
  type Hasher,
  type SignedVertex,
  type Signer,
  type Verifier,
  type Vote,
} from "../../src/engine/mod.ts";
import type { TxInput } from "../../src/consensus/mod.ts";
import type { SimEndpoint, SimNetwork } from "./network.ts";
import type { SimRng } from "./rng.ts";

export type VoteAttack =
  | "withhold"
  | "both"
  | "opposite"
  | "garbage"
  | "impersonate"
  | "replay"
  | "empty";

export const ALL_VOTE_ATTACKS: readonly VoteAttack[] = [
  "withhold",
  "both",
  "opposite",
  "garbage",
  "impersonate",
  "replay",
  "empty",
];

/** What the adversary may learn about an honest node: its current vote in a conflict set. */
export type PreferencePeek = (validator: string, conflictKey: string) => string | null;

const COLLECTED_VOTES_MAX = 32;
const FRONTIER_MAX = 64;

export class ByzantineNode implements SimEndpoint {
  readonly #known = new Map<string, SignedVertex>();
  /** Conflict key -> tx id -> a vertex carrying it. */
  readonly #byKey = new Map<string, Map<string, string>>();
  readonly #collected: Vote[] = [];
  #nextRequestId = 1;

  constructor(
    readonly id: string,
    readonly network: SimNetwork,
    readonly signer: Signer,
    readonly outsider: Signer,
    readonly verifier: Verifier,
    readonly hasher: Hasher,
    readonly rng: SimRng,
    readonly honest: readonly string[],
    readonly peek: PreferencePeek,
    readonly attacks: readonly VoteAttack[],
    /** Registers a transaction with the simulation's safety checker. */
    readonly registerTx: (tx: TxInput) => void,
  ) {}

  /** Builds and signs a vertex as `signer`, whatever its contents. */
  makeVertex(parents: readonly string[], txs: readonly TxInput[], signer = this.signer): SignedVertex {
    const body = {
      author: signer.validatorId,
      parents: [...parents],
      txs,
      timestampMs: Math.floor(this.network.scheduler.nowMs()),
    };
    return createReferenceCodec(signer, this.verifier, this.hasher).build(body);
  }

  /**
   * Two conflicting transactions in two validly signed vertices, each shown
   * to a different half of the honest validators, plus a transaction that
   * depends on the first side.
   */
  equivocate(label: string): void {
    const key = `${this.id}-${label}`;
    const a: TxInput = { id: this.#txId(`${key}/a`), conflictKey: `${key}:0`, deps: [] };
    const b: TxInput = { id: this.#txId(`${key}/b`), conflictKey: `${key}:0`, deps: [] };
    const c: TxInput = { id: this.#txId(`${key}/c`), conflictKey: `${key}:1`, deps: [a.id] };
    for (const t of [a, b, c]) this.registerTx(t);
    const parents = this.#someParents();
    const x = this.makeVertex(parents, [a]);
    const y = this.makeVertex(parents, [b]);
    const z = this.makeVertex([x.id], [c]);
    for (const v of [x, y, z]) this.#remember(v);
    const shuffled = [...this.honest];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = this.rng.nextInt(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const half = Math.max(1, Math.floor(shuffled.length / 2));
    shuffled.forEach((h, i) => {
      const send = i < half ? [x, z] : [y];
      this.network.deliver(this.id, h, (e) => e.onVertices(this.id, send));
    });
  }

  /** Vertices that must all be refused; each counts in some engine statistic. */
  sendMalformed(): void {
    const txs: TxInput[] = [{ id: this.#txId(`junk/${this.rng.nextU32()}`), conflictKey: "junk:0", deps: [] }];
    const good = this.makeVertex([], txs);
    const badSignature = { ...good, signature: this.rng.bytes(good.signature.length) };
    const unknownAuthor = this.makeVertex([], txs, this.outsider);
    const wrongId = { ...good, id: good.id.replace(/^./, (ch) => (ch === "0" ? "1" : "0")) };
    const target = this.rng.pick(this.honest);
    this.network.deliver(this.id, target, (e) => e.onVertices(this.id, [badSignature, unknownAuthor, wrongId]));
  }

  /** Queries an honest validator to collect genuine votes to replay later. */
  probe(): void {
    const target = this.rng.pick(this.honest);
    const requestId = this.#nextRequestId++;
    this.network.deliver(this.id, target, (e) => e.onQuery(this.id, requestId, []));
  }

  onVertices(_from: string, vertices: readonly SignedVertex[]): void {
    for (const v of vertices) this.#remember(v);
  }

  onGetVertices(from: string, ids: readonly string[]): void {
    const found = ids.map((id) => this.#known.get(id)).filter((v): v is SignedVertex => v !== undefined);
    if (found.length > 0) this.network.deliver(this.id, from, (e) => e.onVertices(this.id, found));
  }

  onQuery(from: string, requestId: number, _frontier: readonly string[]): void {
    const attack = this.rng.pick(this.attacks);
    const respond = (vote: Vote) => this.network.deliver(this.id, from, (e) => e.onVotes(this.id, vote));
    const signed = (frontier: readonly string[]): Vote => ({
      querier: from,
      requestId,
      responder: this.id,
      frontier: [...frontier].sort(),
    });
    switch (attack) {
      case "withhold":
        return;
      case "empty":
        return respond(signed([]));
      case "both":
        return respond(signed(this.#allSides()));
      case "opposite":
        return respond(signed(this.#opposite(from)));
      case "garbage":
        // Ids nobody made: they support nothing, and the querier asks for them in vain.
        return respond(signed(Array.from({ length: 8 }, () => this.#txId(`garbage/${this.rng.nextU32()}`))));
      case "impersonate":
        // Claims to be an honest validator the querier may have asked.
        return respond({ ...signed(this.#opposite(from)), responder: this.rng.pick(this.honest) });
      case "replay": {
        const old = this.#collected.length > 0 ? this.rng.pick(this.#collected) : null;
        if (old === null) return respond(signed(this.#allSides()));
        // An honest validator's vote, as it was (for another querier) or re-addressed to this query.
        return respond(this.rng.chance(0.5) ? old : { ...old, querier: from, requestId });
      }
    }
  }

  onVotes(_from: string, vote: Vote): void {
    if (this.#collected.length >= COLLECTED_VOTES_MAX) this.#collected.shift();
    this.#collected.push(vote);
  }

  onQueryFailed(_from: string, _requestId: number): void {}

  onFrontier(from: string, frontier: readonly string[], _replyWanted: boolean): void {
    const unknown = frontier.filter((id) => !this.#known.has(id));
    if (unknown.length > 0) this.network.deliver(this.id, from, (e) => e.onGetVertices(this.id, unknown));
  }

  #remember(v: SignedVertex): void {
    if (this.#known.has(v.id)) return;
    this.#known.set(v.id, v);
    for (const tx of v.txs) {
      let members = this.#byKey.get(tx.conflictKey);
      if (members === undefined) this.#byKey.set(tx.conflictKey, members = new Map());
      if (!members.has(tx.id)) members.set(tx.id, v.id);
    }
  }

  #someParents(): string[] {
    const ids = [...this.#known.keys()];
    const out = new Set<string>();
    for (let i = 0; i < 2 && ids.length > 0; i++) out.add(this.rng.pick(ids));
    return [...out].sort();
  }

  /** A vertex for every member of every contested conflict set. */
  #allSides(): string[] {
    const out = new Set<string>();
    for (const members of this.#byKey.values()) {
      if (members.size > 1) { for (const v of members.values()) out.add(v); }
    }
    return [...out].sort().slice(0, FRONTIER_MAX);
  }

  /** For one contested set, a vertex carrying a member the querier does not prefer. */
  #opposite(querier: string): string[] {
    const contested = [...this.#byKey].filter(([, members]) => members.size > 1)
      .sort((p, q) => (p[0] < q[0] ? -1 : 1));
    if (contested.length === 0) return [];
    const [key, members] = this.rng.pick(contested);
    const preferred = this.peek(querier, key);
    for (const [txId, vertexId] of [...members].sort((p, q) => (p[0] < q[0] ? -1 : 1))) {
      if (txId !== preferred) return [vertexId];
    }
    return [];
  }

  #txId(label: string): string {
    return this.hasher.idOf(new TextEncoder().encode(`tx/${label}`));
  }
}
