// zt's test peer on istioctl's own reader of ztunnel's config_dump (istio.io/istio
// istioctl/pkg/writer/ztunnel/configdump): what `istioctl ztunnel-config
// workloads|services|policies|certificates|connections|all [-o json] -f <dump>` prints for a dump.
//
//	istioctl_dump <url or file>     # reads the dump ("-" for stdin)
//
// It prints one JSON object: for each command, its table ("short", the default output) and its
// `-o json` output; exit status 1 with the reason when istioctl's Prime refuses the dump.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"istio.io/istio/istioctl/pkg/writer/ztunnel/configdump"
)

type output struct {
	Short string `json:"short"`
	JSON  string `json:"json"`
}

func read(src string) ([]byte, error) {
	switch {
	case src == "-":
		return io.ReadAll(os.Stdin)
	case strings.HasPrefix(src, "http://"):
		resp, err := http.Get(src)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", src, resp.Status)
		}
		return io.ReadAll(resp.Body)
	default:
		return os.ReadFile(src)
	}
}

// run primes a fresh writer (as istioctl does per command) and captures what f prints.
func run(dump []byte, f func(cw *configdump.ConfigWriter) error) (string, error) {
	var out bytes.Buffer
	cw := &configdump.ConfigWriter{Stdout: &out, FullDump: dump}
	if err := cw.Prime(dump); err != nil {
		return "", err
	}
	if err := f(cw); err != nil {
		return "", err
	}
	return out.String(), nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: istioctl_dump <url|file|->")
		os.Exit(2)
	}
	dump, err := read(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	type cmd struct {
		short func(cw *configdump.ConfigWriter) error
		json  func(cw *configdump.ConfigWriter) error
	}
	cmds := map[string]cmd{
		"workloads": {
			func(cw *configdump.ConfigWriter) error { return cw.PrintWorkloadSummary(configdump.WorkloadFilter{}) },
			func(cw *configdump.ConfigWriter) error {
				return cw.PrintWorkloadDump(configdump.WorkloadFilter{}, "json")
			},
		},
		"services": {
			func(cw *configdump.ConfigWriter) error { return cw.PrintServiceSummary(configdump.ServiceFilter{}) },
			func(cw *configdump.ConfigWriter) error {
				return cw.PrintServiceDump(configdump.ServiceFilter{}, "json")
			},
		},
		"policies": {
			func(cw *configdump.ConfigWriter) error { return cw.PrintPolicySummary(configdump.PolicyFilter{}) },
			func(cw *configdump.ConfigWriter) error { return cw.PrintPolicyDump(configdump.PolicyFilter{}, "json") },
		},
		"certificates": {
			func(cw *configdump.ConfigWriter) error { return cw.PrintSecretSummary() },
			func(cw *configdump.ConfigWriter) error { return cw.PrintSecretDump("json") },
		},
		"connections": {
			func(cw *configdump.ConfigWriter) error {
				return cw.PrintConnectionsSummary(configdump.ConnectionsFilter{})
			},
			func(cw *configdump.ConfigWriter) error {
				return cw.PrintConnectionsDump(configdump.ConnectionsFilter{}, "json")
			},
		},
		"all": {
			func(cw *configdump.ConfigWriter) error { return cw.PrintFullSummary(false) },
			func(cw *configdump.ConfigWriter) error { return cw.PrintFullDump("json") },
		},
	}
	result := map[string]output{}
	for name, c := range cmds {
		short, err := run(dump, c.short)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ztunnel-config %s: %v\n", name, err)
			os.Exit(1)
		}
		js, err := run(dump, c.json)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ztunnel-config %s -o json: %v\n", name, err)
			os.Exit(1)
		}
		result[name] = output{Short: short, JSON: js}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(result); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
