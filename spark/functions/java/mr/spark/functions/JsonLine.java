package mr.spark.functions;

import java.nio.charset.StandardCharsets;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF16;

/**
 * The JSON lines fast path on the executors: one pass over a line's bytes that accepts only
 * the common object, {@code {"timestamp":"TS","user":"USER","task":"TASK","status":S,"duration_ms":D}}
 * exactly (the keys in the rules' order, no white space, no escapes, nothing else), and
 * returns its (user, task, duration, epoch seconds), or NULL for any other line, which the job
 * then judges by the exact rules (JSON.parse's). Every literal and limit comes from the job as
 * an argument (spark/functions/functions.ts packs them from engine/core/validation/rules.ts):
 *
 * <ol>
 *   <li>the line's bytes (BINARY);
 *   <li>- 7. the literal bytes before the timestamp, user, task, status and duration values and
 *       after the last one ({@code {"timestamp":"}, {@code ","user":"}, ..., <code>}</code>);
 *   <li>, 9. the user's allowed ASCII bytes as a bit mask: bytes 0-63, then 64-127;
 *   <li>the user's length in bytes: {@code min << 16 | max};
 *   <li>the status: {@code min << 16 | max}, exactly as many digits as max has;
 *   <li>the days of each month in a common year, 5 bits each, January lowest;
 *   <li>the clock's maxima: {@code hour << 16 | minute << 8 | second} (minima are 0);
 *   <li>the most digits of a duration (ASCII digits, no leading zero but the one digit 0);
 *   <li>, 16. the bytes the task may hold, as a mask like the user's (no quote, no backslash).
 * </ol>
 */
public final class JsonLine
    implements UDF16<byte[], byte[], byte[], byte[], byte[], byte[], byte[], Long, Long, Integer, Integer, Long, Integer, Integer, Long, Long, Row> {
  private static final long serialVersionUID = 1L;

  /** b has `lit` at i: the index after it, or -1. */
  private static int literal(byte[] b, int i, byte[] lit) {
    if (i < 0 || i + lit.length > b.length) return -1;
    for (int k = 0; k < lit.length; k++) {
      if (b[i + k] != lit[k]) return -1;
    }
    return i + lit.length;
  }

  /** The end of a run of mask bytes from i (stops at the first other byte). */
  private static int run(byte[] b, int i, long lo, long hi) {
    while (i < b.length) {
      final int x = b[i];
      if (x < 0 || (x < 64 ? ((lo >>> x) & 1) == 0 : ((hi >>> (x - 64)) & 1) == 0)) break;
      i++;
    }
    return i;
  }

  /** The end of a run of ASCII digits from i. */
  private static int digits(byte[] b, int i) {
    while (i < b.length && b[i] >= '0' && b[i] <= '9') i++;
    return i;
  }

  @Override
  public Row call(byte[] b, byte[] beforeTs, byte[] beforeUser, byte[] beforeTask, byte[] beforeStatus, byte[] beforeDuration, byte[] after,
      Long userLo, Long userHi, Integer userLen, Integer status, Long days, Integer clock, Integer maxDigits, Long taskLo, Long taskHi) {
    if (b == null) return null;
    int i = literal(b, 0, beforeTs);
    if (i < 0 || i + 20 > b.length) return null;
    final long seconds = DelimitedLine.instant(b, i, days, clock);
    if (seconds == Long.MIN_VALUE) return null;
    i = literal(b, i + 20, beforeUser);
    if (i < 0) return null;
    final int userStart = i;
    i = run(b, i, userLo, userHi);
    final int userBytes = i - userStart;
    final int ul = userLen;
    if (userBytes < (ul >>> 16) || userBytes > (ul & 0xFFFF)) return null;
    final int userEnd = i;
    i = literal(b, i, beforeTask);
    if (i < 0) return null;
    final int taskStart = i;
    i = run(b, i, taskLo, taskHi);
    if (i == taskStart) return null;
    final int taskEnd = i;
    i = literal(b, i, beforeStatus);
    if (i < 0) return null;
    final int statusEnd = digits(b, i);
    if (!DelimitedLine.statusOk(b, i, statusEnd, status)) return null;
    i = literal(b, statusEnd, beforeDuration);
    if (i < 0) return null;
    final int durEnd = digits(b, i);
    final int n = durEnd - i;
    if (n < 1 || n > maxDigits || (b[i] == '0' && n > 1)) return null;
    long duration = 0;
    for (int k = i; k < durEnd; k++) duration = duration * 10 + (b[k] - '0');
    if (literal(b, durEnd, after) != b.length) return null;
    return RowFactory.create(
        new String(b, userStart, userEnd - userStart, StandardCharsets.ISO_8859_1),
        new String(b, taskStart, taskEnd - taskStart, StandardCharsets.ISO_8859_1),
        duration,
        seconds);
  }
}
