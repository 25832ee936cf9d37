// zt's test peer on istioctl's reader of ztunnel's config_dump. istio.io/istio is pinned at the same
// pseudo-version as tests/peers/istio_hbone (commit eed52ebb66ad, 2026-08-27); its
// istioctl/pkg/writer/ztunnel/configdump is identical, file for file, to istio/istio's master of 2026-08-22.
module zt.test/istioctl_dump

go 1.26.0

require istio.io/istio v0.0.0-20260827124520-eed52ebb66ad

require (
	github.com/go-logr/logr v1.4.3 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/cobra v1.10.2 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	go.uber.org/zap v1.28.0 // indirect
	go.yaml.in/yaml/v2 v2.4.4 // indirect
	google.golang.org/grpc v1.82.0 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
	k8s.io/klog/v2 v2.140.0 // indirect
	sigs.k8s.io/yaml v1.6.0 // indirect
)
