// Command kube-proxy is the upstream kube-proxy, built from the k8s.io/kubernetes module pinned
// in go.mod (mirrors cmd/kube-proxy), for the e2e tier's offline kind node image.
package main

import (
	"k8s.io/kubernetes/cmd/kube-proxy/app"
	"podmetaexporter.local/controlplane/kubernetes/component"
)

func main() {
	component.Run(app.NewProxyCommand())
}
