/** Every async port call takes a trailing options object, as the Azure SDK's do. */
export interface OperationOptions {
  readonly abortSignal?: AbortSignal;
}
