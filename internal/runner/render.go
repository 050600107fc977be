package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// render copies the YAML files of src into dst, replacing ${NAME} with
// vars[NAME]. Component files hold the only machine-specific values (data
// folder, server addresses, generated passwords) as such variables, so that
// the files in the repository stay the same for every run. An unknown
// variable is an error naming the file, not an empty string.
func render(src, dst string, vars map[string]string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("read components: %w", err)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		if err := renderFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()), vars); err != nil {
			return err
		}
	}
	return nil
}

func renderFile(src, dst string, vars map[string]string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var missing []string
	out := os.Expand(string(data), func(name string) string {
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
			return ""
		}
		return v
	})
	if len(missing) > 0 {
		known := make([]string, 0, len(vars))
		for k := range vars {
			known = append(known, k)
		}
		sort.Strings(known)
		return fmt.Errorf("%s: unknown variable ${%s} (known: %s)", src, missing[0], strings.Join(known, ", "))
	}
	// Rendered files may hold generated passwords: readable by the owner only.
	return os.WriteFile(dst, []byte(out), 0o600)
}
