// Mass insertion into Redis: commands encoded as RESP and streamed through `redis-cli --pipe`,
// which writes them as fast as Redis reads and counts the replies and errors at the end (the
// method Redis documents for loading a lot at once). Commands are encoded byte by byte into one
// buffer (building strings cost more than Redis took to run the commands): string arguments
// must be ASCII (keys, numbers, titles), packed fields are bytes.

import { writeU32, writeU64 } from "../../src/protocol/bytes.ts";

/** Commands are handed to redis-cli once this many bytes are buffered. */
const FLUSH_AT = 4 * 1024 * 1024;
/** The largest command this encoder expects (an HSET of every field, a ZADD of a round's ids). */
const MAX_COMMAND = 1024 * 1024;
const CR = 13;
const LF = 10;
const ARRAY = 42; // '*'
const BULK = 36; // '$'
/** The longest value one BinaryPacker builds (create.lua's fx: seven u64s). */
const MAX_PACKED = 64;

/** Big-endian integers (the Lua scripts' struct layouts) packed into bytes. */
export class BinaryPacker {
  private readonly bytes = new Uint8Array(MAX_PACKED);
  private length = 0;

  u8(value: number): this {
    this.bytes[this.length] = value;
    this.length += 1;
    return this;
  }

  u32(value: number): this {
    writeU32(this.bytes, this.length, value);
    this.length += 4;
    return this;
  }

  /** Up to 2^53-1, as Lua's struct I8 packs it. */
  u64(value: number): this {
    writeU64(this.bytes, this.length, value);
    this.length += 8;
    return this;
  }

  /** The bytes packed since the last take(); valid until the next packing (command() copies them). */
  take(): Uint8Array {
    const view = this.bytes.subarray(0, this.length);
    this.length = 0;
    return view;
  }
}

/**
 * @example
 * const pipe = RedisPipe.open("redis://127.0.0.1:6379");
 * pipe.command("SET", "k", "v");
 * await pipe.finish(); // throws when any command failed
 */
export class RedisPipe {
  private readonly buffer = new Uint8Array(FLUSH_AT + MAX_COMMAND);
  private length = 0;
  private sent = 0;
  private readonly proc;

  private constructor(url: string) {
    const binary = Bun.which("redis-cli");
    if (binary === null) throw new Error("redis-cli is not on the PATH (it comes with redis-server: apt-get install redis-tools)");
    this.proc = Bun.spawn([binary, "-u", url, "--pipe"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  }

  static open(url: string): RedisPipe {
    return new RedisPipe(url);
  }

  /** Queues one command: ASCII strings, whole numbers, or bytes. */
  command(...args: (string | number | Uint8Array)[]): void {
    if (this.length >= FLUSH_AT) this.handOver();
    this.header(ARRAY, args.length);
    for (const arg of args) {
      if (arg instanceof Uint8Array) {
        this.header(BULK, arg.length);
        this.buffer.set(arg, this.length);
        this.length += arg.length;
      } else {
        const text = typeof arg === "number" ? String(arg) : arg;
        this.header(BULK, text.length);
        this.ascii(text);
      }
      this.crlf();
    }
    // Writes past the end are dropped by the typed array: fail rather than send a cut command.
    if (this.length > this.buffer.length) throw new Error(`RedisPipe: a command longer than ${MAX_COMMAND} bytes`);
    this.sent++;
  }

  /** Sends the rest and waits for every reply; throws unless every command sent succeeded. */
  async finish(): Promise<number> {
    await this.flush();
    await this.proc.stdin.end();
    const [out, err, code] = await Promise.all([new Response(this.proc.stdout).text(), new Response(this.proc.stderr).text(), this.proc.exited]);
    const tally = /errors: (\d+), replies: (\d+)/.exec(out);
    if (code !== 0 || tally === null || tally[1] !== "0" || Number(tally[2]) !== this.sent) {
      throw new Error(`redis-cli --pipe: ${this.sent} commands sent, exit ${code}:\n${out.slice(-2000)}${err.slice(-2000)}`);
    }
    return this.sent;
  }

  /**
   * Hands what is buffered to redis-cli and waits until the pipe took everything handed over:
   * call it every so many commands, so what waits in this process stays bounded.
   */
  async flush(): Promise<void> {
    this.handOver();
    await this.proc.stdin.flush();
  }

  /** The buffer to the pipe's sink, which keeps what the pipe cannot take yet. */
  private handOver(): void {
    if (this.length === 0) return;
    // A copy: the buffer is refilled at once, whatever the sink still holds.
    this.proc.stdin.write(this.buffer.slice(0, this.length));
    this.length = 0;
  }

  /** `*<n>\r\n` or `$<n>\r\n`. */
  private header(type: number, n: number): void {
    this.buffer[this.length++] = type;
    this.ascii(String(n));
    this.crlf();
  }

  private ascii(text: string): void {
    for (let i = 0; i < text.length; i++) this.buffer[this.length++] = text.charCodeAt(i);
  }

  private crlf(): void {
    this.buffer[this.length++] = CR;
    this.buffer[this.length++] = LF;
  }
}
