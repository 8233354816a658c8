// Redis replication is asynchronous: a master that dies can take writes it acknowledged with it
// when a replica that had not received them is promoted. With GAVEL_REDIS_WAIT_REPLICAS=N each
// batch's writes are followed by `WAIT N timeout` on the same connection, and the replies go out
// only when N replicas hold them (docs/reliability.md, "Failover").

/**
 * Why a WAIT did not confirm the writes before it (it failed, or fewer than `wanted` replicas
 * acknowledged them within its timeout), or null when it did.
 */
export function waitFailure(error: Error | null, reached: unknown, wanted: number): string | null {
  if (error !== null) return `WAIT failed: ${error.message}`;
  const count = Number(reached);
  if (!Number.isInteger(count)) return "WAIT answered no replica count";
  if (count < wanted) return `only ${count} of ${wanted} replicas acknowledged the writes within the WAIT timeout`;
  return null;
}
