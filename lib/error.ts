/** The base of every error zt raises on purpose. `kind` is stable and machine-readable. */
export class ZtError extends Error {
  constructor(readonly kind: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = `ZtError(${kind})`;
  }
}

/** Narrow an unknown thrown value to a message for logs. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
