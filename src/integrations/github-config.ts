import { z } from 'zod';
import { userId } from '../config/fields.js';
import { parseHttpUrl } from '../config/parsers.js';
import { defineConfigSection } from '../config/section.js';

/** `github:` of the configuration file: which GitHub login each Slack user is (`/gh pr mine`…). */
const githubSchema = z.strictObject({
  users: z.record(userId, z.string().regex(/^[A-Za-z0-9-]{1,39}$/, 'expected a GitHub login')).default({}),
});

export type GithubConfig = z.output<typeof githubSchema>;

/** What GitHub reads from the environment: `config.github`. */
export interface GithubSettings {
  /** `OPSBOT_GITHUB_API_URL`: GitHub Enterprise Server (`https://ghe.example.com/api/v3`), the sandbox; unset: GitHub's. */
  apiUrl?: string;
}

declare module '../config/section.js' {
  interface ConfigSections {
    github: GithubConfig;
  }
  interface EnvSettings {
    github: GithubSettings;
  }
}

export const githubConfig = defineConfigSection('github', githubSchema, {
  env: { apiUrl: { name: 'OPSBOT_GITHUB_API_URL', deploy: 'operator', parse: parseHttpUrl } },
});
