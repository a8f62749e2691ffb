/**
 * The "qudag/p2p/v1" handshake: mutual authentication with the validators'
 * ML-DSA-87 identity keys, a hybrid X25519 + ML-KEM-768 key exchange, and an
 * optional shared token (PEER_AUTH_TOKEN). No I/O, no timers: the transport feeds
 * frames in and sends what comes out; randomness comes from `ctx.random`.
 *
 * Messages (layouts in frame.ts):
 * 1. hello, I -> R: version, chain id, I's validator id, ephemeral X25519 public
 *    key, ephemeral ML-KEM-768 encapsulation key, 32-byte nonce.
 * 2. reply, R -> I: R's validator id, ephemeral X25519 public key, ML-KEM
 *    ciphertext to I's key, nonce, R's ML-DSA-87 signature over
 *    "qudag/p2p/v1/sig/responder" || th.
 * 3. finish, I -> R: I's ML-DSA-87 signature over "qudag/p2p/v1/sig/initiator" || th,
 *    and I's token MAC.
 * 4. confirm, R -> I: the first encrypted frame (R -> I key, counter 0) holding R's
 *    token MAC; it also proves R derived the same keys.
 *
 * th = SHA-256("qudag/p2p/v1/transcript" || hello || reply without signature):
 * every field of both sides, both identities, both ephemerals and both nonces,
 * so a signature cannot be replayed into another session or reflected back.
 *
 * Key schedule (HKDF-SHA-256, WebCrypto):
 *   okm = HKDF(ikm = x25519Shared || mlKemShared, salt = th, info = "qudag/p2p/v1/keys", 96 bytes)
 *   keyI2R = okm[0..32], keyR2I = okm[32..64], tokenKey = okm[64..96]
 *   macKey = HMAC-SHA-256(tokenKey, "qudag/p2p/v1/token" || 0x00 || token)   (token empty when unset)
 *   macI = HMAC(macKey, "qudag/p2p/v1/token-mac/initiator"), macR likewise with "responder"
 * The session stays secret while either X25519 or ML-KEM-768 holds: HKDF-Extract
 * is a PRF keyed by the salt and a randomness extractor over the concatenation,
 * and the salt binds both public shares and the ciphertext.
 *
 * Why the token MACs are where they are: the token proof never leaves before the
 * peer is authenticated by signature (I sends macI only after checking R's
 * signature; R sends macR only after checking I's signature and macI), and it is
 * keyed by session secrets, so an eavesdropper gets nothing to guess the token
 * against. The listener therefore checks the token first and is the one that
 * refuses a peer with a wrong or missing token. A peer holding a genesis validator
 * key can still test token guesses offline, so the token must be high-entropy
 * (32 random bytes, hex).
 */

import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes } from "../bytes.ts";
import type { CryptoBackend, MlDsaSigner, MlDsaVerifier } from "../crypto/backend.ts";
import { fromHex, keyIdOf, toHex } from "../keys/mod.ts";
import {
  CHAIN_ID_BYTES,
  decodeFinish,
  decodeHello,
  decodeReply,
  encodeFinish,
  encodeHello,
  encodeReply,
  encodeReplyCore,
  FrameError,
  PROTOCOL_VERSION,
  TOKEN_MAC_BYTES,
} from "./frame.ts";

const te = new TextEncoder();
const DOMAIN_TRANSCRIPT = te.encode("qudag/p2p/v1/transcript");
const DOMAIN_SIG_INITIATOR = te.encode("qudag/p2p/v1/sig/initiator");
const DOMAIN_SIG_RESPONDER = te.encode("qudag/p2p/v1/sig/responder");
const DOMAIN_KEYS = te.encode("qudag/p2p/v1/keys");
const DOMAIN_TOKEN = te.encode("qudag/p2p/v1/token");
const DOMAIN_MAC_INITIATOR = te.encode("qudag/p2p/v1/token-mac/initiator");
const DOMAIN_MAC_RESPONDER = te.encode("qudag/p2p/v1/token-mac/responder");

const ML_KEM_LEVEL = 768;
const SESSION_KEY_BYTES = 32;
/** The DER prefix that turns a raw 32-byte X25519 private key into PKCS#8 (RFC 8410). */
const X25519_PKCS8_PREFIX = Uint8Array.fromHex("302e020100300506032b656e04220420");

/**
 * Why a handshake (or an inbound connection before it) was refused. Stable codes:
 * they are the `reason` label of qudag_p2p_handshake_failures_total.
 */
