// Command kubelet is the upstream kubelet, built from the k8s.io/kubernetes
// module pinned in go.mod (mirrors cmd/kubelet).
package main

import (
	"context"

	"k8s.io/kubernetes/cmd/kubelet/app"
	"podmetaexporter.local/controlplane/kubernetes/component"
)

func main() {
	component.Run(app.NewKubeletCommand(context.Background()))
}
