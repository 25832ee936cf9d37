package main

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
)

// patternReader yields n bytes of the test pattern: x starts at seed*2654435761, then for each byte
// x = x*1103515245 + 12345 and the byte is x>>24, all mod 2^32. tests/peers/istio_hbone/istio_peer.ts
// computes the same bytes, so either end can check what the other sent.
type patternReader struct {
	x    uint32
	left int64
}

func newPatternReader(n int64, seed uint32) *patternReader {
	return &patternReader{x: seed * 2654435761, left: n}
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	x := p.x
	for i := range b {
		x = x*1103515245 + 12345
		b[i] = byte(x >> 24)
	}
	p.x = x
	p.left -= int64(len(b))
	return len(b), nil
}

// digest counts and hashes the bytes one direction carried.
type digest struct {
	n int64
	h hash.Hash
}

func newDigest() *digest { return &digest{h: sha256.New()} }

func (d *digest) add(b []byte) {
	d.n += int64(len(b))
	d.h.Write(b)
}

func (d *digest) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }
