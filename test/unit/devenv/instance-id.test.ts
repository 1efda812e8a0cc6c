import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ec2UserError } from '../../../src/devenv/ec2-errors.js';
import { checkEnvName, EXAMPLE_ID, isInstanceId, parseEnvRef } from '../../../src/devenv/instance-id.js';
import { UserFacingError } from '../../../src/errors.js';

const hexDigits = (n: number) =>
  fc.array(fc.constantFrom(...'0123456789abcdef'), { minLength: n, maxLength: n }).map((a) => a.join(''));
const validId = fc.oneof(hexDigits(8), hexDigits(17)).map((h) => `i-${h}`);
const validName = fc
  .tuple(
    fc.constantFrom(...'abcdefghjklmnopqrstuvwxyz'),
    fc.array(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), { maxLength: 40 }),
  )
  .map(([first, rest]) => first + rest.join(''))
  .filter((n) => !n.startsWith('i-'));

describe('EC2 instance ids and dev-environment names', () => {
  it('reads exactly the ids EC2 makes: i- and 8 or 17 lowercase hex digits', () => {
    fc.assert(
      fc.property(validId, (id) => {
        expect(parseEnvRef(id)).toEqual({ kind: 'id', id });
      }),
    );
    expect(isInstanceId(EXAMPLE_ID)).toBe(true);
  });

  it('refuses every other i-… word with what an id looks like, and that names work too', () => {
    const wrongLength = fc
      .integer({ min: 1, max: 30 })
      .filter((n) => n !== 8 && n !== 17)
      .chain(hexDigits)
      .map((h) => `i-${h}`);
    const notHex = fc.string({ minLength: 1, maxLength: 20 }).map((t) => `i-${t}`);
    fc.assert(
      fc.property(fc.oneof(wrongLength, notHex), (text) => {
        fc.pre(!isInstanceId(text));
        expect(() => parseEnvRef(text)).toThrow(UserFacingError);
        try {
          parseEnvRef(text);
        } catch (error) {
          expect((error as Error).message).toContain('8 or 17 hex digits');
          expect((error as Error).message).toContain('name');
        }
      }),
    );
    // The help's old example (12 digits) and the issue's.
    for (const text of ['i-0abc12345678', 'i-zzz', 'I-0ABC1234DEF567890'])
      expect(() => parseEnvRef(text)).toThrow(/8 or 17 hex digits/);
  });

  it('reads a name as a name, never as an id; an id is never a name', () => {
    fc.assert(
      fc.property(validName, (name) => {
        expect(parseEnvRef(name)).toEqual({ kind: 'name', name });
        expect(checkEnvName(name)).toBe(name);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        let ref: ReturnType<typeof parseEnvRef> | undefined;
        try {
          ref = parseEnvRef(text);
        } catch (error) {
          expect(error).toBeInstanceOf(UserFacingError);
          return;
        }
        expect(ref.kind === 'id').toBe(isInstanceId(text));
        if (ref.kind === 'name') expect(text.startsWith('i-')).toBe(false);
      }),
    );
  });

  it('refuses a --name that would read as an id, saying why', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          validId,
          validName.map((n) => `i-${n}`),
        ),
        (name) => {
          expect(() => checkEnvName(name)).toThrow(/read as instance ids/);
        },
      ),
    );
    expect(() => checkEnvName('i-box')).toThrow('A dev environment cannot be named `i-box`');
  });
});

describe('EC2 errors caused by what a user typed', () => {
  const ec2Error = (name: string) =>
    Object.assign(new Error('Invalid id: "i-0abc12345678"'), { name, $fault: 'client' });

  it('become sentences naming the instance; anything else stays internal', () => {
    const malformed = ec2UserError(ec2Error('InvalidInstanceID.Malformed'), { instance: 'i-0abc12345678' });
    expect(malformed?.message).toContain('`i-0abc12345678` is not an EC2 instance id');
    expect(
      ec2UserError(ec2Error('InvalidInstanceID.NotFound'), { instance: 'i-0abc1234' })?.message,
    ).toContain('`i-0abc1234` does not exist');
    expect(ec2UserError(ec2Error('InternalError'))).toBeUndefined();
    expect(ec2UserError(new Error('socket hang up'))).toBeUndefined();
  });

  it('never echo what EC2 said (an encoded authorization message, say)', () => {
    const error = Object.assign(new Error('Encoded authorization failure message: AbC123secret'), {
      name: 'UnauthorizedOperation',
      $fault: 'client',
    });
    expect(ec2UserError(error)?.message).not.toContain('AbC123secret');
  });
});
