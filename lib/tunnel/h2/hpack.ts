/** HPACK (RFC 7541): the decoder and encoder the HTTP/2 session uses. */
export { HpackDecoder } from "./hpack_decoder.ts";
export { HpackEncoder } from "./hpack_encoder.ts";
