/** Exact decimal text arithmetic for configuration values and command-line flags (no floating point on money). */

/**
 * `text` (digits, optionally '.' and at most `decimals` places) times `unit`,
 * rounded half up to an integer; null when `text` is not such a number.
 */
export function scaleDecimal(text: string, unit: bigint, decimals: number): bigint | null {
  const m = /^([0-9]{1,12})(?:\.([0-9]+))?$/.exec(text);
  if (!m || (m[2] ?? "").length > decimals) return null;
  const frac = (m[2] ?? "").padEnd(decimals, "0");
  const scale = 10n ** BigInt(decimals);
  const scaled = BigInt(m[1]) * scale + BigInt(frac || "0");
  return (scaled * unit + scale / 2n) / scale;
}

/**
 * A configuration number as exact decimal text. Values read from text (the
 * environment, TOML) with up to 15 significant digits print back as the same
 * digits, so `0.0025` stays `0.0025`, never `0.0025000000000000001`.
 */
export function decimalText(n: number): string {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`${n} is not a non-negative number`);
  const s = String(n);
  if (!/e/i.test(s)) return s;
  return n.toFixed(20).replace(/0+$/, "").replace(/\.$/, "");
}
