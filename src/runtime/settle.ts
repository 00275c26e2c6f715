// Running independent calls at once without abandoning any: `settleAll` waits for every one to
// finish (a failure does not leave the others running unobserved or skip them), then throws the first
// failure, or returns every value in order. Revocation and quarantine use it so that one failed write
// never stops the removal of another credential.

export async function settleAll<T>(work: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(work);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}
