// Command repocheck fails when git tracks a build output: a compiled binary
// (any file git would call binary) or a file over 1 MiB. Vendored assets that
// are big on purpose are listed in allowed, one by one.
//
//	go run ./cmd/repocheck    # from the repository's top folder (make check)
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// maxSize is the largest file git may track outside the allowed list.
const maxSize = 1 << 20

// allowed are the tracked files that may break the rules: vendored, minified
// assets with their version in the name or pinned by a test.
var allowed = []string{
	"frontends/shell/testdata/axe-4.14.1.min.js",
}

func main() {
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "repocheck: git ls-files:", err)
		os.Exit(2)
	}
	files := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	problems, err := check(".", files, allowed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "repocheck:", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "repocheck: %d tracked file(s) look like build outputs: `git rm --cached` them and ignore them in .gitignore\n", len(problems))
		os.Exit(1)
	}
}

// check returns one line per file in files (relative to root) that is binary
// or over maxSize and not in allow.
func check(root string, files, allow []string) ([]string, error) {
	var problems []string
	for _, f := range files {
		if f == "" || slices.Contains(allow, f) {
			continue
		}
		p := filepath.Join(root, f)
		st, err := os.Lstat(p)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet in the index
		}
		if err != nil {
			return nil, err
		}
		if !st.Mode().IsRegular() {
			continue
		}
		if st.Size() > maxSize {
			problems = append(problems, fmt.Sprintf("%s: %d bytes (limit %d)", f, st.Size(), maxSize))
			continue
		}
		if bin, err := isBinary(p); err != nil {
			return nil, err
		} else if bin {
			problems = append(problems, f+": binary content (a compiled program or other build output?)")
		}
	}
	return problems, nil
}

// isBinary applies git's own rule: a NUL byte in the first 8000 bytes.
func isBinary(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 8000)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return false, err
	}
	return bytes.IndexByte(head[:n], 0) >= 0, nil
}
