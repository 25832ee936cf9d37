// Command istio_hbone is zt's test peer built on Istio's own HBONE implementation
// (istio.io/istio/pkg/hbone) and Go's crypto/tls: a TLS and HTTP/2 stack shared with neither
// node:tls nor OpenSSL. It reports what it saw as JSON lines on stdout; Istio's logs go to stderr.
//
//	istio_hbone client -proxy IP:15008 -authority IP:PORT -cert C -key K -roots R -expect-server-id ID [-send N -seed S -recv-limit N -hold]
//	istio_hbone server -listen IP:15008 -cert C -key K -roots R
//	istio_hbone parse-headers [-baggage V] [-forwarded V] [-traceparent V]
package main

import (
	"fmt"
	"os"

	istiolog "istio.io/istio/pkg/log"
)

func main() {
	ev := newEvents(os.Stdout)
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: istio_hbone client|server|parse-headers [flags]")
		os.Exit(2)
	}
	opts := istiolog.DefaultOptions()
	opts.OutputPaths = []string{"stderr"}
	if err := istiolog.Configure(opts); err != nil {
		fmt.Fprintln(os.Stderr, "istio log:", err)
		os.Exit(2)
	}
	var code int
	switch os.Args[1] {
	case "client":
		code = runClient(os.Args[2:], ev)
	case "server":
		code = runServer(os.Args[2:], ev)
	case "parse-headers":
		code = runParseHeaders(os.Args[2:], ev)
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", os.Args[1])
		code = 2
	}
	os.Exit(code)
}
