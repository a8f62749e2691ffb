/**
 * The peer-to-peer layer: PeerTransport (authenticated, encrypted WebSocket
 * sessions between genesis validators) and the pieces it is made of.
 */
export {
  DEFAULT_LIMITS,
  type DisconnectReason,
  type GenesisInfo,
  type MessageHandler,
  type PeerDownHandler,
  type PeerInfo,
  PeerTransport,
  type PeerTransportOptions,
  type PeerUpHandler,
  peerUrl,
  type SendResult,
  type TransportLimits,
} from "./transport.ts";
export { TransportMetrics } from "./metrics.ts";
export { HandshakeError, type HandshakeFailure } from "./handshake.ts";
export { PROTOCOL_VERSION, WS_PATH, WS_SUBPROTOCOL } from "./frame.ts";
