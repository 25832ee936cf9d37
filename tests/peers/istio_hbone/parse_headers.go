package main

import (
	"flag"
)

// runParseHeaders reports how the server would read the given header values; a flag not given is a
// header not sent. It lets tests check the parsers themselves refuse what they should.
func runParseHeaders(args []string, ev *events) int {
	fs := flag.NewFlagSet("parse-headers", flag.ContinueOnError)
	var values [3][]string
	for i, name := range []string{"baggage", "forwarded", "traceparent"} {
		fs.Func(name, "a "+name+" header value (repeatable)", func(v string) error {
			values[i] = append(values[i], v)
			return nil
		})
	}
	if err := fs.Parse(args); err != nil {
		return ev.fail(err)
	}
	ev.emit("headers", map[string]any{
		"baggage":     parseBaggage(values[0]),
		"forwarded":   parseForwarded(values[1]),
		"traceparent": parseTraceparent(values[2]),
	})
	return 0
}
