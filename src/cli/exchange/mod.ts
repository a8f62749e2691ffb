/**
 * \`qudag exchange\`: the seeds' 15 exchange commands, plus governance-override,
 * against a running node's exchange API (/api/v1/exchange, port 8081 by
 * default). Reads are plain GETs (reads.ts). Writes are built by the WASM
 * core, signed here with ML-DSA-87 (signers.ts), submitted and awaited until
 * the ledger's receipt (submit.ts, writes.ts).
 *
 * Exit codes: 0 done; 1 a failure (refusal receipt, node error, missing key or
 * secret), with \`error: <message> [<code>]\`; 2 a usage error, including a
 * malformed amount, rate, duration or name (the message names the value and
 * the core's code; values.ts).
 */
import type { Group } from "../_command.ts";
import {
  accounts,
  balance,
  calculateFee,
  exchangeStatus,
  feeStatus,
  immutableStatus,
  supply,
  updateUsage,
} from "./reads.ts";
import {
  burn,
  configureFees,
  createAccount,
  deployImmutable,
  governanceOverride,
  mint,
  transfer,
  verifyAgent,
} from "./writes.ts";

export { DEFAULT_EXCHANGE_URL, exchangeNodeUrl } from "./context.ts";
export { checkProof } from "./proof.ts";
export { hoursArg, rateArg } from "./values.ts";

export const exchange: Group = {
  name: "exchange",
  summary: "rUv exchange: accounts, transfers, mint and burn, fees, agents, immutable deployment",
  commands: [
    createAccount,
    balance,
    transfer,
    mint,
    burn,
    accounts,
    supply,
    exchangeStatus,
    deployImmutable,
    governanceOverride,
    configureFees,
    feeStatus,
    immutableStatus,
    verifyAgent,
    updateUsage,
    calculateFee,
  ],
};
