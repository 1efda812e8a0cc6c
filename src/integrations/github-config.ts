import { z } from 'zod';
import { userId } from '../config/fields.js';
import { defineConfigSection } from '../config/section.js';

/** `github:` of the configuration file: which GitHub login each Slack user is (`/gh pr mine`…). */
const githubSchema = z.strictObject({
  users: z.record(userId, z.string().regex(/^[A-Za-z0-9-]{1,39}$/, 'expected a GitHub login')).default({}),
});

export type GithubConfig = z.output<typeof githubSchema>;

declare module '../config/section.js' {
  interface ConfigSections {
    github: GithubConfig;
  }
}

export const githubConfig = defineConfigSection('github', githubSchema);