export type HandshakeFailure =
  | "malformed"
  | "oversized"
  | "flood"
  | "protocol_version"
  | "wrong_genesis"
  | "unknown_validator"
  | "banned"
  | "self_connection"
  | "unexpected_peer"
  | "replayed_hello"
  | "key_exchange"
  | "bad_signature"
  | "bad_token"
  | "timeout"
  | "peer_limit"
  | "handshake_limit"
  | "rate_limited"
  | "remote_refused"
  | "connection_closed"
  | "internal";

export class HandshakeError extends Error {
  readonly reason: HandshakeFailure;
  constructor(reason: HandshakeFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HandshakeError";
    this.reason = reason;
  }
}

function frameFailure(error: unknown): HandshakeError {
  if (error instanceof FrameError) return new HandshakeError(error.reason, error.message);
  return new HandshakeError("malformed", error instanceof Error ? error.message : String(error));
}

/** Constant-time equality of two byte strings (the length is not secret). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** The genesis validator set: ids, public keys and verifiers parsed once and reused. */
export class ValidatorSet {
  readonly #backend: CryptoBackend;
  readonly #keys = new Map<string, Uint8Array>();
  readonly #verifiers = new Map<string, Promise<MlDsaVerifier>>();
  /** Validators this node refuses (operator's `qudag peer ban`); kept in memory until unbanned. */
  readonly #banned = new Set<string>();

  constructor(backend: CryptoBackend, publicKeys: readonly Uint8Array[]) {
    this.#backend = backend;
    for (const pk of publicKeys) this.#keys.set(keyIdOf(pk), pk);
  }

  get size(): number {
    return this.#keys.size;
  }

  has(id: string): boolean {
    return this.#keys.has(id);
  }

  ids(): string[] {
    return [...this.#keys.keys()];
  }

  ban(id: string): void {
    this.#banned.add(id);
  }
  unban(id: string): boolean {
    return this.#banned.delete(id);
  }
  isBanned(id: string): boolean {
    return this.#banned.has(id);
  }
  banned(): string[] {
    return [...this.#banned].sort();
  }

  /** The verifier of a validator in the set. */
  verifier(id: string): Promise<MlDsaVerifier> {
    let v = this.#verifiers.get(id);
    if (v === undefined) {
      const pk = this.#keys.get(id);
      if (pk === undefined) return Promise.reject(new Error(`validator ${id} is not in the genesis set`));
      v = this.#backend.mlDsaVerifier(pk);
      // A failed import is not cached, so a transient error does not stick.
      v.catch(() => this.#verifiers.delete(id));
      this.#verifiers.set(id, v);
    }
    return v;
  }
}

/** Hello nonces seen recently, to refuse a replayed hello at once. Bounded: the oldest is forgotten first. */
export class ReplayCache {
  readonly #seen = new Set<string>();
  readonly #entriesMax: number;

  constructor(entriesMax: number) {
    if (!Number.isInteger(entriesMax) || entriesMax < 1) {
      throw new RangeError(`replay cache size must be a positive integer, got ${entriesMax}`);
    }
    this.#entriesMax = entriesMax;
  }

  /** true the first time a nonce is seen (and remembers it), false for a repeat. */
  add(nonce: Uint8Array): boolean {
    const key = toHex(nonce);
    if (this.#seen.has(key)) return false;
    this.#seen.add(key);
    if (this.#seen.size > this.#entriesMax) {
      const oldest = this.#seen.values().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
    return true;
  }
}

export interface HandshakeContext {
  /** The genesis hash / chain id: peers with another one are refused. */
  readonly chainId: Uint8Array;
  readonly validators: ValidatorSet;
  /** This node's identity key; its id must be in `validators`. */
  readonly signer: MlDsaSigner;
  readonly backend: CryptoBackend;
  /** PEER_AUTH_TOKEN as bytes; empty when unset (both sides must agree either way). */
  readonly token: Uint8Array;
  /** Cryptographically secure random bytes. */
  readonly random: (bytes: number) => Uint8Array;
}

/** Normalizes a chain id given as 32 bytes or 64 hex characters. */
export function parseChainId(chainId: Uint8Array | string): Uint8Array {
  const bytes = typeof chainId === "string" ? fromHex(chainId) : chainId;
  if (bytes.length !== CHAIN_ID_BYTES) {
    throw new RangeError(`chain id is ${bytes.length} bytes, expected ${CHAIN_ID_BYTES}`);
  }
  return new Uint8Array(bytes);
}

export interface X25519KeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: Uint8Array;
}

/** An X25519 key pair from 32 random bytes (clamped by X25519 itself). */
export async function x25519KeyPair(secret: Uint8Array): Promise<X25519KeyPair> {
  if (secret.length !== 32) throw new RangeError(`X25519 secret is ${secret.length} bytes, expected 32`);
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    concatBytes(X25519_PKCS8_PREFIX, secret),
    {
      name: "X25519",
    },
    true,
    ["deriveBits"],
  );
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  if (typeof jwk.x !== "string") throw new Error("X25519 key export has no public part");
  return { privateKey, publicKey: Uint8Array.fromBase64(jwk.x, { alphabet: "base64url" }) };
}

/** X25519(privateKey, peerPublicKey); refuses low-order points (an all-zero result). */
export async function x25519Shared(privateKey: CryptoKey, peerPublicKey: Uint8Array): Promise<Uint8Array> {
  try {
    const pub = await crypto.subtle.importKey("raw", new Uint8Array(peerPublicKey), { name: "X25519" }, true, []);
    const bits = new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: pub }, privateKey, 256));
    if (bits.every((b) => b === 0)) throw new Error("all-zero shared secret");
    return bits;
  } catch (cause) {
    throw new HandshakeError("key_exchange", "X25519 public key of the peer is invalid", { cause });
  }
}

