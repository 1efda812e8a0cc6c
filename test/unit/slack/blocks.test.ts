import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_BLOCKS, MAX_SECTION_TEXT, sections } from '../../../src/slack/blocks.js';

const textOf = (block: unknown) => (block as { text: { text: string } }).text.text;

describe('sections', () => {
  it('splits at line boundaries into sections under 3,000 characters, never cutting a link', () => {
    const lines = Array.from(
      { length: 30 },
      (_, i) => `• <https://github.com/acme/web/pull/${i}|#${i} ${'a long title '.repeat(9)}> by someone`,
    );
    const blocks = sections(lines);
    expect(blocks.length).toBeGreaterThan(1);
    for (const block of blocks) {
      const text = textOf(block);
      expect(text.length).toBeLessThanOrEqual(MAX_SECTION_TEXT);
      expect(text.split('<').length).toBe(text.split('>').length);
    }
    expect(blocks.map(textOf).join('\n')).toBe(lines.join('\n'));
  });

  it('keeps every line whole, in order, within the block budget, and says what it left out (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 400 }), { maxLength: 400 }),
        fc.integer({ min: 1, max: 60 }),
        (lines, maxBlocks) => {
          const blocks = sections(lines, maxBlocks);
          expect(blocks.length).toBeLessThanOrEqual(Math.min(maxBlocks, MAX_BLOCKS));
          const texts = blocks.map(textOf);
          for (const text of texts) {
            expect(text.length).toBeGreaterThan(0);
            expect(text.length).toBeLessThanOrEqual(MAX_SECTION_TEXT);
          }
          const shown = texts.join('\n').split('\n');
          const note = /^_…and (\d+) more lines?_$/.exec(shown.at(-1) ?? '');
          const kept = note ? shown.slice(0, -1) : shown;
          if (lines.length === 0) expect(blocks).toEqual([]);
          else {
            expect(kept).toEqual(lines.join('\n').split('\n').slice(0, kept.length));
            const left = lines.join('\n').split('\n').length - kept.length;
            expect(note ? Number(note[1]) : 0).toBe(left);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('cuts a single line longer than a section, at the section limit', () => {
    const [block] = sections(['x'.repeat(5_000)]);
    expect(textOf(block)).toHaveLength(MAX_SECTION_TEXT);
    expect(textOf(block).endsWith('…')).toBe(true);
  });
});
