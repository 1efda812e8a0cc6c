import { defineCommand } from '../src/slack/command-spec.js';
import { notAvailableYet } from './not-yet.js';

const MONITOR = /^\d{1,15}$/;
const DAY = 86_400_000;

/** `/dd`: Datadog monitors and recent alerts. The grammar is CONTRACT.md's. */
export const dd = defineCommand({
  name: 'dd',
  description: 'Datadog monitors: list, inspect, mute, unmute; recent alerts',
  subcommands: (sub) => [
    sub({
      name: 'monitors',
      readOnly: true,
      summary: 'monitors that are alerting (or in another state)',
      flags: [
        {
          name: 'state',
          choices: ['alert', 'warn', 'no data', 'ok'],
          description: 'only this state (default alert)',
        },
        {
          name: 'tag',
          pattern: /^[A-Za-z0-9_.:/-]{1,200}$/,
          hint: 'team:web',
          description: 'only monitors with this tag',
        },
      ],
      examples: ['monitors --tag team:payments'],
      run: notAvailableYet('dd', 'monitors'),
    }),
    sub({
      name: 'monitor',
      readOnly: true,
      summary: 'one monitor: state, query, recent transitions',
      args: [{ name: 'id', pattern: MONITOR, hint: 'id' }],
      examples: ['monitor 123456'],
      run: notAvailableYet('dd', 'monitor'),
    }),
    sub({
      name: 'mute',
      summary: 'mute a monitor for a while',
      args: [{ name: 'id', pattern: MONITOR, hint: 'id' }],
      flags: [
        { name: 'for', kind: 'duration', max: 7 * DAY, hint: '2h', description: 'how long (default 1h)' },
      ],
      examples: ['mute 123456 --for 2h'],
      run: notAvailableYet('dd', 'mute'),
    }),
    sub({
      name: 'unmute',
      summary: 'unmute a monitor',
      args: [{ name: 'id', pattern: MONITOR, hint: 'id' }],
      examples: ['unmute 123456'],
      run: notAvailableYet('dd', 'unmute'),
    }),
    sub({
      name: 'alerts',
      readOnly: true,
      summary: 'the alerts opsbot has posted recently, newest first',
      flags: [
        {
          name: 'since',
          kind: 'duration',
          max: 30 * DAY,
          hint: '1h',
          description: 'only this recent (default 1h)',
        },
      ],
      examples: ['alerts --since 1h'],
      run: notAvailableYet('dd', 'alerts'),
    }),
  ],
});
