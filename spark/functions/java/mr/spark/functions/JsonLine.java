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
 *   <li>the value rules both functions read first (ValueRules);
 *   <li>int64, int64 the bytes the task may hold, as an ASCII mask (no quote, no backslash);
 *   <li>six times an int32 length and its bytes: the literal before the timestamp, user, task,
 *       status and duration values and after the last one ({@code {"timestamp":"},
 *       {@code ","user":"}, ..., <code>}</code>).
 * </ol>
 */
public final class JsonLine implements UDF2<byte[], byte[], Row> {
  private static final long serialVersionUID = 1L;
  /** A JSON duration is a bare number. */
  private static final byte[] NO_SUFFIX = new byte[0];

  /** The rules, read from their bytes. */
  private static final class Rules {
    final byte[] source;
    final ValueRules values;
    final long taskLo, taskHi;
    final byte[] beforeTs, beforeUser, beforeTask, beforeStatus, beforeDuration, after;

    Rules(byte[] source) {
      this.source = source;
      final ByteBuffer r = ByteBuffer.wrap(source).order(ByteOrder.LITTLE_ENDIAN);
      values = new ValueRules(r);
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

  /** The index of the next byte x at or after i, or -1. */
  private static int indexOf(byte[] b, int i, byte x) {
    while (i < b.length && b[i] != x) i++;
    return i < b.length ? i : -1;
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
    final ValueRules v = k.values;
    int i = literal(b, 0, k.beforeTs);
    if (i < 0) return null;
    final long seconds = v.instant(b, i);
    if (seconds == Long.MIN_VALUE) return null;
    // The user and the task are strings: each ends where the next literal starts (its closing
    // quote), which neither's allowed bytes hold.
    final int userStart = literal(b, i + 20, k.beforeUser);
    if (userStart < 0) return null;
    final int userEnd = indexOf(b, userStart, k.beforeTask[0]);
    if (userEnd < 0 || !v.user(b, userStart, userEnd)) return null;
    final int taskStart = literal(b, userEnd, k.beforeTask);
    if (taskStart < 0) return null;
    final int taskEnd = indexOf(b, taskStart, k.beforeStatus[0]);
    if (taskEnd <= taskStart || !ValueRules.allIn(b, taskStart, taskEnd, k.taskLo, k.taskHi)) return null;
    final int statusStart = literal(b, taskEnd, k.beforeStatus);
    if (statusStart < 0) return null;
    final int statusEnd = digits(b, statusStart);
    if (!v.status(b, statusStart, statusEnd)) return null;
    final int durStart = literal(b, statusEnd, k.beforeDuration);
    if (durStart < 0) return null;
    final int durEnd = digits(b, durStart);
    final long duration = v.duration(b, durStart, durEnd, NO_SUFFIX, false);
    if (duration < 0 || literal(b, durEnd, k.after) != b.length) return null;
    return RowFactory.create(
        new String(b, userStart, userEnd - userStart, StandardCharsets.ISO_8859_1),
        new String(b, taskStart, taskEnd - taskStart, StandardCharsets.ISO_8859_1),
        duration,
        seconds);
  }
}
