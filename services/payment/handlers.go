package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dapr/go-sdk/service/common"
)

// invocation adapts one of payment's methods to Dapr service invocation: it
// decodes the JSON body into In, calls the method and encodes its answer.
func invocation[In, Out any](log *slog.Logger, method func(context.Context, In) (Out, error)) common.ServiceInvocationHandler {
	return func(ctx context.Context, in *common.InvocationEvent) (*common.Content, error) {
		var req In
		if err := json.Unmarshal(in.Data, &req); err != nil {
			return nil, fmt.Errorf("%w: malformed JSON", ErrInvalid)
		}
		out, err := method(ctx, req)
		if err != nil {
			return nil, callerError(ctx, log, err)
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, callerError(ctx, log, err)
		}
		return &common.Content{ContentType: "application/json", Data: b}, nil
	}
}

// callerError is what the caller is told of err: bad input as it is, any
// other failure only as such (the detail goes to the log, never to callers).
func callerError(ctx context.Context, log *slog.Logger, err error) error {
	if errors.Is(err, ErrInvalid) {
		return err
	}
	log.ErrorContext(ctx, "invocation failed", "err", err)
	return errors.New("payment failed internally")
}
