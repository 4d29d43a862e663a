import { describe, expect, it } from 'vitest';
import { csvLayout, splitCsvLine } from './csv.js';
import { InputError } from '../errors.js';

describe('splitCsvLine (RFC 4180, one record per line)', () => {
  it.each([
    ['a,b,c', ['a', 'b', 'c']],
    ['', ['']],
    [',', ['', '']],
    ['a,,c,', ['a', '', 'c', '']],
    [' a , b ', [' a ', ' b ']], // not trimmed
    ['"a,b",c', ['a,b', 'c']],
    ['"q""uote",x', ['q"uote', 'x']],
    ['""', ['']],
    ['"",""', ['', '']],
    ['""""', ['"']],
    ['a,"b"', ['a', 'b']],
    ['"a\tb"', ['a\tb']],
    ['"é,😀"', ['é,😀']],
  ])('%j', (line, fields) => {
    expect(splitCsvLine(line)).toEqual(fields);
  });

  it.each([
    ['al"ice,x', 'quote inside an unquoted field'],
    ['alice",x', 'quote at the end of an unquoted field'],
    ['"alice"x,y', 'text after the closing quote'],
    ['"alice" ,y', 'space after the closing quote'],
    ['"alice,x', 'unterminated quote'],
    ['"a""', 'unterminated after a doubled quote'],
    ['x,"', 'lone quote'],
    [' "a",b', 'quote after a leading space'],
  ])('malformed: %j (%s)', (line) => {
    expect(splitCsvLine(line)).toBeNull();
  });
});

describe('csvLayout (header by name, trimmed, case-insensitive)', () => {
  it('finds every column in any order, ignoring extras', () => {
    expect(csvLayout('extra,duration_ms,status,task,user,timestamp', 'f.csv')).toEqual({
      fieldCount: 6,
      timestamp: 5,
      user: 4,
      task: 3,
      status: 2,
      duration: 1,
      requestId: -1,
      header: 'extra,duration_ms,status,task,user,timestamp',
    });
  });

  it('trims and lowercases names; accepts quoted names', () => {
    expect(csvLayout(' Timestamp ,"USER",Task,\tStatus\t,Duration', 'f.csv')).toMatchObject({ timestamp: 0, user: 1, task: 2, status: 3, duration: 4 });
  });

  it('trims every Unicode White_Space code point and U+FEFF, NEL included (decision 10), and nothing else', () => {
    const padded = '\u0085timestamp\u3000,\ufeffuser\u00a0,task\u2028,\u000bstatus\u0085,\u200aduration_ms\ufeff';
    expect(csvLayout(padded, 'f.csv')).toMatchObject({ timestamp: 0, user: 1, task: 2, status: 3, duration: 4 });
    // U+200B (zero width space) and U+180E (Mongolian vowel separator) are not White_Space: the name is another.
    expect(() => csvLayout('timestamp,user\u200b,task,status,duration_ms', 'f.csv')).toThrow('no "user" or "user_id" column');
    expect(() => csvLayout('timestamp,user,\u180etask,status,duration_ms', 'f.csv')).toThrow('no "task" column');
  });

  it('aliases: user_id, duration; `user` wins over `user_id`, duration_ms over duration', () => {
    expect(csvLayout('timestamp,user_id,task,status,duration', 'f.csv')).toMatchObject({ user: 1, duration: 4 });
    expect(csvLayout('timestamp,user_id,user,task,status,duration_ms', 'f.csv')).toMatchObject({ user: 2 });
    expect(csvLayout('user,timestamp,user_id,task,status,duration_ms', 'f.csv')).toMatchObject({ user: 0 });
    expect(csvLayout('timestamp,user,task,status,duration,duration_ms', 'f.csv')).toMatchObject({ duration: 5 });
  });

  it.each(['timestamp', 'user', 'task', 'status', 'duration'])('a missing %s column is an InputError naming the file and the column', (col) => {
    const all = ['timestamp', 'user', 'task', 'status', 'duration_ms'];
    const header = all.filter((c) => !c.startsWith(col)).join(',');
    let err: unknown;
    try {
      csvLayout(header, 'dir/f.csv');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain('dir/f.csv');
    expect((err as Error).message).toContain(`"${col}`);
  });

  it.each(['timestamp,user,task,status,duration_ms,Task', 'timestamp,user,USER ,task,status,duration_ms', 'timestamp,user_id,user_id,task,status,duration_ms'])(
    'a column named twice is an InputError: %s',
    (header) => {
      expect(() => csvLayout(header, 'f.csv')).toThrow(InputError);
    },
  );

  it('a malformed header is an InputError', () => {
    expect(() => csvLayout('timestamp,"user,task,status,duration_ms', 'f.csv')).toThrow(InputError);
  });
});