export function transcriptHash(hello: Uint8Array, replyCore: Uint8Array): Uint8Array {
  return sha256(concatBytes(DOMAIN_TRANSCRIPT, hello, replyCore));
}

export interface SessionSecrets {
  readonly initiatorToResponderKey: Uint8Array;
  readonly responderToInitiatorKey: Uint8Array;
  readonly initiatorTokenMac: Uint8Array;
  readonly responderTokenMac: Uint8Array;
}

/** The key schedule (see the module doc). Exported so tests can check it depends on both shares. */
export async function deriveSessionSecrets(
  x25519Secret: Uint8Array,
  mlKemSecret: Uint8Array,
  transcript: Uint8Array,
  token: Uint8Array,
): Promise<SessionSecrets> {
  const ikm = await crypto.subtle.importKey("raw", concatBytes(x25519Secret, mlKemSecret), "HKDF", false, [
    "deriveBits",
  ]);
  const okm = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(transcript), info: DOMAIN_KEYS },
      ikm,
      3 * SESSION_KEY_BYTES * 8,
    ),
  );
  const tokenKey = okm.slice(2 * SESSION_KEY_BYTES);
  const macKey = hmac(sha256, tokenKey, concatBytes(DOMAIN_TOKEN, new Uint8Array([0]), token));
  return {
    initiatorToResponderKey: okm.slice(0, SESSION_KEY_BYTES),
    responderToInitiatorKey: okm.slice(SESSION_KEY_BYTES, 2 * SESSION_KEY_BYTES),
    initiatorTokenMac: hmac(sha256, macKey, DOMAIN_MAC_INITIATOR),
    responderTokenMac: hmac(sha256, macKey, DOMAIN_MAC_RESPONDER),
  };
}

/** What a finished handshake hands to the channel. */
export interface Session {
  readonly role: "initiator" | "responder";
  /** The authenticated peer's validator id (hex). */
  readonly peerId: string;
  readonly sendKey: Uint8Array;
  readonly receiveKey: Uint8Array;
  /** Responder: the MAC to send in the confirm frame. Initiator: the MAC the confirm frame must carry. */
  readonly confirmMac: Uint8Array;
  /** Short hex tag of the transcript, for logs: equal on both ends, different for every session. */
  readonly sessionId: string;
}

function idBytesOf(id: string): Uint8Array {
  return fromHex(id);
}

async function checkSignature(
  validators: ValidatorSet,
  peerId: string,
  domain: Uint8Array,
  transcript: Uint8Array,
  signature: Uint8Array,
): Promise<void> {
  const verifier = await validators.verifier(peerId);
  let ok = false;
  try {
    ok = await verifier.verify(concatBytes(domain, transcript), signature);
  } catch (cause) {
    throw new HandshakeError("bad_signature", `signature of ${peerId.slice(0, 16)} could not be checked`, { cause });
  }
  if (!ok) {
    throw new HandshakeError(
      "bad_signature",
      `signature of ${peerId.slice(0, 16)} over the transcript does not verify`,
    );
  }
}

function checkPeerId(ctx: HandshakeContext, selfId: string, raw: Uint8Array, role: string): string {
  const peerId = toHex(raw);
  if (!ctx.validators.has(peerId)) {
    throw new HandshakeError("unknown_validator", `${role} ${peerId.slice(0, 16)} is not a genesis validator`);
  }
  if (peerId === selfId) throw new HandshakeError("self_connection", "the peer is this node");
  if (ctx.validators.isBanned(peerId)) {
    throw new HandshakeError("banned", `${role} ${peerId.slice(0, 16)} is banned here`);
  }
  return peerId;
}

