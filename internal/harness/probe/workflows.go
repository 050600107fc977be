package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/dapr/durabletask-go/workflow"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

// With PROBE_WORKFLOWS the probe hosts a workflow, "chain", that runs a
// number of no-op activities one after another. POST
// /workflows?activities=N&count=K starts K of them and answers once each has
// run its last activity (the activity reports it in-process, so waiting adds
// no calls to the sidecar). Benchmarks use it to price the parts of Dapr's
// workflow engine. It needs a sidecar whose app id owns an actor state store.

type link struct {
	Instance string `json:"instance"`
	Last     bool   `json:"last"`
}

type chains struct {
	client *workflow.Client

	mu      sync.Mutex
	waiting map[string]chan struct{} // by instance id, closed by the last activity
}

func startChains(ctx context.Context, cfg daprapp.Config, log *slog.Logger, mux *http.ServeMux) error {
	d, err := daprapp.NewClient(cfg)
	if err != nil {
		return err
	}
	c := &chains{client: workflow.NewClient(d.GrpcClientConn()), waiting: map[string]chan struct{}{}}
	r := workflow.NewRegistry()
	if err := r.AddWorkflowN("chain", c.chain); err != nil {
		return err
	}
	if err := r.AddActivityN("noop", c.noop); err != nil {
		return err
	}
	go daprapp.KeepWorkflowWorker(ctx, cfg, log, func(ctx context.Context) error {
		return c.client.StartWorker(ctx, r)
	})
	mux.HandleFunc("POST /workflows", c.run)
	return nil
}

func (c *chains) chain(ctx *workflow.WorkflowContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, err
	}
	for i := range n {
		in := link{Instance: ctx.ID(), Last: i == n-1}
		if err := ctx.CallActivity("noop", workflow.WithActivityInput(in)).Await(nil); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (c *chains) noop(ctx workflow.ActivityContext) (any, error) {
	var in link
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	if in.Last {
		c.mu.Lock()
		if done, ok := c.waiting[in.Instance]; ok {
			close(done)
			delete(c.waiting, in.Instance)
		}
		c.mu.Unlock()
	}
	return nil, nil
}

// run starts count chains of n activities, 8 at a time, and waits for them.
func (c *chains) run(w http.ResponseWriter, r *http.Request) {
	n, err1 := strconv.Atoi(r.URL.Query().Get("activities"))
	count, err2 := strconv.Atoi(r.URL.Query().Get("count"))
	if err1 != nil || err2 != nil || n < 1 || count < 1 {
		http.Error(w, "activities and count must be at least 1", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
	defer cancel()
	prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
	slots := make(chan struct{}, 8)
	errs := make(chan error, count)
	var wg sync.WaitGroup
	for i := range count {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			id := fmt.Sprintf("chain-%s-%d", prefix, i)
			done := make(chan struct{})
			c.mu.Lock()
			c.waiting[id] = done
			c.mu.Unlock()
			if _, err := c.client.ScheduleWorkflow(ctx, "chain", workflow.WithInstanceID(id), workflow.WithInput(n)); err != nil {
				errs <- err
				return
			}
			select {
			case <-done:
			case <-ctx.Done():
				errs <- fmt.Errorf("%s did not finish: %w", id, ctx.Err())
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
