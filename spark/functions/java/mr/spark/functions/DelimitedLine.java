package mr.spark.functions;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF2;

/**
 * The fast path of the space and CSV formats on the executors: one pass over a line's bytes
 * that accepts only the common shape of a valid line and returns its (user, task, duration,
 * epoch seconds), or NULL for any other line, which the job then judges by the exact rules.
 *
 * The common shape: the line's fields split on one separator byte, exactly as many as the
 * layout says, nothing before or after (no CR, no quotes), the timestamp
 * {@code YYYY-MM-DDTHH:MM:SSZ} with the calendar and clock in range, the user of allowed ASCII
 * bytes, the task a token, the status digits in range, the duration ASCII digits without a
 * leading zero and its suffix. Every limit comes from the job in one BINARY argument, the
 * rules (spark/functions/functions.ts packs them from engine/core/validation/rules.ts and the
 * CSV header's layout, little-endian), so a rule changed there changes this function too; it is
 * read once per task (the job passes it as a literal: the same array on every row), so no
 * argument is boxed per line:
 *
 * <ol>
 *   <li>int32 the separator byte;
 *   <li>int64 the layout, one byte each from the lowest: field count, then the positions of the
 *       timestamp, user, task, status, duration and request id (255: no request id);
 *   <li>int64, int64 the user's allowed ASCII bytes as a bit mask: bytes 0-63, then 64-127;
 *   <li>int32 the user's length in bytes: {@code min << 16 | max};
 *   <li>int32 the status: {@code min << 16 | max}, exactly as many digits as max has;
 *   <li>int64 the days of each month in a common year, 5 bits each, January lowest (29
 *       February is left to the exact path);
 *   <li>int32 the clock's maxima: {@code hour << 16 | minute << 8 | second} (minima are 0);
 *   <li>int32 the most digits of a duration;
 *   <li>int32 1 when the duration's suffix is required (else optional);
 *   <li>int64, int64 the bytes a token (the task, a request id) may hold, as a mask;
 *   <li>int64, int64 the bytes any other field may hold, as a mask;
 *   <li>int32 the request id's most bytes (it may be empty: none);
 *   <li>int32 the suffix's length, then its bytes.
 * </ol>
 *
 * The task is returned as it stands (1 or more token bytes); the job checks it against the
 * configured tasks and the duration against its limit.
 */
public final class DelimitedLine implements UDF2<byte[], byte[], Row> {
  private static final long serialVersionUID = 1L;

  /** The rules, read from their bytes. */
  private static final class Rules {
    final byte[] source;
    final byte sep;
    final int fieldCount, tsAt, userAt, taskAt, statusAt, durAt, ridAt;
    final long userLo, userHi, days, tokenLo, tokenHi, otherLo, otherHi;
    final int userLen, status, clock, maxDigits, requestIdMax;
    final boolean suffixRequired;
    final byte[] suffix;

    Rules(byte[] source) {
      this.source = source;
      final ByteBuffer r = ByteBuffer.wrap(source).order(ByteOrder.LITTLE_ENDIAN);
      sep = (byte) r.getInt();
      final long lay = r.getLong();
      fieldCount = (int) (lay & 255);
      tsAt = (int) ((lay >>> 8) & 255);
      userAt = (int) ((lay >>> 16) & 255);
      taskAt = (int) ((lay >>> 24) & 255);
      statusAt = (int) ((lay >>> 32) & 255);
      durAt = (int) ((lay >>> 40) & 255);
      ridAt = (int) ((lay >>> 48) & 255);
      userLo = r.getLong();
      userHi = r.getLong();
      userLen = r.getInt();
      status = r.getInt();
      days = r.getLong();
      clock = r.getInt();
      maxDigits = r.getInt();
      suffixRequired = r.getInt() != 0;
      tokenLo = r.getLong();
      tokenHi = r.getLong();
      otherLo = r.getLong();
      otherHi = r.getLong();
      requestIdMax = r.getInt();
      suffix = new byte[r.getInt()];
      r.get(suffix);
    }
  }

  /** The last rules read (the job's literal is one array per task; a race only reads them again). */
  private transient volatile Rules rules;

  /** Two ASCII digits at i as a number, or -1. */
  private static int twoDigits(byte[] b, int i) {
    int a = b[i] - '0';
    int c = b[i + 1] - '0';
    if (a < 0 || a > 9 || c < 0 || c > 9) return -1;
    return a * 10 + c;
  }

  /** Every byte of b[from, to) is in the ASCII mask (lo: bytes 0-63, hi: 64-127). */
  private static boolean allIn(byte[] b, int from, int to, long lo, long hi) {
    for (int i = from; i < to; i++) {
      final int x = b[i];
      if (x < 0) return false;
      if (x < 64 ? ((lo >>> x) & 1) == 0 : ((hi >>> (x - 64)) & 1) == 0) return false;
    }
    return true;
  }

