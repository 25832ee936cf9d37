package main

import (
	"go.opentelemetry.io/otel/baggage"
)

// parseBaggage checks a W3C baggage header with OpenTelemetry's parser (go.opentelemetry.io/otel,
// the version Istio builds with) and reads the keys ztunnel reads (src/baggage.rs).
func parseBaggage(values []string) map[string]any {
	if len(values) == 0 {
		return map[string]any{"present": false}
	}
	out := map[string]any{"present": true, "values": len(values)}
	members := map[string]string{}
	for _, v := range values {
		b, err := baggage.Parse(v)
		if err != nil {
			out["valid"] = false
			out["error"] = err.Error()
			return out
		}
		for _, m := range b.Members() {
			members[m.Key()] = m.Value()
		}
	}
	out["valid"] = true
	out["members"] = members
	for key, field := range map[string]string{
		"k8s.cluster.name":        "cluster",
		"k8s.namespace.name":      "namespace",
		"service.name":            "service",
		"service.version":         "revision",
		"cloud.region":            "region",
		"cloud.availability_zone": "zone",
	} {
		if v, ok := members[key]; ok {
			out[field] = v
		}
	}
	for _, kind := range []string{"deployment", "cronjob", "pod", "job"} {
		if v, ok := members["k8s."+kind+".name"]; ok {
			out["workload"] = v
			out["workload_kind"] = kind
		}
	}
	return out
}
