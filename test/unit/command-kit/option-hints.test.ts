import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../commands/index.js';
import type { ArgSpec, FlagSpec } from '../../../src/command-kit/command-spec.js';
import { routeCommand } from '../../../src/command-kit/route-command.js';

/**
 * What a user reads when a value is wrong: "`--name` must be a name of lowercase letters, digits and
 * dashes, like `web-1`", never "must be like `n`" (the usage placeholder). Every argument and flag
 * with a pattern, of every command, says its shape in words with an example the pattern accepts.
 */
const ACTIONS = COMMANDS.flatMap((m) => m.subcommands.map((s) => `${m.name}:${s.name}`));
const ctx = { userId: 'U0DEV', channelId: 'C0DEV', actions: ACTIONS };

const specs = COMMANDS.flatMap((m) =>
  m.subcommands.flatMap((s) => [
    ...(s.args ?? []).map((a) => ({ m, s, spec: a as ArgSpec | FlagSpec, flag: false })),
    ...(s.flags ?? []).map((f) => ({ m, s, spec: f as ArgSpec | FlagSpec, flag: true })),
  ]),
);
const patterned = specs.filter((x) => x.spec.pattern);

describe('option and argument hints', () => {
  it('covers the commands it should (a sanity check of the scan itself)', () => {
    expect(patterned.length).toBeGreaterThan(15);
    expect(patterned.some((x) => x.m.name === 'devenv' && x.spec.name === 'name')).toBe(true);
  });

  it('every patterned value says its shape in words, with an example the pattern accepts', () => {
    for (const { m, s, spec } of patterned) {
      const where = `/${m.name} ${s.name} ${spec.name}`;
      expect(spec.accepts, where).toBeTruthy();
      const examples = [...(spec.accepts ?? '').matchAll(/`([^`]+)`/g)].map((x) => x[1] as string);
      expect(examples.length, `${where}: an example in backticks`).toBeGreaterThan(0);
      const example = examples[0] as string;
      expect(
        spec.pattern?.test(spec.upperCase ? example.toUpperCase() : example),
        `${where}: ${example}`,
      ).toBe(true);
      // Words before the example: a description, not just "like `x`".
      expect(spec.accepts, where).toMatch(/^[a-z][^`]*\w[^`]*`/i);
    }
  });

  it('a bad value is answered with that description, never "must be like <placeholder>"', () => {
    for (const { m, s, spec, flag } of patterned) {
      const args = s.args ?? [];
      // An optional argument that does not fit passes its word on to the next one (by design).
      if (!flag && (spec as ArgSpec).optional && args.indexOf(spec as ArgSpec) < args.length - 1) continue;
      const required = (s.args ?? []).filter((a) => !a.optional && a !== spec);
      // Fill the other required arguments with their own examples, then give this one a bad value.
      const fill = (a: ArgSpec) => /`([^`]+)`/.exec(a.accepts ?? '')?.[1] ?? 'x';
      const before = (s.args ?? []).slice(0, (s.args ?? []).indexOf(spec as ArgSpec));
      const text = flag
        ? [s.name, ...required.map(fill), `--${spec.name}`, '!!'].join(' ')
        : [s.name, ...before.map(fill), '!!'].join(' ');
      const route = routeCommand(m, text, ctx);
      const where = `/${m.name} ${text}`;
      expect(route.ok, where).toBe(false);
      if (route.ok) continue;
      expect(route.message, where).toContain(`must be ${spec.accepts}`);
      expect(route.message, where).not.toMatch(/must be like `[A-Za-z|-]+`/);
    }
  });
});
