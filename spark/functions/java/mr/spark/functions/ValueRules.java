package mr.spark.functions;

import java.nio.ByteBuffer;

/**
 * What both line functions check of a line's values (timestamp, user, status, duration), with
 * the rules they read first from their rules bytes (spark/functions/functions.ts writes them
 * first, little-endian):
 *
 * <ol>
 *   <li>int64, int64 the user's allowed ASCII bytes as a bit mask: bytes 0-63, then 64-127;
 *   <li>int32 the user's length in bytes: {@code min << 16 | max};
 *   <li>int32 the status: {@code min << 16 | max}, exactly as many digits as max has;
 *   <li>int64 the days of each month in a common year, 5 bits each, January lowest (29
 *       February is left to the exact path);
 *   <li>int32 the clock's maxima: {@code hour << 16 | minute << 8 | second} (minima are 0);
 *   <li>int32 the most digits of a duration.
 * </ol>
 */
final class ValueRules {
  private final long userLo, userHi, days;
  private final int userLen, status, clock, maxDigits;

  ValueRules(ByteBuffer r) {
    userLo = r.getLong();
    userHi = r.getLong();
    userLen = r.getInt();
    status = r.getInt();
    days = r.getLong();
    clock = r.getInt();
    maxDigits = r.getInt();
  }

  /** x (a byte as an int) is ASCII and in the mask (lo: bytes 0-63, hi: 64-127). */
  static boolean inMask(int x, long lo, long hi) {
    return x >= 0 && (x < 64 ? ((lo >>> x) & 1) != 0 : ((hi >>> (x - 64)) & 1) != 0);
  }

  /** Every byte of b[from, to) is in the mask. */
  static boolean allIn(byte[] b, int from, int to, long lo, long hi) {
    for (int i = from; i < to; i++) {
      if (!inMask(b[i], lo, hi)) return false;
    }
    return true;
  }

  /** Two ASCII digits at i as a number, or -1. */
  private static int twoDigits(byte[] b, int i) {
    final int a = b[i] - '0';
    final int c = b[i + 1] - '0';
    if (a < 0 || a > 9 || c < 0 || c > 9) return -1;
    return a * 10 + c;
  }

  /** The user b[from, to): allowed bytes only, its length in range. */
  boolean user(byte[] b, int from, int to) {
    final int len = to - from;
    return len >= (userLen >>> 16) && len <= (userLen & 0xFFFF) && allIn(b, from, to, userLo, userHi);
  }

  /** The timestamp {@code YYYY-MM-DDTHH:MM:SSZ} at b[i, i + 20) → epoch seconds, or Long.MIN_VALUE. */
  long instant(byte[] b, int i) {
    if (i + 20 > b.length) return Long.MIN_VALUE;
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

  /** The status b[from, to): as many ASCII digits as its maximum has, in range. */
  boolean status(byte[] b, int from, int to) {
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

  /**
   * The duration b[from, to): ASCII digits without a leading zero (or the one digit 0), then
   * the suffix (required or optional; empty for none) → their value, or -1.
   */
  long duration(byte[] b, int from, int to, byte[] suffix, boolean suffixRequired) {
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
