package runner

import (
	"database/sql"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
	_ "modernc.org/sqlite" // the driver Dapr's SQLite name resolution uses
)

// nameTable is the SQLite table in which sidecars find each other
// (nameresolution.sqlite, dapr/config.yaml). A sidecar lists its address
// there and renews it; one that dies stays listed until its row is
// updateInterval old, and callers choose among every listed row at random:
// a call can go to a dead address, and fail after its retries. The runner
// knows better: it removes a run's leftover rows before any sidecar starts,
// and a sidecar's row as soon as its process exits.
type nameTable struct {
	db *sql.DB // nil when the configuration uses another resolver
	// path is the table's file: the shell's status page lists what runs
	// from it (BAZAAR_NAME_RESOLUTION).
	path string
}

// hostsTable is the resolver's default table name (Bazaar's configuration
// does not set tableName).
const hostsTable = "hosts"

// openNameTable opens the SQLite name-resolution file that the rendered
// sidecar configuration names, if it names one.
func openNameTable(config string) (*nameTable, error) {
	if config == "" {
		return &nameTable{}, nil
	}
	raw, err := os.ReadFile(config)
	if err != nil {
		return nil, err
	}
	var c struct {
		Spec struct {
			NameResolution struct {
				Component     string `yaml:"component"`
				Configuration struct {
					ConnectionString string `yaml:"connectionString"`
					TableName        string `yaml:"tableName"`
				} `yaml:"configuration"`
			} `yaml:"nameResolution"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", config, err)
	}
	nr := c.Spec.NameResolution
	if nr.Component != "sqlite" {
		return &nameTable{}, nil
	}
	if t := nr.Configuration.TableName; t != "" && t != hostsTable {
		return nil, fmt.Errorf("%s: nameResolution.configuration.tableName: the runner cleans only the default table %q", config, hostsTable)
	}
	path := strings.TrimPrefix(nr.Configuration.ConnectionString, "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	// Sidecars write the same file: wait for their locks rather than fail.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &nameTable{db: db, path: path}, nil
}

// clear removes every row: called before any sidecar of this run starts.
func (t *nameTable) clear() error {
	if t == nil || t.db == nil {
		return nil
	}
	if _, err := t.db.Exec("DELETE FROM " + hostsTable); err != nil && !strings.Contains(err.Error(), "no such table") {
		return fmt.Errorf("name resolution: forget the last run's sidecars: %w", err)
	}
	return nil
}

// forget removes the row of the sidecar at addr, which has exited. A
// restarted sidecar lists itself again when its components load.
func (t *nameTable) forget(addr string) {
	if t == nil || t.db == nil {
		return
	}
	_, _ = t.db.Exec("DELETE FROM "+hostsTable+" WHERE address = ?", addr)
}

func (t *nameTable) close() {
	if t != nil && t.db != nil {
		_ = t.db.Close()
	}
}
