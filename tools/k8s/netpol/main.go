// Command kube-network-policies enforces NetworkPolicies on the real node of
// tools/k8s/test/e2e with sigs.k8s.io/kube-network-policies' controller
// (the one kindnet uses), run as a host process. Upstream's own main only
// knows the in-cluster configuration; this one takes a kubeconfig, listens
// for metrics on loopback only, and stops cleanly on SIGTERM as well as
// SIGINT.
//
// On this machine the controller cannot install its own hand-off (the
// kernel has no nftables "queue" expression: its table fails with "netlink
// receive: no such file or directory"); the node diverts new pod flows to
// its queue with iptables' NFQUEUE target instead (node.go,
// startNetworkPolicies), and the controller answers every packet there.
package main

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "the kubeconfig to watch the cluster with (pods, namespaces, NetworkPolicies)")
	nodeName := flag.String("hostname-override", "", "this node's name")
	queue := flag.Int("nfqueue-id", 100, "the netfilter queue that new pod flows are sent to")
	metrics := flag.String("metrics-bind-address", "127.0.0.1:9080", "where /metrics is served")
	klog.InitFlags(nil)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		klog.Fatalf("kubeconfig: %v", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		klog.Fatalf("client: %v", err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	controller, err := networkpolicy.NewController(client,
		factory.Networking().V1().NetworkPolicies(), factory.Core().V1().Namespaces(), factory.Core().V1().Pods(),
		nil, nil, nil, nil, // no node informer, no admin network policies
		networkpolicy.Config{
			QueueID:  *queue,
			NodeName: *nodeName,
			// Fail closed: a packet it cannot judge is dropped.
			FailOpen: false,
			// The fix is for kernels before 6.12.
			NetfilterBug1766Fix: false,
			// NRI stays on even without containerd's NRI socket (it only
			// logs that it cannot connect): v0.8.0 looks pods up through
			// the plugin without checking that there is one.
			NRIdisabled: false,
		})
	if err != nil {
		klog.Fatalf("controller: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	server := &http.Server{Addr: *metrics, Handler: mux}
	go func() {
		if err := server.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.Errorf("metrics: %v", err)
			stop()
		}
	}()
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- controller.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			klog.Errorf("controller: %v", err)
		}
	case <-ctx.Done():
		<-done // Run removes what it installed before it returns
	}
	_ = server.Close()
	factory.Shutdown()
}
