import { z } from 'zod';
import { duration } from '../config/fields.js';
import { parseInteger, parseRoleArn, ROLE_ARN } from '../config/parsers.js';
import { defineConfigSection } from '../config/section.js';

/**
 * `devenv:` of the configuration file: the role to assume (OPSBOT_DEVENV_ROLE_ARN, which the CDK
 * stack sets, wins over it), how many environments a user may have, and the templates by name.
 */
const template = z
  .strictObject({
    launchTemplate: z
      .string()
      .regex(
        /^(lt-[0-9a-f]{1,17}|[A-Za-z0-9()./_-]{3,128})$/,
        'expected a launch template id (lt-…) or name',
      ),
    instanceType: z
      .string()
      .regex(/^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$/, 'expected an EC2 instance type'),
    defaultTtl: duration,
    maxTtl: duration,
  })
  .refine((t) => t.defaultTtl <= t.maxTtl, {
    message: 'defaultTtl must not exceed maxTtl',
    path: ['defaultTtl'],
  });

const devenvSchema = z.strictObject({
  roleArn: z.string().regex(ROLE_ARN, 'expected an IAM role ARN').optional(),
  maxPerUser: z.number().int().min(1).max(50).default(2),
  templates: z
    .record(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'expected a short lower-case name'), template)
    .default({}),
});

export type DevenvConfig = z.output<typeof devenvSchema>;

/** What dev environments read from the environment: `config.devenv`. */
export interface DevenvSettings {
  /** `OPSBOT_DEVENV_REAPER_SECONDS`: how often the dev-environment reaper runs. */
  reaperSeconds: number;
  /** `OPSBOT_DEVENV_ROLE_ARN`: set by the CDK stack (it creates the role); wins over the file's `roleArn`. */
  roleArn?: string;
}

declare module '../config/section.js' {
  interface ConfigSections {
    devenv: DevenvConfig;
  }
  interface EnvSettings {
    devenv: DevenvSettings;
  }
}

export const devenvConfig = defineConfigSection('devenv', devenvSchema, {
  env: {
    reaperSeconds: {
      name: 'OPSBOT_DEVENV_REAPER_SECONDS',
      default: '60',
      deploy: 'operator',
      parse: (text) => parseInteger(text, { min: 5, max: 3_600 }),
    },
    roleArn: { name: 'OPSBOT_DEVENV_ROLE_ARN', deploy: 'stack', parse: parseRoleArn },
  },
  withEnv: (file, env) => (env.roleArn ? { ...file, roleArn: env.roleArn } : file),
});
