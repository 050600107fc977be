// web: a tiny HTTP server; also a client for checks from inside a pod (the
// NetworkPolicy probes of tools/k8s/test/e2e run `web get URL`) or
// run with kubectl exec (the image has no shell):
//
//	web              serve on :8080 (or $PORT)
//	web get URL      GET URL (TLS unverified), print status and body start
//	web lookup NAME  resolve NAME with the pod's resolv.conf
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) == 3 {
		switch os.Args[1] {
		case "get":
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			resp, err := c.Get(os.Args[2])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			fmt.Printf("%s\n%s\n", resp.Status, b)
			return
		case "lookup":
			addrs, err := net.LookupHost(os.Args[2])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			fmt.Println(addrs)
			return
		}
	}
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s (%s)\n", host, r.Host)
	})
	addr := ":8080"
	if p := os.Getenv("PORT"); p != "" {
		addr = ":" + p
	}
	fmt.Println("listening on", addr)
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
