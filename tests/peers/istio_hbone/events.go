package main

import (
	"encoding/json"
	"io"
	"sync"
)

// events writes one JSON object per line, {"event": kind, ...fields}; safe for concurrent handlers.
type events struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newEvents(w io.Writer) *events {
	return &events{enc: json.NewEncoder(w)}
}

func (e *events) emit(kind string, fields map[string]any) {
	out := map[string]any{"event": kind}
	for k, v := range fields {
		out[k] = v
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.enc.Encode(out)
}

// fail reports a setup error and returns the exit code for it.
func (e *events) fail(err error) int {
	e.emit("error", map[string]any{"error": err.Error()})
	return 1
}
