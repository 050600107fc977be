// Package harness brings up real Bazaar services with real Dapr sidecars for
// integration tests, through the same runner `make run` uses: free ports, a
// temporary data folder per test, and nothing left behind afterwards.
//
// What each helper is for:
//
//   - Start runs the services a test names (Options: profile, replicas,
//     extra test apps, environment, tracing and metrics) and stops them when
//     the test ends; System.App and System.Replicas find an app's ports and
//     tokens.
//   - Invoke calls an app through another app's sidecar, exactly as that app
//     would: service invocation, mTLS and the access-control policy
//     (dapr/config.yaml) all apply, so a call the policy forbids is a 403.
//   - Call sends a plain HTTP request: to the gateway as a browser would, to
//     a sidecar's own API (publishing an event), or to an app directly with
//     its app token.
//   - Probe, WorkflowProbe and SlowFragments are test apps to put in
//     Options.Extra: one that records the events it receives (GET
//     /received), one that hosts a workflow as a service would, and one whose
//     fragments are slow. Each takes an app id of its choosing, so it may
//     stand in for a service (a Probe named "gateway" calls as the gateway).
//   - NewUsers registers and signs in test users through identity (Token,
//     Admin); Bearer makes the header.
//   - LoadContract checks answers against api/openapi.yaml (Check for the
//     gateway's /api paths, CheckService for a service's own).
//   - Output is everything the system's processes printed, to look for a log
//     line; Poll is the tick for testify's require.EventuallyWithT.
//   - Percentile, Ms, TimedGet, Memory, CPU and CPUSince measure, for the
//     benchmarks.
//
// example_test.go is a whole service-to-service test on one screen.
package harness
