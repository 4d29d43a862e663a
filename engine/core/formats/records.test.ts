import { describe, expect, it } from 'vitest';
import { RecordParser } from './records.js';
import { csvLayout } from './csv.js';
import { billingConfigFromEnv } from '../config/config.js';
import { parseTimestamp } from '../validation/timestamp.js';

const config = billingConfigFromEnv({ RATE_login: '0.005', RATE_search: '0.0125', RATE_Upload: '2' });
const parser = new RecordParser(config, {});
const taskNo = (t: string) => config.rates.findIndex((r) => r.task === t);
const TS = '2025-05-02T10:00:00Z';

function verdict(line: string | Buffer, format: 'space' | 'csv' | 'jsonl', header = 'timestamp,user,task,status,duration_ms') {
  const bytes = typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
  const v = parser.parse(bytes, format, format === 'csv' ? csvLayout(header, 'f.csv') : undefined);
  return v.kind === 'rejected' ? v.reason : v.kind === 'accepted' ? `ok ${v.user} ${config.rates[v.task]!.task} ${v.durationMs}` : v.kind;
}

describe('space format', () => {
  it.each([
    [`${TS} user115 login 200 1568ms`, 'ok user115 login 1568'],
    [`  \t${TS}\t\tuser1   search 404 0ms \t `, 'ok user1 search 0'],
    [`${TS} u Upload 0200 3ms`, 'ok u Upload 3'],
    [`${TS} __proto__ login 200 1ms`, 'ok __proto__ login 1'],
    [`${TS} constructor login 200 1ms`, 'ok constructor login 1'],
    [`${TS} toString login 200 1ms`, 'ok toString login 1'],
    [`${TS} user1 login 200`, 'bad_field_count'],
    [`${TS} user1 login 200 1ms x`, 'bad_field_count'],
    [`${TS}`, 'bad_field_count'],
    [`${TS} us\u00a0er login 200 1ms`, 'bad_user'], // NBSP is not a separator
    [`${TS} us\u3000er login 200 1ms`, 'bad_user'],
    [`${TS} us\u2003er login 200 1ms`, 'bad_user'],
    [`${TS} us\u0085er login 200 1ms`, 'bad_user'],
    [`${TS} us\u000ber login 200 1ms`, 'bad_user'], // VT is content, not a separator
    [`${TS} us\rer login 200 1ms`, 'bad_user'],
    [`${TS} ${'u'.repeat(128)} login 200 1ms`, `ok ${'u'.repeat(128)} login 1`],
    [`${TS} ${'u'.repeat(129)} login 200 1ms`, 'bad_user'],
    [`${TS} user1 Login 200 1ms`, 'unknown_task'],
    [`${TS} user1 upload 200 1ms`, 'unknown_task'],
    [`${TS} user1 login 99 1ms`, 'bad_status'],
    [`${TS} user1 login 600 1ms`, 'bad_status'],
    [`${TS} user1 login +200 1ms`, 'bad_status'],
    [`${TS} user1 login 2e2 1ms`, 'bad_status'],
    [`${TS} user1 login 200 1568`, 'bad_duration'],
    [`${TS} user1 login 200 -5ms`, 'bad_duration'],
    [`${TS} user1 login 200 1.5ms`, 'bad_duration'],
    [`${TS} user1 login 200 12s`, 'bad_duration'],
    [`${TS} user1 login 200 86400000ms`, 'ok user1 login 86400000'],
    [`${TS} user1 login 200 86400001ms`, 'bad_duration'],
    [`${TS} user1 login 200 5ms\r`, 'bad_duration'], // a CR left after framing is content
    ['2025-02-29T10:00:00Z user1 login 200 1ms', 'bad_timestamp'],
    ['2024-02-29T10:00:00Z user1 login 200 1ms', 'ok user1 login 1'],
  ])('%j → %s', (line, expected) => {
    expect(verdict(line, 'space')).toBe(expected);
  });

  it('reasons in contract order: the first failing rule names the reason', () => {
    expect(verdict(Buffer.from([0xff, 0x20, 0x61]), 'space')).toBe('bad_encoding'); // also 2 fields
    expect(verdict('x b\x01ad nosuch 999 xms', 'space')).toBe('bad_timestamp');
    expect(verdict(`${TS} b\x01ad nosuch 999 xms`, 'space')).toBe('bad_user');
    expect(verdict(`${TS} bob nosuch 999 xms`, 'space')).toBe('unknown_task');
    expect(verdict(`${TS} bob login 999 xms`, 'space')).toBe('bad_status');
    expect(verdict(`${TS} bob login 200 xms`, 'space')).toBe('bad_duration');
  });

  it('bad_encoding: any invalid UTF-8 in the line, overlong forms and surrogates included', () => {
    for (const bad of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80]]) {
      const line = Buffer.concat([Buffer.from(`${TS} user1 login 200 1ms `), Buffer.from(bad)]);
      expect(verdict(line, 'space'), JSON.stringify(bad)).toBe('bad_encoding');
    }
  });
});

describe('CSV format', () => {
  const H = 'timestamp,user,task,status,duration_ms,extra';
  it.each([
    [`${TS},alice,login,200,100,x`, 'ok alice login 100'],
    [`${TS},alice,login,200,100ms,`, 'ok alice login 100'],
    [`"${TS}","a,b","login","200","5","x"`, 'ok a,b login 5'],
    [`${TS},"q""uote",login,200,5,x`, 'ok q"uote login 5'],
    [`${TS},alice,login,200,5`, 'bad_field_count'],
    [`${TS},alice,login,200,5,x,y`, 'bad_field_count'],
    [`${TS},al"ice,login,200,5,x`, 'bad_field_count'],
    [`${TS},"alice"x,login,200,5,x`, 'bad_field_count'],
    [`${TS},"alice,login,200,5,x`, 'bad_field_count'],
    [`${TS}, alice,login,200,5,x`, 'bad_user'],
    [`${TS},,login,200,5,x`, 'bad_user'],
    [` ${TS},alice,login,200,5,x`, 'bad_timestamp'],
    [`${TS},alice,login ,200,5,x`, 'unknown_task'],
    [`${TS},alice,,200,5,x`, 'unknown_task'],
    [`${TS},alice,login, 200,5,x`, 'bad_status'],
    [`${TS},alice,login,,5,x`, 'bad_status'],
    [`${TS},alice,login,200,5 ,x`, 'bad_duration'],
    [`${TS},alice,login,200,,x`, 'bad_duration'],
    [`${TS},alice,login,200,-1,x`, 'bad_duration'],
    [`${TS},alice,login,200,1.5,x`, 'bad_duration'],
    [`${TS},alice,login,200,ms,x`, 'bad_duration'],
    [`${TS},alice,login,200,12s,x`, 'bad_duration'],
  ])('%j → %s', (line, expected) => {
    expect(verdict(line, 'csv', H)).toBe(expected);
  });

  it('bad_encoding anywhere in the line, even an ignored column, comes before field count', () => {
    expect(verdict(Buffer.concat([Buffer.from(`${TS},alice,login,200,5,`), Buffer.from([0xff])]), 'csv', H)).toBe('bad_encoding');
    expect(verdict(Buffer.from([0xff]), 'csv', H)).toBe('bad_encoding');
  });

  it('columns by header name: user_id and duration aliases, any order', () => {
    expect(verdict(`7,200,search,hank,${TS}`, 'csv', 'Duration,STATUS,task,user_id,timestamp')).toBe('ok hank search 7');
  });
});

