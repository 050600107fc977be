package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // the driver Dapr's SQLite name resolution uses
)

// replica is one running replica of an app, as Dapr's name resolution
// lists it: its sidecar's address and when the sidecar last renewed it.
type replica struct {
	AppID, Address string
	Renewed        time.Time
}

// roster lists every replica of every app that runs.
type roster func(ctx context.Context) ([]replica, error)

// errNoRoster: the shell was not told where the name-resolution table is.
var errNoRoster = errors.New("BAZAAR_NAME_RESOLUTION is not set")

// nameResolutionFresh is how long a row stays valid without renewal: the
// resolver's updateInterval in dapr/config.yaml. An older row is a sidecar
// that Dapr itself no longer routes to.
const nameResolutionFresh = 15 * time.Second

// nameResolutionRoster reads Dapr's SQLite name-resolution table
// (dapr/config.yaml), where every sidecar of the run, of every app and
// replica, lists itself and renews its row while it lives. It is the list
// Dapr routes every call by, so the status page shows what runs, not a
// list that can drift from it; the runner passes its path. Read-only: the
// sidecars own it.
func nameResolutionRoster(path string) roster {
	if path == "" {
		return func(context.Context) ([]replica, error) { return nil, errNoRoster }
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(3000)")
	if err != nil {
		return func(context.Context) ([]replica, error) { return nil, err }
	}
	db.SetMaxOpenConns(1)
	return func(ctx context.Context) ([]replica, error) {
		rows, err := db.QueryContext(ctx, "SELECT app_id, address, last_update FROM hosts WHERE unixepoch(CURRENT_TIMESTAMP) - last_update < ? ORDER BY app_id, address",
			int(nameResolutionFresh.Seconds()))
		if err != nil {
			return nil, fmt.Errorf("name resolution: %w", err)
		}
		defer rows.Close()
		var out []replica
		for rows.Next() {
			var r replica
			var renewed int64
			if err := rows.Scan(&r.AppID, &r.Address, &renewed); err != nil {
				return nil, err
			}
			r.Renewed = time.Unix(renewed, 0)
			out = append(out, r)
		}
		return out, rows.Err()
	}
}
