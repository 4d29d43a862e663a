package mr.spark.functions;

import java.nio.charset.StandardCharsets;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF10;

/**
 * The space format's fast path on the executors: one pass over a line's bytes that accepts
 * only the common shape of a valid line and returns its (user, task, duration, epoch
 * seconds), or NULL for any other line, which the job then judges by the exact rules.
 *
 * The common shape: {@code YYYY-MM-DDTHH:MM:SSZ USER TASK STATUS DURATIONms}, one separator
 * between fields, nothing before or after. Every limit comes from the job as an argument
 * (spark/functions/functions.ts packs them from engine/core/validation/rules.ts), so a rule
 * changed there changes this function too:
 *
 * <ol>
 *   <li>the line's bytes (BINARY);
 *   <li>, 3. the user's allowed ASCII bytes as a bit mask: bytes 0-63, then 64-127;
 *   <li>the user's length in bytes: {@code min << 16 | max};
 *   <li>the status: {@code min << 16 | max}, exactly as many digits as max has;
 *   <li>the days of each month in a common year, 5 bits each, January lowest (29 February
 *       is left to the exact path);
 *   <li>the clock's maxima: {@code hour << 16 | minute << 8 | second} (minima are 0);
 *   <li>the most digits of a duration (ASCII digits, no leading zero but the one digit 0);
 *   <li>the separator byte;
 *   <li>the duration's suffix bytes.
 * </ol>
 *
 * The task is returned as it stands (1 or more printable ASCII bytes); the job checks it
 * against the configured tasks and the duration against its limit.
 */
public final class SpaceLine implements UDF10<byte[], Long, Long, Integer, Integer, Long, Integer, Integer, Integer, byte[], Row> {
  private static final long serialVersionUID = 1L;

  /** Two ASCII digits at i as a number, or -1. */
  private static int twoDigits(byte[] b, int i) {
    int a = b[i] - '0';
    int c = b[i + 1] - '0';
    if (a < 0 || a > 9 || c < 0 || c > 9) return -1;
    return a * 10 + c;
  }

  @Override
  public Row call(byte[] b, Long userLo, Long userHi, Integer userLen, Integer status, Long days, Integer clock,
      Integer maxDigits, Integer separator, byte[] suffix) {
    if (b == null) return null;
    final int n = b.length;
    final byte sep = (byte) (int) separator;
    if (n < 21) return null;

    // YYYY-MM-DDTHH:MM:SSZ and a separator.
    final int y0 = twoDigits(b, 0);
    final int y1 = twoDigits(b, 2);
    if (y0 < 0 || y1 < 0 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != 'Z' || b[20] != sep) {
      return null;
    }
    final int mo = twoDigits(b, 5);
    final int d = twoDigits(b, 8);
    final int hh = twoDigits(b, 11);
    final int mi = twoDigits(b, 14);
    final int se = twoDigits(b, 17);
    if (mo < 1 || mo > 12 || d < 1 || d > (int) ((days >>> (5 * (mo - 1))) & 31)) return null;
    final int c = clock;
    if (hh < 0 || hh > ((c >>> 16) & 255) || mi < 0 || mi > ((c >>> 8) & 255) || se < 0 || se > (c & 255)) return null;

    // The user: allowed ASCII bytes only, its length in range.
    int i = 21;
    final long lo = userLo;
    final long hi = userHi;
    final int userStart = i;
    while (i < n && b[i] != sep) {
      final int x = b[i];
      if (x < 0) return null;
      if (x < 64 ? ((lo >>> x) & 1) == 0 : ((hi >>> (x - 64)) & 1) == 0) return null;
      i++;
    }
    final int userBytes = i - userStart;
    final int ul = userLen;
    if (i >= n || userBytes < (ul >>> 16) || userBytes > (ul & 0xFFFF)) return null;

    // The task: printable ASCII, not empty.
    final int taskStart = ++i;
    while (i < n && b[i] != sep) {
      final int x = b[i];
      if (x < 0x21 || x > 0x7E) return null;
      i++;
    }
    if (i >= n || i == taskStart) return null;
    final int taskEnd = i;

    // The status: as many ASCII digits as its maximum has, in range.
    final int st = status;
    final int statusMin = st >>> 16;
    final int statusMax = st & 0xFFFF;
    int width = 1;
    for (int m = statusMax; m >= 10; m /= 10) width++;
    final int statusStart = ++i;
    int sv = 0;
    while (i < n && b[i] != sep) {
      final int x = b[i] - '0';
      if (x < 0 || x > 9 || i - statusStart >= width) return null;
      sv = sv * 10 + x;
      i++;
    }
    if (i >= n || i - statusStart != width || sv < statusMin || sv > statusMax) return null;

    // The duration: digits without a leading zero (or the one digit 0), the suffix, the line's end.
    final int durStart = ++i;
    final int durEnd = n - suffix.length;
    if (durEnd <= durStart || durEnd - durStart > maxDigits) return null;
    if (b[durStart] == '0' && durEnd - durStart > 1) return null;
    long dv = 0;
    for (; i < durEnd; i++) {
      final int x = b[i] - '0';
      if (x < 0 || x > 9) return null;
      dv = dv * 10 + x;
    }
    for (int k = 0; k < suffix.length; k++) {
      if (b[durEnd + k] != suffix[k]) return null;
    }

    // Epoch seconds of the instant (proleptic Gregorian days from the civil date).
    final int year = y0 * 100 + y1;
    final long yy = mo <= 2 ? year - 1 : year;
    final long era = Math.floorDiv(yy, 400);
    final long yoe = yy - era * 400;
    final long doy = (153L * ((mo + 9) % 12) + 2) / 5 + d - 1;
    final long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    final long seconds = (era * 146097 + doe - 719468) * 86400L + hh * 3600L + mi * 60L + se;

    return RowFactory.create(
        new String(b, userStart, userBytes, StandardCharsets.ISO_8859_1),
        new String(b, taskStart, taskEnd - taskStart, StandardCharsets.ISO_8859_1),
        dv,
        seconds);
  }
}
