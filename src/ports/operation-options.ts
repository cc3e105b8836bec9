/** Every async port call takes a trailing options object, as the Azure SDK's do. */
export interface OperationOptions {
  readonly abortSignal?: AbortSignal;
  /**
   * Told the request charge of each call (Cosmos RUs). `estimated` is true when the store does not
   * report real charges (SQLite, the emulators) and the figure comes from the documented RU model.
   */
  readonly onRequestCharge?: (requestUnits: number, estimated: boolean) => void;
  /** Background work (the archiver) asks for low priority where the store supports it. */
  readonly priority?: 'low' | 'high';
}