function selfIdOf(ctx: HandshakeContext): string {
  const id = keyIdOf(ctx.signer.publicKey);
  if (!ctx.validators.has(id)) throw new Error(`this node's key ${id.slice(0, 16)} is not a genesis validator`);
  return id;
}

/** The dialing side. `start()`, send `hello`, feed the reply to `onReply()`, send `finish`, then check the confirm. */
export class InitiatorHandshake {
  readonly hello: Uint8Array;
  /** The hello's nonce (its last 32 bytes). */
  get nonce(): Uint8Array {
    return this.hello.subarray(this.hello.length - 32);
  }
  readonly #ctx: HandshakeContext;
  readonly #selfId: string;
  readonly #x25519: X25519KeyPair;
  readonly #decapsulationKey: Uint8Array;
  readonly #expectedPeerId: string | undefined;
  #done = false;
  /** Set once the reply's signature checked out: the peer is authenticated from then on. */
  peerId: string | undefined;

  private constructor(
    ctx: HandshakeContext,
    selfId: string,
    hello: Uint8Array,
    x: X25519KeyPair,
    dk: Uint8Array,
    expected?: string,
  ) {
    this.#ctx = ctx;
    this.#selfId = selfId;
    this.hello = hello;
    this.#x25519 = x;
    this.#decapsulationKey = dk;
    this.#expectedPeerId = expected;
  }

  /** `expectedPeerId`: refuse any responder but this validator (hex id). */
  static async start(ctx: HandshakeContext, expectedPeerId?: string): Promise<InitiatorHandshake> {
    const selfId = selfIdOf(ctx);
    const x = await x25519KeyPair(ctx.random(32));
    const kem = await ctx.backend.mlKemKeygen(ML_KEM_LEVEL, ctx.random(32), ctx.random(32));
    const hello = encodeHello({
      version: PROTOCOL_VERSION,
      chainId: ctx.chainId,
      initiatorId: idBytesOf(selfId),
      x25519PublicKey: x.publicKey,
      mlKemEncapsulationKey: kem.encapsulationKey,
      nonce: ctx.random(32),
    });
    return new InitiatorHandshake(ctx, selfId, hello, x, kem.decapsulationKey, expectedPeerId);
  }

