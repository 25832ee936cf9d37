/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B).
 *
 * The code is canonical, so the table is embedded as code lengths only and the codes are derived.
 * Decoding runs a nibble state machine (as nghttp2 does): one state per internal node of the code tree,
 * 16 transitions per state, each emitting at most one symbol (no code is shorter than 5 bits).
 */
import { H2Error } from "./h2_error.ts";

const COMPRESSION_ERROR = 9;
const EOS = 256;

/** Code length of symbols 0..256 (256 = EOS), one letter each: 'a' = 5 bits ... 'z' = 30 bits. */
const LENGTHS = "isxxxxxxxtzxxzxxxxxxxxzxxxxxxxxxbffhibdgffdgdbbbaaabbbbbbbcdkbhf" +
  "ibccccccccccccccccccccccdcdioijbkabababbbaccbbbabcbaabccccckgjix" +
  "prpprrrsrssssststtrstssssqrsrsstrqprrssqsrrtqrssqqrqsrssprrrsrrs" +
  "vvporsruvvvwwvtuoqvwwvwtqqvvxwwwptpqrqqsrruuttvsvwvvwwwwwxwwwwwv" +
  "z";

/** Per symbol: its code (right-aligned) and its length in bits. */
const CODES = new Uint32Array(257);
const BITS = new Uint8Array(257);

const EMIT = 1 << 16;
const FAIL = 1 << 17;
/** State machine: entry (state << 4 | nibble) = next state | symbol << 8 | EMIT | FAIL. */
const TRANSITIONS = new Uint32Array(256 * 16);
/** States where the input may end: the bits since the last symbol are all ones, at most 7 of them. */
const ACCEPTING = new Uint8Array(256);

function build(): void {
  for (let s = 0; s <= EOS; s++) BITS[s] = LENGTHS.charCodeAt(s) - 97 + 5;
  const order = Array.from({ length: 257 }, (_, s) => s).sort((a, b) => BITS[a] - BITS[b] || a - b);
  let code = 0;
  for (let i = 0; i < order.length; i++) {
    if (i > 0) code = (code + 1) * 2 ** (BITS[order[i]] - BITS[order[i - 1]]);
    CODES[order[i]] = code;
  }
  // Code tree: internal nodes 0..255 (0 = root); a child < 0 is the leaf of symbol -child - 1.
  const children = new Int16Array(256 * 2);
  let nodes = 1;
  for (let s = 0; s <= EOS; s++) {
    let node = 0;
    for (let bit = BITS[s] - 1; bit > 0; bit--) {
      const slot = node * 2 + ((CODES[s] >>> bit) & 1);
      if (children[slot] === 0) children[slot] = nodes++;
      node = children[slot];
    }
    children[node * 2 + (CODES[s] & 1)] = -(s + 1);
  }
  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const child = children[node * 2 + ((nibble >>> bit) & 1)];
        if (child >= 0) {
          node = child;
          continue;
        }
        const sym = -child - 1;
        if (sym === EOS) entry |= FAIL;
        else entry |= EMIT | (sym << 8);
        node = 0;
      }
      TRANSITIONS[(state << 4) | nibble] = entry | node;
    }
  }
  let node = 0;
  ACCEPTING[0] = 1;
  for (let depth = 1; depth <= 7; depth++) {
    node = children[node * 2 + 1];
    ACCEPTING[node] = 1;
  }
}
build();

/** Upper bound on the decoded length of `n` Huffman-coded bytes (the shortest code is 5 bits). */
export function huffmanMaxDecodedLength(n: number): number {
  return Math.floor((n * 8) / 5);
}

/**
 * Decodes Huffman-coded `src[start, end)` into `out` (at least huffmanMaxDecodedLength(end - start)
 * bytes long) and returns the decoded length. Throws H2Error(COMPRESSION_ERROR) on an encoded EOS
 * or padding that is longer than 7 bits or not all ones.
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let state = 0;
  let o = 0;
  for (let i = start; i < end; i++) {
    const b = src[i];
    let e = TRANSITIONS[(state << 4) | (b >>> 4)];
    if (e & (EMIT | FAIL)) {
      if (e & FAIL) throw new H2Error("Huffman string contains EOS", COMPRESSION_ERROR);
      out[o++] = e >>> 8;
    }
    e = TRANSITIONS[((e & 0xff) << 4) | (b & 0xf)];
    if (e & (EMIT | FAIL)) {
      if (e & FAIL) throw new H2Error("Huffman string contains EOS", COMPRESSION_ERROR);
      out[o++] = e >>> 8;
    }
    state = e & 0xff;
  }
  if (!ACCEPTING[state]) throw new H2Error("invalid Huffman padding", COMPRESSION_ERROR);
  return o;
}

/** The length in bytes of `data` Huffman coded. */
export function huffmanEncodedLength(data: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < data.length; i++) bits += BITS[data[i]];
  return Math.ceil(bits / 8);
}

/** Huffman codes `data`, padding the last byte with the most significant bits of EOS (ones). */
export function huffmanEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(data));
  let acc = 0; // pending bits, fewer than 8 between symbols (so acc * 2^30 stays exact)
  let n = 0;
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const len = BITS[data[i]];
    acc = acc * 2 ** len + CODES[data[i]];
    n += len;
    while (n >= 8) {
      n -= 8;
      const div = 2 ** n;
      out[o++] = Math.floor(acc / div);
      acc %= div;
    }
  }
  if (n > 0) out[o] = (acc << (8 - n)) | ((1 << (8 - n)) - 1);
  return out;
}

/** The code and bit length of a symbol (0..256), for tests and diagnostics. */
export function huffmanCode(symbol: number): { code: number; bits: number } {
  return { code: CODES[symbol], bits: BITS[symbol] };
}
