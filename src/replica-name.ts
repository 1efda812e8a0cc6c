import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * This process's name in leases and claims shared with other replicas: host, process id and a
 * random suffix (a restarted task on the same host with the same pid is still another owner).
 *
 * @example
 * replicaName(); // 'ip-10-0-1-23.ec2.internal:1:9f2c4a'
 */
export function replicaName(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
