package mr.spark.functions;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.spark.sql.api.java.UDF0;

/**
 * The version of these functions on the cluster: the SHA-256 of their Java sources, written
 * into the jar as the resource {@code version} when it is built. The job uses the functions
 * only when this equals the hash of the sources it was shipped with, so a cluster started with
 * an older jar falls back to the SQL fast path instead of running code the job does not expect.
 */
public final class Version implements UDF0<String> {
  private static final long serialVersionUID = 1L;

  private static final String VALUE = read();

  private static String read() {
    try (InputStream in = Version.class.getResourceAsStream("version")) {
      return in == null ? "" : new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public String call() {
    return VALUE;
  }
}
