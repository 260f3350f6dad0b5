/**
 * The one error the scheduler raises: a placement spec it cannot read. Its message says what
 * was wrong and what is allowed, so the control API can hand it to the user unchanged.
 */

/** Stable codes of {@link PlacementError}, one per kind of spec mistake. */
export const PlacementErrorCode = {
  /** A `--constraint` expression that does not parse or names an unknown attribute. */
  INVALID_CONSTRAINT: "INVALID_CONSTRAINT",
  /** A `--placement-pref` whose spread descriptor is not a label. */
  INVALID_PREFERENCE: "INVALID_PREFERENCE",
} as const;
/** One value of {@link PlacementErrorCode}. */
export type PlacementErrorCode = (typeof PlacementErrorCode)[keyof typeof PlacementErrorCode];

/** A placement spec the scheduler cannot use; `message` is written for the user. */
export class PlacementError extends Error {
  override readonly name = "PlacementError";

  /**
   * @param code which kind of mistake
   * @param message what was wrong and what is allowed
   */
  constructor(readonly code: PlacementErrorCode, message: string) {
    super(message);
  }
}
