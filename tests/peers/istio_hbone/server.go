package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"istio.io/istio/pkg/hbone"
)

type serverFlags struct {
	listen           string
	cert, key, roots string
}

func parseServerFlags(args []string) (*serverFlags, error) {
	f := &serverFlags{}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.StringVar(&f.listen, "listen", "", "address to serve HBONE on, IP:15008")
	fs.StringVar(&f.cert, "cert", "", "workload certificate chain (PEM)")
	fs.StringVar(&f.key, "key", "", "workload private key (PEM)")
	fs.StringVar(&f.roots, "roots", "", "mesh roots (PEM)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.listen == "" || f.cert == "" || f.key == "" || f.roots == "" {
		return nil, errors.New("server needs -listen -cert -key -roots")
	}
	return f, nil
}

// runServer serves Istio's HBONE server (hbone.NewServer, whose CONNECT handler dials the authority, the
// target address, and copies both ways) over Go's TLS. Each CONNECT is reported ("connect": peer identity and the parsed
// baggage, forwarded and traceparent headers) before Istio's handler runs, and again when it returns
// ("closed": what each direction carried). Runs until SIGTERM, SIGINT or stdin closes.
func runServer(args []string, ev *events) int {
	f, err := parseServerFlags(args)
	if err != nil {
		return ev.fail(err)
	}
	certs, err := loadMeshCerts(f.cert, f.key, f.roots)
	if err != nil {
		return ev.fail(err)
	}
	srv := hbone.NewServer()
	srv.Handler = observe(srv.Handler, ev)
	srv.ErrorLog = log.New(os.Stderr, "", 0)
	l, err := net.Listen("tcp", f.listen)
	if err != nil {
		return ev.fail(err)
	}
	tl := tls.NewListener(l, certs.serverConfig())
	ev.emit("listening", map[string]any{"addr": l.Addr().String()})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(tl) }()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	stdin := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdin)
	}()
	select {
	case <-stop:
	case <-stdin:
	case err := <-served:
		return ev.fail(err)
	}
	_ = srv.Close()
	return 0
}

// observe wraps Istio's handler: it reports the request, counts and hashes both directions, and
// otherwise leaves the CONNECT to Istio's code.
func observe(connect http.Handler, ev *events) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := map[string]any{
			"method":      r.Method,
			"authority":   r.Host,
			"proto":       r.Proto,
			"peer_addr":   r.RemoteAddr,
			"baggage":     parseBaggage(r.Header.Values("baggage")),
			"forwarded":   parseForwarded(r.Header.Values("forwarded")),
			"traceparent": parseTraceparent(r.Header.Values("traceparent")),
			"headers":     r.Header,
		}
		if r.TLS != nil {
			info["tls_version"] = tls.VersionName(r.TLS.Version)
			info["alpn"] = r.TLS.NegotiatedProtocol
			info["tls_group"] = r.TLS.CurveID.String()
			if len(r.TLS.PeerCertificates) > 0 {
				info["peer_identity"] = firstSpiffe(spiffeIDs(r.TLS.PeerCertificates[0]))
			}
		}
		ev.emit("connect", info)
		in := &digestReader{ReadCloser: r.Body, d: newDigest()}
		r.Body = in
		out := &digestWriter{ResponseWriter: w, d: newDigest()}
		connect.ServeHTTP(out, r)
		ev.emit("closed", map[string]any{
			"authority":       info["authority"],
			"received":        in.d.n,
			"received_sha256": in.d.sum(),
			"sent":            out.d.n,
			"sent_sha256":     out.d.sum(),
		})
	})
}

type digestReader struct {
	io.ReadCloser
	d *digest
}

func (r *digestReader) Read(b []byte) (int, error) {
	n, err := r.ReadCloser.Read(b)
	r.d.add(b[:n])
	return n, err
}

// digestWriter hashes the response body. It exposes exactly the interfaces Istio's handler uses
// (ResponseWriter and Flusher), so the handler takes the same code paths as with the bare writer.
type digestWriter struct {
	http.ResponseWriter
	d *digest
}

func (w *digestWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.d.add(b[:n])
	return n, err
}

func (w *digestWriter) Flush() {
	w.ResponseWriter.(http.Flusher).Flush()
}
