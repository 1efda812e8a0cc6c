import { defineCommand } from '../src/slack/command-spec.js';
import { notAvailableYet } from './not-yet.js';

/** An instance id (`i-0abc…`) or the name given with `up --name`. */
const ENV_ID = /^(i-[0-9a-f]{8,17}|[a-z][a-z0-9-]{0,40})$/;
const NAME = /^[a-z][a-z0-9-]{0,40}$/;
const DAY = 86_400_000;

/** `/devenv`: short-lived EC2 dev environments under your own identity. The grammar is CONTRACT.md's. */
export const devenv = defineCommand({
  name: 'devenv',
  description: 'dev environments on EC2: up, list, extend, down',
  subcommands: (sub) => [
    sub({
      name: 'up',
      summary: 'start a dev environment from a template',
      args: [{ name: 'template', pattern: /^[a-z][a-z0-9-]{0,31}$/, hint: 'template' }],
      flags: [
        {
          name: 'ttl',
          kind: 'duration',
          max: 30 * DAY,
          hint: '4h',
          description: 'lifetime (default: the template’s)',
        },
        { name: 'name', pattern: NAME, hint: 'n', description: 'a name to refer to it by' },
      ],
      examples: ['up small --ttl 4h', 'up small --name web-1'],
      run: notAvailableYet('devenv', 'up'),
    }),
    sub({
      name: 'list',
      readOnly: true,
      summary: 'your dev environments and when they expire',
      flags: [{ name: 'all', kind: 'boolean', description: 'everyone’s, not only yours' }],
      examples: ['list'],
      run: notAvailableYet('devenv', 'list'),
    }),
    sub({
      name: 'extend',
      summary: 'push back the expiry',
      args: [{ name: 'env', pattern: ENV_ID, hint: 'id|name' }],
      flags: [
        {
          name: 'by',
          kind: 'duration',
          max: 30 * DAY,
          hint: '2h',
          description: 'how much longer (default 2h)',
        },
      ],
      examples: ['extend i-0abc12345678 --by 2h'],
      run: notAvailableYet('devenv', 'extend'),
    }),
    sub({
      name: 'down',
      summary: 'terminate a dev environment now',
      args: [{ name: 'env', pattern: ENV_ID, hint: 'id|name' }],
      examples: ['down i-0abc12345678'],
      run: notAvailableYet('devenv', 'down'),
    }),
  ],
});
