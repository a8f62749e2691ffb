/**
 * The transport's Prometheus series. Pass the node's Registry to expose them;
 * without one they live in a private registry (tests read them with `.get()`).
 * Every label takes values from a closed set of stable codes, so the series stay few.
 */

import { type Counter, type Gauge, Registry } from "../metrics/mod.ts";

export class TransportMetrics {
  readonly registry: Registry;
  /** Completed handshakes, by this node's role. */
  readonly handshakes: Counter;
  /** Refused or failed handshakes (and inbound connections refused before one), by HandshakeFailure code. */
  readonly handshakeFailures: Counter;
  /** Established sessions that ended, by DisconnectReason. */
  readonly disconnects: Counter;
  /** Dials that never reached the peer (refused, unreachable, DNS). */
  readonly dialFailures: Counter;
  /** Data frames, by direction "in" | "out". */
  readonly frames: Counter;
  /** Bytes of data frames on the wire, by direction. */
  readonly bytes: Counter;
  /** Messages not queued by send()/broadcast(), by reason. */
  readonly sendDropped: Counter;
  /** Authenticated peers connected now. */
  readonly peers: Gauge;
  /** Inbound connections in their handshake now, by pool "open" | "reserved" (handshake_slots.ts). */
  readonly handshakesInFlight: Gauge;
  /** Peer messages that found their peer over budget (peer_budget.ts), by work and outcome "held" | "dropped". */
  readonly budgetExceeded: Counter;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    this.handshakes = registry.counter(
      "qudag_p2p_handshakes_total",
      "Peer handshakes completed, by this node's role.",
      ["role"],
    );
    this.handshakeFailures = registry.counter(
      "qudag_p2p_handshake_failures_total",
      "Peer connections refused before or during the handshake, by reason.",
      ["reason"],
    );
    this.disconnects = registry.counter(
      "qudag_p2p_disconnects_total",
      "Authenticated peer sessions that ended, by reason.",
      ["reason"],
    );
    this.dialFailures = registry.counter("qudag_p2p_dial_failures_total", "Outbound dials that never connected.");
    this.frames = registry.counter("qudag_p2p_frames_total", "Encrypted peer frames, by direction.", ["direction"]);
    this.bytes = registry.counter("qudag_p2p_bytes_total", "Bytes of encrypted peer frames, by direction.", [
      "direction",
    ]);
    this.sendDropped = registry.counter(
      "qudag_p2p_send_dropped_total",
      "Outgoing peer messages not queued, by reason.",
      ["reason"],
    );
    this.peers = registry.gauge("qudag_p2p_peers", "Authenticated peers connected.");
    this.handshakesInFlight = registry.gauge(
      "qudag_p2p_handshakes_in_flight",
      "Inbound connections in their handshake, by slot pool (open to anyone, reserved for known validators).",
      ["pool"],
    );
    this.budgetExceeded = registry.counter(
      "qudag_p2p_peer_budget_exceeded_total",
      "Peer messages held (until the peer's budget has room) or dropped (too many held), by kind of work.",
      ["work", "outcome"],
    );
  }
}
