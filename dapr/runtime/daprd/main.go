// Command daprd is the upstream Dapr sidecar with two components that the
// "stablecomponents" build leaves out and Bazaar's embedded profile needs:
// pubsub.jetstream (events through the runner's embedded NATS server) and
// nameresolution.sqlite (many sidecars on one host without multicast).
package main

import (
	"github.com/dapr/components-contrib/nameresolution/sqlite"
	"github.com/dapr/components-contrib/pubsub/jetstream"
	"github.com/dapr/dapr/cmd/daprd/app"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
	pubsubLoader "github.com/dapr/dapr/pkg/components/pubsub"
)

func init() {
	pubsubLoader.DefaultRegistry.RegisterComponent(jetstream.NewJetStream, "jetstream")
	nrLoader.DefaultRegistry.RegisterComponent(sqlite.NewResolver, "sqlite")
}

func main() {
	app.Run()
}
