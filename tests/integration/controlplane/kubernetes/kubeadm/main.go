// Command kubeadm is the upstream kubeadm, built from the k8s.io/kubernetes module pinned in
// go.mod (mirrors cmd/kubeadm), for the e2e tier's offline kind node image.
package main

import (
	"k8s.io/kubernetes/cmd/kubeadm/app"
	utilerrors "k8s.io/kubernetes/cmd/kubeadm/app/util/errors"
)

func main() {
	utilerrors.HandleError(app.Run())
}
