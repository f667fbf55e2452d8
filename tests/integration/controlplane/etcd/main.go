// Command etcd is the upstream etcd server, built from the go.etcd.io/etcd
// module pinned in go.mod (mirrors etcd's own main package).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
