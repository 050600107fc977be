package runner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// The data folder remembers which Dapr runtime wrote it: workflow histories,
// actor state and the scheduler's jobs are stored in the runtime's formats,
// and only some versions read an older one. A runtime that cannot read a
// folder refuses to start on it rather than lose what is there.

// dataVersionFile names the runtime version that last ran on the folder.
const dataVersionFile = "dapr-version"

// readsDataOf lists, for each runtime minor, the oldest minor whose data
// folder it reads. 1.18 reads 1.16's: the upgrade test proves it
// (services/ordering's TestUpgradeKeepsTheData).
var readsDataOf = map[string]string{"1.16": "1.16", "1.17": "1.16", "1.18": "1.16"}

// daprVersion asks daprd which version it is ("1.18.0").
func daprVersion(daprBin string) (string, error) {
	out, err := exec.Command(filepath.Join(daprBin, "daprd"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("daprd --version: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// checkDataVersion refuses a data folder that the runtime `now` cannot read,
// and records `now` as the folder's version once it can. A folder without a
// record is new, or was written before versions were recorded (1.16.0).
func checkDataVersion(dataDir, now string) error {
	path := filepath.Join(dataDir, dataVersionFile)
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if written(dataDir) {
			raw = []byte("1.16.0")
		} else {
			raw = []byte(now)
		}
	case err != nil:
		return err
	}
	was := strings.TrimSpace(string(raw))
	if err := canRead(now, was); err != nil {
		return fmt.Errorf("%s: %w. Nothing was changed; start it with the runtime it was made with (BAZAAR_DAPR_BIN), or move the folder away to start afresh", dataDir, err)
	}
	if minor(was) != "" && less(minor(was), signingSince) && written(dataDir) {
		// Its workflows began unsigned, and stay so.
		if err := os.WriteFile(filepath.Join(dataDir, unsignedWorkflowsFile), []byte("written by Dapr "+was+"\n"), 0o600); err != nil {
			return err
		}
	}
	return os.WriteFile(path, []byte(now+"\n"), 0o600)
}

// Workflow history signing came with Dapr 1.18, which refuses to load an
// unsigned history while signing is on: a saga that began on 1.16 (a paid
// order waits for shipping for days) would never move again. A folder
// first written before 1.18 therefore keeps signing off, for good: its
// record says so (unsignedWorkflowsFile), and the sidecars' configuration
// follows it (${WORKFLOW_HISTORY_SIGNING}, dapr/config.yaml).
const (
	signingSince          = "1.18"
	unsignedWorkflowsFile = "workflows-unsigned"
)

// historySigning is the sidecars' WorkflowHistorySigning setting for the
// folder: "true" unless its workflows began unsigned.
func historySigning(dataDir string) string {
	if _, err := os.Stat(filepath.Join(dataDir, unsignedWorkflowsFile)); err == nil {
		return "false"
	}
	return "true"
}

// written reports whether a run has stored anything in the folder.
func written(dataDir string) bool {
	entries, err := os.ReadDir(filepath.Join(dataDir, "state"))
	return err == nil && len(entries) > 0
}

// canRead says why runtime now cannot read a folder written by runtime was.
func canRead(now, was string) error {
	nowMinor, wasMinor := minor(now), minor(was)
	if nowMinor == "" || wasMinor == "" {
		if now == was {
			return nil
		}
		return fmt.Errorf("the data folder was written by Dapr %s and this runtime is %s, and one of them is not a release version", was, now)
	}
	if less(nowMinor, wasMinor) {
		return fmt.Errorf("the data folder was written by Dapr %s, which is newer than this runtime (%s): an older runtime cannot read its workflows and jobs", was, now)
	}
	oldest, known := readsDataOf[nowMinor]
	if !known || less(wasMinor, oldest) {
		return fmt.Errorf("the data folder was written by Dapr %s, and no upgrade from it to %s has been tested", was, now)
	}
	return nil
}

// minor returns "1.18" of "1.18.0", or "" when v is not a release version.
func minor(v string) string {
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) < 2 {
		return ""
	}
	for _, p := range parts[:2] {
		if _, err := strconv.Atoi(p); err != nil {
			return ""
		}
	}
	return parts[0] + "." + parts[1]
}

// less compares two minors ("1.9" < "1.16").
func less(a, b string) bool {
	pa, pb := strings.SplitN(a, ".", 2), strings.SplitN(b, ".", 2)
	ma, _ := strconv.Atoi(pa[0])
	mb, _ := strconv.Atoi(pb[0])
	if ma != mb {
		return ma < mb
	}
	na, _ := strconv.Atoi(pa[1])
	nb, _ := strconv.Atoi(pb[1])
	return na < nb
}
