/**
 * The memory a bounded usage table's spills reuse (UserTable.spillWhenFull): each spill's
 * sorted image is written into it, so an image lives only until the spill function returns
 * (writeRun has written it to its run by then). Shared memory: after its spills, a worker's
 * last image (the flush's, which the bill's key ranges read from every worker) is written
 * there too, rather than into a third buffer of the bound's size beside it and the table's.
 *
 * A new image per spill was memory the collector freed only later: at 10M users of ten rates
 * each worker spilled an image of 128 MiB about once a second, and two or three of them were
 * still mapped at a time (`strace -e mmap,munmap`: freed 1-2 s after the next was made): the
 * bench's 10M-user file with ten rates peaked at 1,453 MiB, and at 1,242 with one buffer
 * (README decision 40).
 */
export class SpillMemory {
  private recordBuffer = new SharedArrayBuffer(0);
  private longKeyBuffer = new SharedArrayBuffer(0);

  /** True once an image was written here. */
  get used(): boolean {
    return this.recordBuffer.byteLength > 0 || this.longKeyBuffer.byteLength > 0;
  }

  /** n bytes for an image's records; they hold the last spill's bytes until written over. */
  records(n: number): Uint8Array {
    if (n > this.recordBuffer.byteLength) this.recordBuffer = new SharedArrayBuffer(n);
    return new Uint8Array(this.recordBuffer, 0, n);
  }

  /** n bytes for an image's long keys; they hold the last spill's bytes until written over. */
  longKeys(n: number): Uint8Array {
    if (n > this.longKeyBuffer.byteLength) this.longKeyBuffer = new SharedArrayBuffer(n);
    return new Uint8Array(this.longKeyBuffer, 0, n);
  }
}
