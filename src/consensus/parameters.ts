/**
 * Snowball family parameters.
 *
 * Every poll samples `k` validators. A poll is *successful* for a choice when at
 * least `alphaPreference` of the k responses support it (the choice may become
 * the preference); it also builds confidence when at least `alphaConfidence`
 * support it. A choice is final after `beta` consecutive confident polls.
 *
 * Invariants (checked by {@linkcode verifyParameters}):
 * - all four are positive safe integers;
 * - k/2 < alphaPreference: two choices can never both win one poll, because
 *   each responder supports at most one member of a conflict set;
 * - alphaPreference <= alphaConfidence: confidence implies preference;
 * - alphaConfidence <= k: a confident poll must be possible at all.
 */
export interface Parameters {
  /** Validators sampled per poll. */
  readonly k: number;
  /** Supporting responses needed to change or keep the preference. */
  readonly alphaPreference: number;
  /** Supporting responses needed to count towards finality. */
  readonly alphaConfidence: number;
  /** Consecutive confident polls needed to finalize. */
  readonly beta: number;
}

/**
 * Defaults: the values avalanchego runs its mainnet with (k 20, alpha 15,
 * beta 20), because they are well studied up to thousands of validators and
 * are "sensible up to 100" here: a sample of 20 out of 100 with 10% Byzantine
 * holds on average 2 Byzantine validators, leaving 18 honest responses for an
 * alpha of 15, so 3 slow or dropped responses are tolerated.
 *
 * With fewer than k validators the sample cannot hold k distinct validators;
 * {@linkcode parametersForValidatorCount} then scales k and both alphas down
 * (4 validators: k 4, alpha 3, beta 20), which keeps k/2 < alpha, so one
 * Byzantine validator of 4 can neither win a poll for its side nor block one
 * in which the three honest validators agree.
 */
export const DEFAULT_PARAMETERS: Parameters = Object.freeze({
  k: 20,
  alphaPreference: 15,
  alphaConfidence: 15,
  beta: 20,
});

export class ParametersError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ParametersError";
  }
}

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ParametersError(
      `Invalid consensus parameters: ${name} = ${value}, expected a positive integer`,
    );
  }
}

/**
 * Checks the invariants listed on {@linkcode Parameters} and returns a frozen
 * copy. The message states the broken invariant with the offending values.
 */
export function verifyParameters(params: Parameters): Parameters {
  const { k, alphaPreference, alphaConfidence, beta } = params;
  requirePositiveInteger("k", k);
  requirePositiveInteger("alphaPreference", alphaPreference);
  requirePositiveInteger("alphaConfidence", alphaConfidence);
  requirePositiveInteger("beta", beta);
  if (!(k / 2 < alphaPreference)) {
    throw new ParametersError(
      `Invalid consensus parameters: k = ${k}, alphaPreference = ${alphaPreference}: fails k/2 < alphaPreference`,
    );
  }
  if (!(alphaPreference <= alphaConfidence)) {
    throw new ParametersError(
      `Invalid consensus parameters: alphaPreference = ${alphaPreference}, alphaConfidence = ${alphaConfidence}: fails alphaPreference <= alphaConfidence`,
    );
  }
  if (!(alphaConfidence <= k)) {
    throw new ParametersError(
      `Invalid consensus parameters: alphaConfidence = ${alphaConfidence}, k = ${k}: fails alphaConfidence <= k`,
    );
  }
  return Object.freeze({ k, alphaPreference, alphaConfidence, beta });
}

/**
 * The parameters to run with when only `validatorCount` validators exist.
 * With at least k validators, `params` unchanged. With fewer, k becomes the
 * validator count and each alpha keeps its proportion of k, rounded up, but at
 * least a strict majority of the new k. Beta is unchanged.
 */
export function parametersForValidatorCount(
  params: Parameters,
  validatorCount: number,
): Parameters {
  const checked = verifyParameters(params);
  requirePositiveInteger("validatorCount", validatorCount);
  if (validatorCount >= checked.k) return checked;
  const k = validatorCount;
  const majority = Math.floor(k / 2) + 1;
  const scale = (alpha: number) => Math.min(k, Math.max(majority, Math.ceil((alpha * k) / checked.k)));
  return verifyParameters({
    k,
    alphaPreference: scale(checked.alphaPreference),
    alphaConfidence: scale(checked.alphaConfidence),
    beta: checked.beta,
  });
}
