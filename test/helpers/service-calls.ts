import { EC2Client } from '@aws-sdk/client-ec2';
import type { RoleSessions } from '../../src/credentials/role-sessions.js';
import type { SessionCalls } from '../../src/integrations/integration.js';

/**
 * The reaper's side of the devenv integration without the rest of the bot: EC2 calls under the
 * service session (`opsbot.reaper`) from `sessions`, against `endpoint`. Never as a user.
 */
export function serviceCalls(sessions: RoleSessions, endpoint: string): SessionCalls<EC2Client> {
  return {
    asUser: () => Promise.reject(new Error('the reaper never acts as a user')),
    async asService(name, fn) {
      const session = await sessions.forService(name);
      const client = new EC2Client({ region: 'us-east-1', endpoint, credentials: session.credentials });
      try {
        return await fn(client, session);
      } finally {
        client.destroy();
      }
    },
  };
}
