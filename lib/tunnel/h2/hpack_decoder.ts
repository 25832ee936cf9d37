/**
 * HPACK header block decoder (RFC 7541): static and dynamic table, all literal forms, dynamic table
 * size updates, Huffman strings. Header strings are decoded as latin1 (one char per octet).
 */
import { H2Error, HeaderListTooLargeError } from "./h2_error.ts";
import { STATIC_TABLE, STATIC_TABLE_LENGTH } from "./hpack_static_table.ts";
import { huffmanDecode, huffmanMaxDecodedLength } from "./huffman.ts";

const COMPRESSION_ERROR = 9;
/** RFC 7541 §4.1: each entry costs its name and value octets plus 32. */
const ENTRY_OVERHEAD = 32;
/** Integers (indices, lengths, sizes) above this are rejected as overflow. */
const MAX_INTEGER = 0x7fffffff;
/** String.fromCharCode.apply is fed at most this many octets at a time. */
const CHARS_PER_CALL = 8192;
const EMPTY = new Uint8Array(0);

function fail(message: string): never {
  throw new H2Error(`HPACK: ${message}`, COMPRESSION_ERROR);
}

/** Octets as a latin1 string. */
function latin1(b: Uint8Array, start: number, end: number): string {
  if (end - start <= CHARS_PER_CALL) {
    return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
  }
  let s = "";
  for (let i = start; i < end; i += CHARS_PER_CALL) {
    s += String.fromCharCode.apply(
      null,
      b.subarray(i, Math.min(end, i + CHARS_PER_CALL)) as unknown as number[],
    );
  }
  return s;
}

export class HpackDecoder {
  /** Our SETTINGS_HEADER_TABLE_SIZE: the most a size update may set. */
  readonly maxTableSize: number;
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE. */
  readonly maxHeaderListSize: number;
  /** The table size limit currently in force (set by the peer's size updates). */
  #limit: number;
  #size = 0;
  // Dynamic table as a ring buffer: #head is the newest entry, HPACK index 62.
  #names: string[] = new Array(16);
  #values: string[] = new Array(16);
  #mask = 15;
  #head = 15;
  #count = 0;
  // Decoding position, shared by the helpers below during one decode().
  #src: Uint8Array = EMPTY;
  #pos = 0;
  #scratch = new Uint8Array(256);
  #sizeUpdates = 0;
  /** The decoded list's size so far (RFC 9113 §6.5.2: name + value + 32 per field). */
  #listSize = 0;

  constructor(maxTableSize = 4096, maxHeaderListSize = 65536) {
    this.maxTableSize = maxTableSize;
    this.maxHeaderListSize = maxHeaderListSize;
    this.#limit = maxTableSize;
  }

  /** Current dynamic table size in RFC 7541 octets. */
  get dynamicTableSize(): number {
    return this.#size;
  }

