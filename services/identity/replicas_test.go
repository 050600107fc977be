package main

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/harness"
	"github.com/bazaar-shop/bazaar/internal/runner"
)

// TestSignInLimitHoldsAcrossReplicas sends 40 wrong passwords for one
// account at once, half to each of identity's 2 replicas: the limit is 5
// per account for the service, not per replica, so bcrypt runs at most 5
// times in all (identity's "password checked" log lines, one per comparison).
func TestSignInLimitHoldsAcrossReplicas(t *testing.T) {
	for _, profile := range []string{"embedded", "servers"} {
		t.Run(profile, func(t *testing.T) {
			sys := harness.Start(t, harness.Options{Profile: profile, Services: []string{"identity"}, Replicas: 2,
				Extra: []compose.Service{harness.Probe("gateway")}})
			replicas := sys.Replicas("identity")
			require.Len(t, replicas, 2)
			status, _, body := harness.Invoke(t, sys.App("gateway"), "identity", http.MethodPost, "register", nil,
				`{"email":"target@example.com","password":"correct horse battery","name":"Target"}`)
			require.Equal(t, http.StatusCreated, status, "%s", body)
			before := bcryptRuns(t, sys)

			// Straight to each replica (past the sidecars' load balancing),
			// so that both replicas take their share for certain.
			var mu sync.Mutex
			answers := map[int]int{}
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := replicas[i%2]
					status, _, _ := harness.Call(t, http.MethodPost, r.AppURL()+"/login", http.Header{"Dapr-Api-Token": {r.AppToken}},
						`{"email":"target@example.com","password":"a wrong password!"}`)
					mu.Lock()
					answers[status]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			checks := bcryptRuns(t, sys) - before
			t.Logf("answers: %v; bcrypt ran %d times", answers, checks)
			assert.LessOrEqual(t, checks, 5, "bcrypt ran more often than the account's limit")
			assert.Equal(t, 40, answers[http.StatusUnauthorized]+answers[http.StatusTooManyRequests], "every answer a 401 or a 429: %v", answers)
			assert.GreaterOrEqual(t, answers[http.StatusTooManyRequests], 35, "%v", answers)
		})
	}
}

// bcryptRuns counts identity's "password checked" lines: one per password
// compared with bcrypt, on any replica.
func bcryptRuns(t *testing.T, sys *runner.System) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(harness.Output(sys), "\n") {
		if strings.HasPrefix(line, "identity-") && strings.Contains(line, `"msg":"password checked"`) {
			n++
		}
	}
	return n
}