  @Override
  public Row call(byte[] b, byte[] rulesBytes) {
    if (b == null || rulesBytes == null) return null;
    Rules k = rules;
    if (k == null || k.source != rulesBytes) rules = k = new Rules(rulesBytes);
    final int n = b.length;
    final byte sep = k.sep;
    final int fieldCount = k.fieldCount;

    String user = null;
    String task = null;
    long duration = -1;
    long seconds = 0;
    int field = 0;
    int start = 0;
    for (int end = 0; end <= n; end++) {
      if (end < n && b[end] != sep) continue;
      // The field b[start, end), number `field`.
      if (field >= fieldCount) return null;
      final int len = end - start;
      if (field == k.tsAt) {
        if (len != 20) return null;
        final long s = instant(b, start, k.days, k.clock);
        if (s == Long.MIN_VALUE) return null;
        seconds = s;
      } else if (field == k.userAt) {
        if (len < (k.userLen >>> 16) || len > (k.userLen & 0xFFFF) || !allIn(b, start, end, k.userLo, k.userHi)) return null;
        user = new String(b, start, len, StandardCharsets.ISO_8859_1);
      } else if (field == k.taskAt) {
        if (len == 0 || !allIn(b, start, end, k.tokenLo, k.tokenHi)) return null;
        task = new String(b, start, len, StandardCharsets.ISO_8859_1);
      } else if (field == k.statusAt) {
        if (!statusOk(b, start, end, k.status)) return null;
      } else if (field == k.durAt) {
        duration = duration(b, start, end, k.maxDigits, k.suffix, k.suffixRequired);
        if (duration < 0) return null;
      } else if (field == k.ridAt) {
        if (len > k.requestIdMax || !allIn(b, start, end, k.tokenLo, k.tokenHi)) return null;
      } else if (!allIn(b, start, end, k.otherLo, k.otherHi)) {
        return null;
      }
      field++;
      start = end + 1;
    }
    if (field != fieldCount || user == null || task == null || duration < 0) return null;
    return RowFactory.create(user, task, duration, seconds);
  }

  /** The timestamp {@code YYYY-MM-DDTHH:MM:SSZ} at b[i, i + 20) → epoch seconds, or Long.MIN_VALUE. */
  static long instant(byte[] b, int i, long days, int clock) {
    final int y0 = twoDigits(b, i);
    final int y1 = twoDigits(b, i + 2);
    if (y0 < 0 || y1 < 0 || b[i + 4] != '-' || b[i + 7] != '-' || b[i + 10] != 'T' || b[i + 13] != ':' || b[i + 16] != ':' || b[i + 19] != 'Z') {
      return Long.MIN_VALUE;
    }
    final int mo = twoDigits(b, i + 5);
    final int d = twoDigits(b, i + 8);
    final int hh = twoDigits(b, i + 11);
    final int mi = twoDigits(b, i + 14);
    final int se = twoDigits(b, i + 17);
    if (mo < 1 || mo > 12 || d < 1 || d > (int) ((days >>> (5 * (mo - 1))) & 31)) return Long.MIN_VALUE;
    if (hh < 0 || hh > ((clock >>> 16) & 255) || mi < 0 || mi > ((clock >>> 8) & 255) || se < 0 || se > (clock & 255)) return Long.MIN_VALUE;
    // Proleptic Gregorian days from the civil date.
    final int year = y0 * 100 + y1;
    final long yy = mo <= 2 ? year - 1 : year;
    final long era = Math.floorDiv(yy, 400);
    final long yoe = yy - era * 400;
    final long doy = (153L * ((mo + 9) % 12) + 2) / 5 + d - 1;
    final long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (era * 146097 + doe - 719468) * 86400L + hh * 3600L + mi * 60L + se;
  }

  /** As many ASCII digits as the status's maximum has, in range. */
  static boolean statusOk(byte[] b, int from, int to, int status) {
    final int min = status >>> 16;
    final int max = status & 0xFFFF;
    int width = 1;
    for (int m = max; m >= 10; m /= 10) width++;
    if (to - from != width) return false;
    int v = 0;
    for (int i = from; i < to; i++) {
      final int x = b[i] - '0';
      if (x < 0 || x > 9) return false;
      v = v * 10 + x;
    }
    return v >= min && v <= max;
  }

  /** ASCII digits without a leading zero (or the one digit 0), then the suffix (required or optional) → their value, or -1. */
  private static long duration(byte[] b, int from, int to, int maxDigits, byte[] suffix, boolean suffixRequired) {
    int digitsEnd = to;
    final int sl = suffix.length;
    boolean suffixed = to - from >= sl;
    for (int k = 0; suffixed && k < sl; k++) suffixed = b[to - sl + k] == suffix[k];
    if (suffixed) digitsEnd = to - sl;
    else if (suffixRequired) return -1;
    final int digits = digitsEnd - from;
    if (digits < 1 || digits > maxDigits || (b[from] == '0' && digits > 1)) return -1;
    long v = 0;
    for (int i = from; i < digitsEnd; i++) {
      final int x = b[i] - '0';
      if (x < 0 || x > 9) return -1;
      v = v * 10 + x;
    }
    return v;
  }
}
