// The rules of a control document's lease, as Blob Storage enforces them, shared by every control store
// that enforces them itself (SQLite, the in-memory fake) and checked before the call by the Blob one.
import { AppError } from './errors.ts';

/** Blob Storage's range for a lease that expires (-1, infinite, is not offered: a crashed worker would hold it). */
export const MIN_LEASE_SECONDS = 15;
export const MAX_LEASE_SECONDS = 60;

/** A lease lasts 15 to 60 whole seconds; anything else is a programming error. */
export function assertLeaseDuration(durationSeconds: number): void {
  if (
    !Number.isInteger(durationSeconds) ||
    durationSeconds < MIN_LEASE_SECONDS ||
    durationSeconds > MAX_LEASE_SECONDS
  ) {
    throw new AppError(
      'INTERNAL',
      `A lease lasts ${MIN_LEASE_SECONDS} to ${MAX_LEASE_SECONDS} whole seconds, not ${durationSeconds}`,
    );
  }
}

/**
 * A leased document refuses a write without its lease, and a lease no longer held (expired, taken by
 * another) fences its writer off: the write must carry exactly the live lease's id, or none when none.
 */
export function assertWriteHoldsLease(
  name: string,
  liveLeaseId: string | undefined,
  givenLeaseId: string | undefined,
): void {
  if (liveLeaseId !== givenLeaseId) {
    throw new AppError(
      'PRECONDITION_FAILED',
      `Control document ${name} is leased by another worker, or the lease given is no longer held`,
    );
  }
}
