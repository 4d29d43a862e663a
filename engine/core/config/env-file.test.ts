import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { parseEnvFile } from './env-file.js';

const read = (text: string) => ({ ...parseEnvFile(text, 'x.env') });

describe('parseEnvFile', () => {
  it('reads what dotenv reads as dotenv reads it', () => {
    expect(read('# rates\nRATE_login=0.005\nexport RATE_search = "0.0125" # c\nA: 1\nB=\'x # y\'\nC=\n')).toEqual({
      RATE_login: '0.005',
      RATE_search: '0.0125',
      A: '1',
      B: 'x # y',
      C: '',
    });
    expect(read('\uFEFFRATE_a=1\r\nRATE_b=2\r\n')).toEqual({ RATE_a: '1', RATE_b: '2' });
    // `KEY: value` whose value holds a `=` is that key's (not a key up to the `=`).
    expect(read('RATE_login: 0.005 # was=0.004\nURL: http://h/?a=b\n')).toEqual({ RATE_login: '0.005', URL: 'http://h/?a=b' });
  });

  it('a key dotenv leaves out is read as written, as the environment would give it (task names a log may carry)', () => {
    expect(read('RATE_login=0.005\nRATE_café=2\nRATE_a b = "3" # c\nexport RATE_x,y=4\nRATE_q"/:@+=5\n')).toEqual({
      RATE_login: '0.005',
      RATE_café: '2',
      'RATE_a b': '3',
      'RATE_x,y': '4',
      'RATE_q"/:@+': '5',
    });
    // dotenv's plain object drops __proto__.
    expect(Object.entries(parseEnvFile('__proto__=x\nRATE___proto__=1\n', 'x.env'))).toEqual([
      ['RATE___proto__', '1'],
      ['__proto__', 'x'],
    ]);
  });

  it('another key set again: the last line wins, as in dotenv (overrides appended to a file)', () => {
    expect(read('AWS_ACCESS_KEY_ID=placeholder\nLOG_LEVEL=info\nAWS_ACCESS_KEY_ID=real\nK é=1\nK é=2\n')).toEqual({
      AWS_ACCESS_KEY_ID: 'real',
      LOG_LEVEL: 'info',
      'K é': '2',
    });
  });

  it("a key alone (Docker Compose's 'from the environment') sets nothing", () => {
    expect(read('RATE_login\nexport DEDUPE\nRATE_search=0.01\n')).toEqual({ RATE_search: '0.01' });
  });

  it('the lines of a quoted value over several lines are the value, not keys', () => {
    expect(read('A="multi\nRATE_z=3\nno key here\nend"\nB=1\n')).toEqual({ A: 'multi\nRATE_z=3\nno key here\nend', B: '1' });
    expect(read('RATE_é="multi\nline"\nC=1')).toEqual({ RATE_é: 'multi\nline', C: '1' });
    // Never closed: dotenv reads the first line alone, and so are the next lines read.
    expect(read('A="open\nB=2\n')).toEqual({ A: '"open', B: '2' });
  });

  it.each([
    ['a line without =', 'RATE_login=0.005\nRATE_search 0.01\n', /^x\.env line 2: not KEY=value \(the line is not shown: it may hold a secret\)$/],
    ['a secret broken onto a line of its own (never echoed)', 'AWS_SECRET_ACCESS_KEY=\nwJalrXUtnFEMI/K7MDENG+bPxRfiCY\n', /^x\.env line 2: not KEY=value \(the line is not shown: it may hold a secret\)$/],
    ['no key', '=5\n', /x\.env line 1/],
    ['a rate set twice (a bad value hidden by a later one)', 'RATE_x=bad\n# later\nRATE_x=0.5\n', /x\.env: RATE_x is set on line 1 and again on line 3/],
    ['a rate set twice, dotenv\'s forms mixed', 'export RATE_a=1\nRATE_a: 2\n', /RATE_a is set on line 1 and again on line 2/],
    ['a rate dotenv cannot name set twice', 'RATE_é=1\nRATE_é=1\n', /RATE_é is set on line 1 and again on line 2/],
  ])('%s is a ConfigError naming the file and line', (_name, text, message) => {
    expect(() => parseEnvFile(text, 'x.env')).toThrow(ConfigError);
    expect(() => parseEnvFile(text, 'x.env')).toThrow(message);
  });

  it('.env.example, which documents every key, reads whole', () => {
    const vars = parseEnvFile(readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8'), '.env.example');
    expect(vars.RATE_login).toBe('0.005');
    expect(vars.CURRENCY_DECIMALS).toBe('2');
  });
});
