package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// parseForwarded checks a Forwarded header against RFC 7239 §4 (elements of token=value pairs,
// values tokens or quoted strings) and reads the first element's for= (a node, §6) and host=.
// No Go library parses Forwarded; this is the test peer's own strict reading of the RFC's grammar.
func parseForwarded(values []string) map[string]any {
	if len(values) == 0 {
		return map[string]any{"present": false}
	}
	out := map[string]any{"present": true, "values": len(values)}
	elems, err := forwardedElements(strings.Join(values, ","))
	if err == nil && len(elems) == 0 {
		err = errors.New("no forwarded-pair")
	}
	if err != nil {
		out["valid"] = false
		out["error"] = err.Error()
		return out
	}
	out["elements"] = len(elems)
	first := elems[0]
	if f, ok := first["for"]; ok {
		out["for"], out["for_quoted"] = f.value, f.quoted
		ip, port, err := parseNode(f.value)
		if err != nil {
			out["valid"] = false
			out["error"] = "for: " + err.Error()
			return out
		}
		out["for_ip"], out["for_port"] = ip, port
	}
	if h, ok := first["host"]; ok {
		out["host"] = h.value
		if err := checkHost(h.value); err != nil {
			out["valid"] = false
			out["error"] = "host: " + err.Error()
			return out
		}
	}
	out["valid"] = true
	return out
}

type forwardedValue struct {
	value  string
	quoted bool
}

type forwardedParser struct {
	s string
	i int
}

// forwardedElements parses `1#forwarded-element`; empty list elements are skipped (RFC 7230 §7).
func forwardedElements(s string) ([]map[string]forwardedValue, error) {
	p := &forwardedParser{s: s}
	var elems []map[string]forwardedValue
	for {
		p.skipOWS()
		if p.i < len(p.s) && p.s[p.i] != ',' {
			el, err := p.element()
			if err != nil {
				return nil, err
			}
			elems = append(elems, el)
			p.skipOWS()
		}
		if p.i == len(p.s) {
			return elems, nil
		}
		if p.s[p.i] != ',' {
			return nil, fmt.Errorf("unexpected %q at offset %d", p.s[p.i], p.i)
		}
		p.i++
	}
}

// element: [ forwarded-pair ] *( ";" [ forwarded-pair ] ), each parameter at most once.
func (p *forwardedParser) element() (map[string]forwardedValue, error) {
	el := map[string]forwardedValue{}
	for {
		if p.i < len(p.s) && p.s[p.i] != ';' && p.s[p.i] != ',' {
			name := strings.ToLower(p.token())
			if name == "" {
				return nil, fmt.Errorf("expected a parameter name at offset %d", p.i)
			}
			if p.i == len(p.s) || p.s[p.i] != '=' {
				return nil, fmt.Errorf("parameter %q has no '='", name)
			}
			p.i++
			v, err := p.value()
			if err != nil {
				return nil, fmt.Errorf("parameter %q: %w", name, err)
			}
			if _, dup := el[name]; dup {
				return nil, fmt.Errorf("parameter %q repeated in one element", name)
			}
			el[name] = v
		}
		if p.i == len(p.s) || p.s[p.i] != ';' {
			return el, nil
		}
		p.i++
	}
}

func (p *forwardedParser) value() (forwardedValue, error) {
	if p.i < len(p.s) && p.s[p.i] == '"' {
		v, err := p.quoted()
		return forwardedValue{value: v, quoted: true}, err
	}
	v := p.token()
	if v == "" {
		return forwardedValue{}, errors.New("empty value (not a token nor a quoted-string)")
	}
	return forwardedValue{value: v}, nil
}

// quoted: DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 7230 §3.2.6).
func (p *forwardedParser) quoted() (string, error) {
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c == '\\':
			p.i++
			if p.i == len(p.s) || !(p.s[p.i] == '\t' || p.s[p.i] >= 0x20 && p.s[p.i] != 0x7f) {
				return "", errors.New("bad quoted-pair")
			}
			b.WriteByte(p.s[p.i])
		case c == '\t' || c == ' ' || c == 0x21 || c >= 0x23 && c <= 0x5b || c >= 0x5d && c <= 0x7e || c >= 0x80:
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("control character 0x%02x in a quoted-string", c)
		}
	}
	return "", errors.New("unterminated quoted-string")
}

func (p *forwardedParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *forwardedParser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func isTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseNode reads RFC 7239 §6's node = nodename [ ":" node-port ]: an IPv4 address, a bracketed IPv6
// address, "unknown" or an obfuscated name, with an optional numeric or obfuscated port. It returns
// the address ("" for unknown or obfuscated) and the numeric port (0 when absent or obfuscated).
func parseNode(v string) (string, int, error) {
	var name, port string
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return "", 0, errors.New("unclosed '['")
		}
		a, err := netip.ParseAddr(v[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", 0, fmt.Errorf("%q is not an IPv6 address", v[1:end])
		}
		name, port = a.String(), v[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return "", 0, errors.New("junk after ']'")
		}
		port = strings.TrimPrefix(port, ":")
	} else {
		var hasPort bool
		name, port, hasPort = strings.Cut(v, ":")
		if hasPort && port == "" {
			return "", 0, errors.New("empty port")
		}
		switch a, err := netip.ParseAddr(name); {
		case err == nil && a.Is4():
		case name == "unknown" || isObfuscated(name):
			name = ""
		default:
			return "", 0, fmt.Errorf("%q is not an IPv4 address, [IPv6], unknown or _obfuscated", name)
		}
	}
	if port == "" || isObfuscated(port) {
		return name, 0, nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || len(port) > 5 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
		return "", 0, fmt.Errorf("bad port %q", port)
	}
	return name, n, nil
}

func isObfuscated(s string) bool {
	if len(s) < 2 || s[0] != '_' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// checkHost: the Host header's syntax, uri-host [ ":" port ] (RFC 7239 §5.3, RFC 7230 §5.4).
func checkHost(v string) error {
	host, port := v, ""
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return errors.New("unclosed '['")
		}
		if _, err := netip.ParseAddr(v[1:end]); err != nil {
			return fmt.Errorf("%q is not an IP literal", v[1:end])
		}
		host, port = "", strings.TrimPrefix(v[end+1:], ":")
	} else if i := strings.LastIndexByte(v, ':'); i >= 0 {
		host, port = v[:i], v[i+1:]
	}
	if strings.TrimLeft(port, "0123456789") != "" {
		return fmt.Errorf("bad port %q", port)
	}
	if strings.HasPrefix(v, "[") {
		return nil
	}
	if host == "" {
		return errors.New("empty host")
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=%", c) >= 0) {
			return fmt.Errorf("%q is not a reg-name", host)
		}
	}
	return nil
}
