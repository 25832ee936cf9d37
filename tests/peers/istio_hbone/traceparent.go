package main

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// parseTraceparent checks a W3C trace-context header with OpenTelemetry's propagator, and ztunnel's
// own rule on top (src/proxy.rs, TraceParent: exactly 55 characters).
func parseTraceparent(values []string) map[string]any {
	if len(values) == 0 {
		return map[string]any{"present": false}
	}
	out := map[string]any{"present": true, "values": len(values)}
	if len(values) != 1 {
		out["valid"] = false
		out["error"] = "more than one traceparent"
		return out
	}
	if len(values[0]) != 55 {
		out["valid"] = false
		out["error"] = "not 55 characters"
		return out
	}
	h := http.Header{}
	h.Set("traceparent", values[0])
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(h)))
	if !sc.IsValid() {
		out["valid"] = false
		out["error"] = "rejected by the W3C trace-context propagator"
		return out
	}
	out["valid"] = true
	out["trace_id"] = sc.TraceID().String()
	out["parent_id"] = sc.SpanID().String()
	out["sampled"] = sc.IsSampled()
	return out
}
