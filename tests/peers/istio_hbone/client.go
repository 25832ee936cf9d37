package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"time"

	"istio.io/istio/pkg/hbone"
)

type clientFlags struct {
	proxy, authority string
	cert, key, roots string
	expectServerID   string
	send, recvLimit  int64
	seed             uint
	timeout          time.Duration
	hold             bool
}

func parseClientFlags(args []string) (*clientFlags, error) {
	f := &clientFlags{}
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.StringVar(&f.proxy, "proxy", "", "HBONE server, IP:15008")
	fs.StringVar(&f.authority, "authority", "", "CONNECT authority, IP:PORT")
	fs.StringVar(&f.cert, "cert", "", "workload certificate chain (PEM)")
	fs.StringVar(&f.key, "key", "", "workload private key (PEM)")
	fs.StringVar(&f.roots, "roots", "", "mesh roots (PEM)")
	fs.StringVar(&f.expectServerID, "expect-server-id", "", "SPIFFE identity the server must present")
	fs.Int64Var(&f.send, "send", 0, "bytes of the test pattern to send")
	fs.UintVar(&f.seed, "seed", 1, "pattern seed")
	fs.Int64Var(&f.recvLimit, "recv-limit", -1, "stop reading after this many bytes (-1: read until EOF)")
	fs.DurationVar(&f.timeout, "timeout", 60*time.Second, "deadline for the whole exchange")
	fs.BoolVar(&f.hold, "hold", false, "after the exchange, keep the connection until stdin closes")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.proxy == "" || f.authority == "" || f.cert == "" || f.key == "" || f.roots == "" || f.expectServerID == "" {
		return nil, errors.New("client needs -proxy -authority -cert -key -roots -expect-server-id")
	}
	return f, nil
}

// Istio's dialer reports a refused CONNECT only as an error naming the response status.
var statusInError = regexp.MustCompile(`round trip failed: (\d{3})`)

// runClient dials through Istio's HBONE dialer: exit 0 after a 200 and a finished exchange, 3 when the
// CONNECT was answered with another status or failed, 1 on bad flags or files.
func runClient(args []string, ev *events) int {
	f, err := parseClientFlags(args)
	if err != nil {
		return ev.fail(err)
	}
	certs, err := loadMeshCerts(f.cert, f.key, f.roots)
	if err != nil {
		return ev.fail(err)
	}
	facts := &tlsFacts{}
	d := hbone.NewDialer(hbone.Config{
		ProxyAddress: f.proxy,
		TLS:          certs.clientConfig(f.expectServerID, facts),
		Timeout:      &f.timeout,
	})
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", f.authority)
	if err != nil {
		status := 0
		if m := statusInError.FindStringSubmatch(err.Error()); m != nil {
			status, _ = strconv.Atoi(m[1])
		}
		ev.emit("connect", merge(facts.fields(), map[string]any{"status": status, "error": err.Error()}))
		return 3
	}
	ev.emit("connect", merge(facts.fields(), map[string]any{"status": 200}))
	res := exchange(conn, f)
	_ = conn.Close()
	ev.emit("done", res)
	if f.hold {
		_, _ = io.Copy(io.Discard, os.Stdin)
	}
	return 0
}

// exchange sends the pattern while reading, until both directions are finished or the deadline.
func exchange(conn net.Conn, f *clientFlags) map[string]any {
	_ = conn.SetDeadline(time.Now().Add(f.timeout))
	sent, recv := newDigest(), newDigest()
	wrote := make(chan error, 1)
	go func() {
		src := newPatternReader(f.send, uint32(f.seed))
		buf := make([]byte, 64*1024)
		for {
			n, _ := src.Read(buf)
			if n == 0 {
				wrote <- nil
				return
			}
			if _, err := conn.Write(buf[:n]); err != nil {
				wrote <- err
				return
			}
			sent.add(buf[:n])
		}
	}()
	eof, readErr := false, ""
	buf := make([]byte, 64*1024)
	for f.recvLimit < 0 || recv.n < f.recvLimit {
		want := buf
		if f.recvLimit >= 0 && int64(len(want)) > f.recvLimit-recv.n {
			want = want[:f.recvLimit-recv.n]
		}
		n, err := conn.Read(want)
		recv.add(want[:n])
		if errors.Is(err, io.EOF) {
			eof = true
			break
		}
		if err != nil {
			readErr = err.Error()
			break
		}
	}
	writeErr := ""
	if err := <-wrote; err != nil {
		writeErr = err.Error()
	}
	return map[string]any{
		"sent": sent.n, "sent_sha256": sent.sum(), "write_error": writeErr,
		"received": recv.n, "received_sha256": recv.sum(), "eof": eof, "read_error": readErr,
	}
}

func merge(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}