  /** The dynamic table, newest first (diagnostics and tests). */
  dynamicTable(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let i = 0; i < this.#count; i++) {
      const slot = (this.#head - i) & this.#mask;
      out.push([this.#names[slot], this.#values[slot]]);
    }
    return out;
  }

  /** Dynamic table size updates in the last decoded block (the session budgets them). */
  get sizeUpdates(): number {
    return this.#sizeUpdates;
  }

  /**
   * Decodes a complete header block (HEADERS + CONTINUATION fragments concatenated) into [name, value]
   * pairs in order. Throws H2Error(COMPRESSION_ERROR) on malformed input (connection error). Throws
   * HeaderListTooLargeError (ENHANCE_YOUR_CALM, a connection error) as soon as the list grows past
   * maxHeaderListSize: decoding stops there, so a huge block costs no more than the limit's worth of
   * work, and the dynamic table is left out of step (the connection must end).
   */
  decode(block: Uint8Array): Array<[string, string]> {
    this.#src = block;
    this.#pos = 0;
    this.#sizeUpdates = 0;
    try {
      return this.#decode(block);
    } finally {
      this.#src = EMPTY; // do not keep the block alive
    }
  }

  #decode(block: Uint8Array): Array<[string, string]> {
    const end = block.length;
    const out: Array<[string, string]> = [];
    this.#listSize = 0;
    let fieldSeen = false;
    while (this.#pos < end) {
      const b = block[this.#pos];
      let name: string;
      let value: string;
      if (b & 0x80) {
        // Indexed header field (§6.1).
        const index = this.#integer(7);
        if (index === 0) fail("index 0");
        if (index <= STATIC_TABLE_LENGTH) {
          const e = STATIC_TABLE[index - 1];
          name = e[0];
          value = e[1];
        } else {
          const slot = this.#slot(index);
          name = this.#names[slot];
          value = this.#values[slot];
        }
      } else if (b & 0x40) {
        // Literal with incremental indexing (§6.2.1).
        const index = this.#integer(6);
        name = index === 0 ? this.#string() : this.#name(index);
        value = this.#string();
        this.#insert(name, value);
      } else if (b & 0x20) {
        // Dynamic table size update (§6.3): only before the first field of a block.
        if (fieldSeen) fail("dynamic table size update after a header field");
        const size = this.#integer(5);
        if (size > this.maxTableSize) fail(`table size update ${size} above limit ${this.maxTableSize}`);
        this.#sizeUpdates++;
        this.#limit = size;
        this.#evict(0);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001) (§6.2.2, §6.2.3).
        const index = this.#integer(4);
        name = index === 0 ? this.#string() : this.#name(index);
        value = this.#string();
      }
      fieldSeen = true;
      this.#listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (this.#listSize > this.maxHeaderListSize) this.#tooLarge(this.#listSize);
      out.push([name, value]);
    }
    return out;
  }

  /** An integer with an N-bit prefix (§5.1), starting at the current byte. */
  #integer(prefixBits: number): number {
    const src = this.#src;
    const mask = (1 << prefixBits) - 1;
    let v = src[this.#pos++] & mask;
    if (v < mask) return v;
    for (let shift = 0; shift <= 28; shift += 7) {
      if (this.#pos >= src.length) fail("truncated integer");
      const b = src[this.#pos++];
      v += (b & 0x7f) * (1 << shift);
      if (v > MAX_INTEGER) fail("integer overflow");
      if ((b & 0x80) === 0) return v;
    }
    return fail("integer overflow");
  }

  /** A string literal (§5.2): H bit, 7-bit prefix length, raw or Huffman octets. */
  #string(): string {
    const src = this.#src;
    if (this.#pos >= src.length) fail("truncated header block");
    const huffman = (src[this.#pos] & 0x80) !== 0;
    const length = this.#integer(7);
    const start = this.#pos;
    const end = start + length;
    if (end > src.length) fail("string literal past the end of the block");
    this.#pos = end;
    // Stop before building a string that alone would take the list past its limit (a Huffman
    // string decodes to at least 8/30 of its length: no code is longer than 30 bits).
    const atLeast = huffman ? Math.floor((length * 8) / 30) : length;
    if (this.#listSize + ENTRY_OVERHEAD + atLeast > this.maxHeaderListSize) {
      this.#tooLarge(this.#listSize + ENTRY_OVERHEAD + atLeast);
    }
    if (!huffman) return latin1(src, start, end);
    const max = huffmanMaxDecodedLength(length);
    if (this.#scratch.length < max) this.#scratch = new Uint8Array(Math.max(max, this.#scratch.length * 2));
    const n = huffmanDecode(src, start, end, this.#scratch);
    return latin1(this.#scratch, 0, n);
  }

  #tooLarge(size: number): never {
    throw new HeaderListTooLargeError(size, this.maxHeaderListSize);
  }

  #name(index: number): string {
    return index <= STATIC_TABLE_LENGTH ? STATIC_TABLE[index - 1][0] : this.#names[this.#slot(index)];
  }

  /** The ring slot of dynamic HPACK index `index` (> 61), or a COMPRESSION_ERROR. */
  #slot(index: number): number {
    const i = index - STATIC_TABLE_LENGTH - 1;
    if (i >= this.#count) {
      fail(`index ${index} beyond the table (${STATIC_TABLE_LENGTH + this.#count} entries)`);
    }
    return (this.#head - i) & this.#mask;
  }

  /** Adds an entry (§4.4): evicts to make room; an entry larger than the table just empties it. */
  #insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.#limit) {
      this.#evict(this.#limit + 1); // evicts everything
      return;
    }
    this.#evict(size);
    if (this.#count === this.#names.length) this.#grow();
    this.#head = (this.#head + 1) & this.#mask;
    this.#names[this.#head] = name;
    this.#values[this.#head] = value;
    this.#count++;
    this.#size += size;
  }

  /** Evicts oldest entries until `room` more octets fit under the limit. */
  #evict(room: number): void {
    while (this.#count > 0 && this.#size + room > this.#limit) {
      const slot = (this.#head - this.#count + 1) & this.#mask;
      this.#size -= this.#names[slot].length + this.#values[slot].length + ENTRY_OVERHEAD;
      this.#names[slot] = this.#values[slot] = "";
      this.#count--;
    }
  }

  #grow(): void {
    const cap = this.#names.length * 2;
    const names: string[] = new Array(cap);
    const values: string[] = new Array(cap);
    for (let i = 0; i < this.#count; i++) {
      const slot = (this.#head - this.#count + 1 + i) & this.#mask;
      names[i] = this.#names[slot];
      values[i] = this.#values[slot];
    }
    this.#names = names;
    this.#values = values;
    this.#mask = cap - 1;
    this.#head = this.#count - 1;
  }
}