  async onReply(bytes: Uint8Array): Promise<{ finish: Uint8Array; session: Session }> {
    if (this.#done) throw new HandshakeError("malformed", "a second reply");
    this.#done = true;
    let reply;
    try {
      reply = decodeReply(bytes);
    } catch (error) {
      throw frameFailure(error);
    }
    const peerId = checkPeerId(this.#ctx, this.#selfId, reply.responderId, "responder");
    if (this.#expectedPeerId !== undefined && peerId !== this.#expectedPeerId) {
      throw new HandshakeError(
        "unexpected_peer",
        `responder is ${peerId.slice(0, 16)}, expected ${this.#expectedPeerId.slice(0, 16)}`,
      );
    }
    const xShared = await x25519Shared(this.#x25519.privateKey, reply.x25519PublicKey);
    let kemShared: Uint8Array;
    try {
      kemShared = await this.#ctx.backend.mlKemDecaps(ML_KEM_LEVEL, this.#decapsulationKey, reply.mlKemCiphertext);
    } catch (cause) {
      throw new HandshakeError("key_exchange", "ML-KEM decapsulation failed", { cause });
    }
    const th = transcriptHash(this.hello, bytes.subarray(0, bytes.length - reply.signature.length));
    await checkSignature(this.#ctx.validators, peerId, DOMAIN_SIG_RESPONDER, th, reply.signature);
    this.peerId = peerId;
    const secrets = await deriveSessionSecrets(xShared, kemShared, th, this.#ctx.token);
    const signature = await this.#ctx.signer.sign(concatBytes(DOMAIN_SIG_INITIATOR, th));
    return {
      finish: encodeFinish({ signature, tokenMac: secrets.initiatorTokenMac }),
      session: {
        role: "initiator",
        peerId,
        sendKey: secrets.initiatorToResponderKey,
        receiveKey: secrets.responderToInitiatorKey,
        confirmMac: secrets.responderTokenMac,
        sessionId: toHex(th.subarray(0, 8)),
      },
    };
  }
}

/** Throws `bad_token` unless the confirm frame's payload is the responder's token MAC. */
export function checkConfirm(session: Session, payload: Uint8Array): void {
  if (payload.length !== TOKEN_MAC_BYTES || !equalBytes(payload, session.confirmMac)) {
    throw new HandshakeError("bad_token", "the responder's token proof does not match PEER_AUTH_TOKEN");
  }
}

/** The listening side: `onHello()` returns the reply, `onFinish()` the session (send its confirm frame first). */
export class ResponderHandshake {
  readonly #ctx: HandshakeContext;
  readonly #replays: ReplayCache;
  readonly #selfId: string;
  #step: "hello" | "finish" | "done" = "hello";
  #transcript: Uint8Array | undefined;
  #secrets: SessionSecrets | undefined;
  /** The id the hello claims (for logs even when refused); proven only once `onFinish()` returns. */
  claimedPeerId: string | undefined;
  /** The hello's nonce, once it parsed (lets a node recognize its own hello when it dialed itself). */
  helloNonce: Uint8Array | undefined;

  constructor(ctx: HandshakeContext, replays: ReplayCache) {
    this.#ctx = ctx;
    this.#replays = replays;
    this.#selfId = selfIdOf(ctx);
  }

  async onHello(bytes: Uint8Array): Promise<Uint8Array> {
    if (this.#step !== "hello") throw new HandshakeError("malformed", "a second hello");
    this.#step = "finish";
    let hello;
    try {
      hello = decodeHello(bytes);
    } catch (error) {
      throw frameFailure(error);
    }
    if (hello.version !== PROTOCOL_VERSION) {
      throw new HandshakeError(
        "protocol_version",
        `peer speaks protocol version ${hello.version}, this node ${PROTOCOL_VERSION}`,
      );
    }
    if (!equalBytes(hello.chainId, this.#ctx.chainId)) {
      throw new HandshakeError(
        "wrong_genesis",
        `peer's chain id ${toHex(hello.chainId).slice(0, 16)} is not ours (${toHex(this.#ctx.chainId).slice(0, 16)})`,
      );
    }
    this.helloNonce = hello.nonce;
    this.claimedPeerId = toHex(hello.initiatorId);
    checkPeerId(this.#ctx, this.#selfId, hello.initiatorId, "initiator");
    if (!this.#replays.add(hello.nonce)) {
      throw new HandshakeError("replayed_hello", `hello nonce ${toHex(hello.nonce).slice(0, 16)} was seen before`);
    }
    const x = await x25519KeyPair(this.#ctx.random(32));
    const xShared = await x25519Shared(x.privateKey, hello.x25519PublicKey);
    let encapsulation;
    try {
      encapsulation = await this.#ctx.backend.mlKemEncaps(ML_KEM_LEVEL, hello.mlKemEncapsulationKey);
    } catch (cause) {
      throw new HandshakeError("key_exchange", "the peer's ML-KEM-768 encapsulation key is invalid", { cause });
    }
    const core = encodeReplyCore({
      responderId: idBytesOf(this.#selfId),
      x25519PublicKey: x.publicKey,
      mlKemCiphertext: encapsulation.ciphertext,
      nonce: this.#ctx.random(32),
    });
    const th = transcriptHash(bytes, core);
    this.#transcript = th;
    this.#secrets = await deriveSessionSecrets(xShared, encapsulation.sharedKey, th, this.#ctx.token);
    const signature = await this.#ctx.signer.sign(concatBytes(DOMAIN_SIG_RESPONDER, th));
    return encodeReply(core, signature);
  }

  async onFinish(bytes: Uint8Array): Promise<Session> {
    if (this.#step !== "finish" || this.#transcript === undefined || this.#secrets === undefined) {
      throw new HandshakeError("malformed", "finish before hello");
    }
    this.#step = "done";
    const peerId = this.claimedPeerId as string;
    let finish;
    try {
      finish = decodeFinish(bytes);
    } catch (error) {
      throw frameFailure(error);
    }
    await checkSignature(this.#ctx.validators, peerId, DOMAIN_SIG_INITIATOR, this.#transcript, finish.signature);
    if (!equalBytes(finish.tokenMac, this.#secrets.initiatorTokenMac)) {
      throw new HandshakeError("bad_token", "the initiator's token proof does not match PEER_AUTH_TOKEN");
    }
    return {
      role: "responder",
      peerId,
      sendKey: this.#secrets.responderToInitiatorKey,
      receiveKey: this.#secrets.initiatorToResponderKey,
      confirmMac: this.#secrets.responderTokenMac,
      sessionId: toHex(this.#transcript.subarray(0, 8)),
    };
  }
}
