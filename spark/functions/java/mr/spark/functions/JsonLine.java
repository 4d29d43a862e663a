package mr.spark.functions;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF2;

/**
 * The JSON lines fast path on the executors: one pass over a line's bytes that accepts only
 * the common object, {@code {"timestamp":"TS","user":"USER","task":"TASK","status":S,"duration_ms":D}}
 * exactly (the keys in the rules' order, no white space, no escapes, nothing else), and
 * returns its (user, task, duration, epoch seconds), or NULL for any other line, which the job
 * then judges by the exact rules (JSON.parse's). Every literal and limit comes from the job in
 * one BINARY argument, read once per task like DelimitedLine's (spark/functions/functions.ts
 * packs it from engine/core/validation/rules.ts, little-endian):
 *
 * <ol>
 *   <li>int64, int64 the user's allowed ASCII bytes as a bit mask: bytes 0-63, then 64-127;
 *   <li>int32 the user's length in bytes: {@code min << 16 | max};
 *   <li>int32 the status: {@code min << 16 | max}, exactly as many digits as max has;
 *   <li>int64 the days of each month in a common year, 5 bits each, January lowest;
 *   <li>int32 the clock's maxima: {@code hour << 16 | minute << 8 | second} (minima are 0);
 *   <li>int32 the most digits of a duration (ASCII digits, no leading zero but the one digit 0);
 *   <li>int64, int64 the bytes the task may hold, as a mask like the user's (no quote, no backslash);
 *   <li>six times an int32 length and its bytes: the literal before the timestamp, user, task,
 *       status and duration values and after the last one ({@code {"timestamp":"},
 *       {@code ","user":"}, ..., <code>}</code>).
 * </ol>
 */
public final class JsonLine implements UDF2<byte[], byte[], Row> {
  private static final long serialVersionUID = 1L;

  /** The rules, read from their bytes. */
  private static final class Rules {
    final byte[] source;
    final long userLo, userHi, days, taskLo, taskHi;
    final int userLen, status, clock, maxDigits;
    final byte[] beforeTs, beforeUser, beforeTask, beforeStatus, beforeDuration, after;

    Rules(byte[] source) {
      this.source = source;
      final ByteBuffer r = ByteBuffer.wrap(source).order(ByteOrder.LITTLE_ENDIAN);
      userLo = r.getLong();
      userHi = r.getLong();
      userLen = r.getInt();
      status = r.getInt();
      days = r.getLong();
      clock = r.getInt();
      maxDigits = r.getInt();
      taskLo = r.getLong();
      taskHi = r.getLong();
      beforeTs = bytes(r);
      beforeUser = bytes(r);
      beforeTask = bytes(r);
      beforeStatus = bytes(r);
      beforeDuration = bytes(r);
      after = bytes(r);
    }

    private static byte[] bytes(ByteBuffer r) {
      final byte[] out = new byte[r.getInt()];
      r.get(out);
      return out;
    }
  }

  /** The last rules read (the job's literal is one array per task; a race only reads them again). */
  private transient volatile Rules rules;

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
  public Row call(byte[] b, byte[] rulesBytes) {
    if (b == null || rulesBytes == null) return null;
    Rules k = rules;
    if (k == null || k.source != rulesBytes) rules = k = new Rules(rulesBytes);
    int i = literal(b, 0, k.beforeTs);
    if (i < 0 || i + 20 > b.length) return null;
    final long seconds = DelimitedLine.instant(b, i, k.days, k.clock);
    if (seconds == Long.MIN_VALUE) return null;
    i = literal(b, i + 20, k.beforeUser);
    if (i < 0) return null;
    final int userStart = i;
    i = run(b, i, k.userLo, k.userHi);
    final int userBytes = i - userStart;
    if (userBytes < (k.userLen >>> 16) || userBytes > (k.userLen & 0xFFFF)) return null;
    final int userEnd = i;
    i = literal(b, i, k.beforeTask);
    if (i < 0) return null;
    final int taskStart = i;
    i = run(b, i, k.taskLo, k.taskHi);
    if (i == taskStart) return null;
    final int taskEnd = i;
    i = literal(b, i, k.beforeStatus);
    if (i < 0) return null;
    final int statusEnd = digits(b, i);
    if (!DelimitedLine.statusOk(b, i, statusEnd, k.status)) return null;
    i = literal(b, statusEnd, k.beforeDuration);
    if (i < 0) return null;
    final int durEnd = digits(b, i);
    final int n = durEnd - i;
    if (n < 1 || n > k.maxDigits || (b[i] == '0' && n > 1)) return null;
    long duration = 0;
    for (int j = i; j < durEnd; j++) duration = duration * 10 + (b[j] - '0');
    if (literal(b, durEnd, k.after) != b.length) return null;
    return RowFactory.create(
        new String(b, userStart, userEnd - userStart, StandardCharsets.ISO_8859_1),
        new String(b, taskStart, taskEnd - taskStart, StandardCharsets.ISO_8859_1),
        duration,
        seconds);
  }
}