describe('JSON lines', () => {
  const j = (o: Record<string, unknown>) => JSON.stringify({ timestamp: TS, user: 'alice', task: 'login', status: 200, duration_ms: 5, ...o });
  const without = (k: string) => {
    const o: Record<string, unknown> = { timestamp: TS, user: 'alice', task: 'login', status: 200, duration_ms: 5 };
    delete o[k];
    return JSON.stringify(o);
  };
  it.each([
    [j({}), 'ok alice login 5'],
    [j({ status: 2e2 }), 'ok alice login 5'],
    [j({ extra: [1, { a: 2 }] }), 'ok alice login 5'],
    [j({ user: '__proto__' }), 'ok __proto__ login 5'],
    [`{"timestamp":"${TS}","user":"alice","task":"login","status":2e2,"duration_ms":1e3}`, 'ok alice login 1000'],
    // A number is judged as written, not as the double JSON.parse makes of it (README decision 47).
    [`{"timestamp":"${TS}","user":"alice","task":"login","status":200.000,"duration_ms":100e-2}`, 'ok alice login 1'],
    [`{"timestamp":"${TS}","user":"alice","task":"login","status":200,"duration_ms":4.9999999999999999999}`, 'bad_duration'],
    [`{"timestamp":"${TS}","user":"alice","task":"login","status":200,"duration_ms":1e-400}`, 'bad_duration'],
    [`{"timestamp":"${TS}","user":"alice","task":"login","status":199.99999999999999999,"duration_ms":5}`, 'bad_status'],
    [`{"timestamp":"${TS}","user":"alice","task":"login","status":200,"duration_ms":0.5,"duration_ms":7}`, 'ok alice login 7'],
    [`{"timestamp":"${TS}","user":"a\\"1.5e","task":"login","status":200,"x":[0.5],"duration_ms":7}`, 'ok a"1.5e login 7'],
    [`{"__proto__":{"user":"x"},"timestamp":"${TS}","user":"alice","task":"login","status":200,"duration_ms":5}`, 'ok alice login 5'],
    ['[1,2]', 'bad_json'],
    ['42', 'bad_json'],
    ['null', 'bad_json'],
    ['"str"', 'bad_json'],
    ['true', 'bad_json'],
    ['{', 'bad_json'],
    ["{'timestamp':1}", 'bad_json'],
    [`${j({})} x`, 'bad_json'],
    [without('timestamp'), 'bad_timestamp'],
    [j({ timestamp: 20250502 }), 'bad_timestamp'],
    [j({ timestamp: '2025-02-29T00:00:00Z' }), 'bad_timestamp'],
    [without('user'), 'bad_user'],
    [j({ user: 7 }), 'bad_user'],
    [j({ user: null }), 'bad_user'],
    [j({ user: '' }), 'bad_user'],
    [j({ user: 'a b' }), 'bad_user'],
    [j({ user: 'a\u0085b' }), 'bad_user'],
    [j({ user: 'a\u0000b' }), 'bad_user'],
    [`{"timestamp":"${TS}","user":"\\ud800","task":"login","status":200,"duration_ms":5}`, 'bad_user'], // lone surrogate: not UTF-8
    [without('task'), 'unknown_task'],
    [j({ task: 'LOGIN' }), 'unknown_task'],
    [j({ task: 1 }), 'unknown_task'],
    [without('status'), 'bad_status'],
    [j({ status: '200' }), 'bad_status'],
    [j({ status: 200.5 }), 'bad_status'],
    [j({ status: null }), 'bad_status'],
    [j({ status: 600 }), 'bad_status'],
    [without('duration_ms'), 'bad_duration'],
    [j({ duration_ms: '5' }), 'bad_duration'],
    [j({ duration_ms: '5ms' }), 'bad_duration'],
    [j({ duration_ms: -1 }), 'bad_duration'],
    [j({ duration_ms: 1.5 }), 'bad_duration'],
    [j({ duration_ms: 86400001 }), 'bad_duration'],
    [j({ duration_ms: 86400000 }), 'ok alice login 86400000'],
    [j({ timestamp: 'nope', user: '', task: 'x', status: 'y', duration_ms: 'z' }), 'bad_timestamp'],
  ])('%s → %s', (line, expected) => {
    expect(verdict(line, 'jsonl')).toBe(expected);
  });
});

describe('time window', () => {
  const w = { from: parseTimestamp('2025-05-02T00:00:00Z')!, to: parseTimestamp('2025-05-03T00:00:00Z')! };
  const p = new RecordParser(config, w);
  const v = (ts: string) => p.parse(Buffer.from(`${ts} u login 200 1ms`), 'space').kind;
  it('outside → out_of_window (not a reject); from inclusive, to exclusive, offsets honoured', () => {
    expect(v('2025-05-02T00:00:00Z')).toBe('accepted');
    expect(v('2025-05-01T23:59:59.9Z')).toBe('out_of_window');
    expect(v('2025-05-03T00:00:00Z')).toBe('out_of_window');
    expect(v('2025-05-03T01:00:00+02:00')).toBe('accepted');
  });
  it('a bad record outside the window is still a reject', () => {
    expect(p.parse(Buffer.from('2025-01-01T00:00:00Z u login 200 1'), 'space')).toEqual({ kind: 'rejected', reason: 'bad_duration' });
  });
  it('task index', () => {
    expect(taskNo('Upload')).toBe(0);
  });
});
