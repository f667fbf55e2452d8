// Package component does what every upstream Kubernetes main in cmd/ does around its command:
// it registers the JSON log format and the client-go and version metrics, runs the command, and
// exits with its status.
package component

import (
	"os"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
)

// Run runs the command as its upstream main does, and exits with its status.
func Run(command *cobra.Command) {
	os.Exit(cli.Run(command))
}
