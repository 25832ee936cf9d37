package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"istio.io/istio/security/pkg/pki/util"
)

// meshCerts is a workload's key pair and the mesh roots, from PEM files.
type meshCerts struct {
	pair  tls.Certificate
	roots *x509.CertPool
	// trustDomain of the workload's own SPIFFE identity.
	trustDomain string
}

func loadMeshCerts(certPath, keyPath, rootsPath string) (*meshCerts, error) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("key pair: %w", err)
	}
	rootsPem, err := os.ReadFile(rootsPath)
	if err != nil {
		return nil, fmt.Errorf("roots: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootsPem) {
		return nil, errors.New("roots: no certificate in " + rootsPath)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("leaf: %w", err)
	}
	id := firstSpiffe(spiffeIDs(leaf))
	if id == "" {
		return nil, errors.New("own certificate has no SPIFFE identity")
	}
	return &meshCerts{pair: pair, roots: roots, trustDomain: trustDomainOf(id)}, nil
}

// spiffeIDs are the certificate's URI SANs as Istio reads them (security/pkg/pki/util.ExtractIDs).
func spiffeIDs(c *x509.Certificate) []string {
	ids, err := util.ExtractIDs(c.Extensions)
	if err != nil {
		return nil
	}
	return ids
}

func firstSpiffe(ids []string) string {
	for _, id := range ids {
		if strings.HasPrefix(id, "spiffe://") && trustDomainOf(id) != "" {
			return id
		}
	}
	return ""
}

func trustDomainOf(id string) string {
	rest, ok := strings.CutPrefix(id, "spiffe://")
	if !ok {
		return ""
	}
	td, _, _ := strings.Cut(rest, "/")
	return td
}

// verifyPeer checks the peer's chain against the mesh roots for `usage` and returns its leaf.
func (m *meshCerts) verifyPeer(cs tls.ConnectionState, usage x509.ExtKeyUsage) (*x509.Certificate, error) {
	if len(cs.PeerCertificates) == 0 {
		return nil, errors.New("peer sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: m.roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		return nil, fmt.Errorf("peer chain: %w", err)
	}
	return leaf, nil
}

// tlsFacts is what a handshake established, recorded by the verify callback.
type tlsFacts struct {
	mu       sync.Mutex
	identity string
	version  string
	alpn     string
	curve    string
}

func (f *tlsFacts) record(id string, cs tls.ConnectionState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.identity, f.version, f.alpn, f.curve = id, tls.VersionName(cs.Version), cs.NegotiatedProtocol, cs.CurveID.String()
}

func (f *tlsFacts) fields() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return map[string]any{"peer_identity": f.identity, "tls_version": f.version, "alpn": f.alpn, "tls_group": f.curve}
}

// clientConfig presents the workload certificate and accepts only a server whose chain leads to the
// mesh roots and whose SPIFFE identity is `expected` (ztunnel's client check). Go's own name check is
// off: HBONE dials pod IPs, and workload certificates carry no IP SANs.
func (m *meshCerts) clientConfig(expected string, facts *tlsFacts) *tls.Config {
	return &tls.Config{
		Certificates:       []tls.Certificate{m.pair},
		InsecureSkipVerify: true, // the chain and the SPIFFE identity are checked in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			leaf, err := m.verifyPeer(cs, x509.ExtKeyUsageServerAuth)
			if err != nil {
				return err
			}
			ids := spiffeIDs(leaf)
			for _, id := range ids {
				if id == expected {
					facts.record(id, cs)
					return nil
				}
			}
			return fmt.Errorf("server identity %v is not %s", ids, expected)
		},
	}
}

// serverConfig is ztunnel's inbound policy: TLS 1.3, ALPN h2, a client certificate required and
// verified against the mesh roots, with a SPIFFE identity in this workload's trust domain.
func (m *meshCerts) serverConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{m.pair},
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{"h2"},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    m.roots,
		VerifyConnection: func(cs tls.ConnectionState) error {
			leaf, err := m.verifyPeer(cs, x509.ExtKeyUsageClientAuth)
			if err != nil {
				return err
			}
			id := firstSpiffe(spiffeIDs(leaf))
			if id == "" {
				return errors.New("client certificate has no SPIFFE identity")
			}
			if td := trustDomainOf(id); td != m.trustDomain {
				return fmt.Errorf("client trust domain %s is not %s", td, m.trustDomain)
			}
			return nil
		},
	}
}
