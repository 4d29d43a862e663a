import { describe, expect, it } from 'vitest';
import { firstRepeatedJsonKey } from './json-keys.js';

describe('firstRepeatedJsonKey', () => {
  it('finds a key given twice in one object, with its path', () => {
    expect(firstRepeatedJsonKey('{"tasks":{"login":{"per_ms":"1"},"login":{"per_ms":"5"}}}')).toEqual(['tasks', 'login']);
    expect(firstRepeatedJsonKey('{"t":{"a":{"tiers":[{"per_ms":"1"},{"up_to_ms":5,"per_ms":"1","per_ms":"2"}]}}}')).toEqual(['t', 'a', 'tiers', 1, 'per_ms']);
    // Written differently, decoded the same: "\u0061" is "a".
    expect(firstRepeatedJsonKey('{"a":1,"\\u0061":2}')).toEqual(['a']);
    expect(firstRepeatedJsonKey('{"a\\"b":1, "x":[1,"\\"",{}], "a\\u0022b":2}')).toEqual(['a"b']);
    expect(firstRepeatedJsonKey('[[{}],{"k":{"k":1,"k":2}}]')).toEqual([1, 'k', 'k']);
  });

  it('is null when keys differ within each object, however often they recur across objects or in values', () => {
    expect(firstRepeatedJsonKey('{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}],"x":"x"}')).toBeNull();
    expect(firstRepeatedJsonKey('{"a":"{\\"a\\":1,\\"a\\":2}","b":"a"}')).toBeNull();
    expect(firstRepeatedJsonKey(' {\n "a" : 1 ,\n "A" : 2 } ')).toBeNull();
    expect(firstRepeatedJsonKey('[]')).toBeNull();
    expect(firstRepeatedJsonKey('"a"')).toBeNull();
  });

  it('agrees with a walk of the parsed value, on random documents with a key repeated in a random object', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const keys = ['a', 'b', 'per_ms', 'é', 'a"b', '\\', '{', ','];
    const value = (depth: number): unknown => {
      const r = rand(depth > 3 ? 3 : 6);
      if (r === 0) return rand(1000);
      if (r === 1) return keys[rand(keys.length)];
      if (r === 2) return null;
      if (r === 3) return Array.from({ length: rand(4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: rand(5) }, () => [keys[rand(keys.length)]!, value(depth + 1)]));
    };
    for (let n = 0; n < 300; n++) {
      const doc = { root: value(0) };
      const text = JSON.stringify(doc);
      expect(firstRepeatedJsonKey(text), text).toBeNull();
      // Every object's text position: repeat its first key right after its opening brace.
      const objects: Array<{ path: Array<string | number>; key: string }> = [];
      const walk = (v: unknown, path: Array<string | number>): void => {
        if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
        else if (v !== null && typeof v === 'object') {
          const ks = Object.keys(v);
          if (ks.length > 0) objects.push({ path, key: ks[0]! });
          for (const k of ks) walk((v as Record<string, unknown>)[k], [...path, k]);
        }
      };
      walk(doc, []);
      const target = objects[rand(objects.length)]!;
      // Rebuild the text with the target object holding its first key twice (JSON.stringify keeps one).
      const render = (v: unknown, path: Array<string | number>): string => {
        if (Array.isArray(v)) return `[${v.map((x, i) => render(x, [...path, i])).join(',')}]`;
        if (v !== null && typeof v === 'object') {
          const entries = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${render(x, [...path, k])}`);
          if (JSON.stringify(path) === JSON.stringify(target.path)) entries.push(`${JSON.stringify(target.key)}:0`);
          return `{${entries.join(',')}}`;
        }
        return JSON.stringify(v);
      };
      const repeated = render(doc, []);
      JSON.parse(repeated);
      // The first repeat in text order is the target's, or one found earlier in the text (none: there is only one).
      expect(firstRepeatedJsonKey(repeated), repeated).toEqual([...target.path, target.key]);
    }
  });
});
