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
 *   <li>the value rules both functions read first (ValueRules);
 *   <li>int32 the separator byte;
 *   <li>int64 the layout, one byte each from the lowest: field count, then the positions of the
 *       timestamp, user, task, status, duration and request id (255: no request id);
 *   <li>int32 1 when the duration's suffix is required (else optional);
 *   <li>int64, int64 the bytes a token (the task, a request id) may hold, as an ASCII mask;
 *   <li>int64, int64 the bytes any other field may hold, as an ASCII mask;
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
    final ValueRules values;
    final byte sep;
    final int fieldCount, tsAt, userAt, taskAt, statusAt, durAt, ridAt;
    final long tokenLo, tokenHi, otherLo, otherHi;
    final int requestIdMax;
    final boolean suffixRequired;
    final byte[] suffix;

    Rules(byte[] source) {
      this.source = source;
      final ByteBuffer r = ByteBuffer.wrap(source).order(ByteOrder.LITTLE_ENDIAN);
      values = new ValueRules(r);
      sep = (byte) r.getInt();
      final long lay = r.getLong();
      fieldCount = (int) (lay & 255);
      tsAt = (int) ((lay >>> 8) & 255);
      userAt = (int) ((lay >>> 16) & 255);
      taskAt = (int) ((lay >>> 24) & 255);
      statusAt = (int) ((lay >>> 32) & 255);
      durAt = (int) ((lay >>> 40) & 255);
      ridAt = (int) ((lay >>> 48) & 255);
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

  @Override
  public Row call(byte[] b, byte[] rulesBytes) {
    if (b == null || rulesBytes == null) return null;
    Rules k = rules;
    if (k == null || k.source != rulesBytes) rules = k = new Rules(rulesBytes);
    final ValueRules v = k.values;
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
        final long s = v.instant(b, start);
        if (s == Long.MIN_VALUE) return null;
        seconds = s;
      } else if (field == k.userAt) {
        if (!v.user(b, start, end)) return null;
        user = new String(b, start, len, StandardCharsets.ISO_8859_1);
      } else if (field == k.taskAt) {
        if (len == 0 || !ValueRules.allIn(b, start, end, k.tokenLo, k.tokenHi)) return null;
        task = new String(b, start, len, StandardCharsets.ISO_8859_1);
      } else if (field == k.statusAt) {
        if (!v.status(b, start, end)) return null;
      } else if (field == k.durAt) {
        duration = v.duration(b, start, end, k.suffix, k.suffixRequired);
        if (duration < 0) return null;
      } else if (field == k.ridAt) {
        if (len > k.requestIdMax || !ValueRules.allIn(b, start, end, k.tokenLo, k.tokenHi)) return null;
      } else if (!ValueRules.allIn(b, start, end, k.otherLo, k.otherHi)) {
        return null;
      }
      field++;
      start = end + 1;
    }
    if (field != fieldCount || user == null || task == null || duration < 0) return null;
    return RowFactory.create(user, task, duration, seconds);
  }
}
