package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// privateDataDir makes the data folder the runner's user's alone: it holds
// generated passwords, the CA's key and every service's store. The runner
// and every process it starts create files for their owner only (umask
// 077, process-wide), and whatever an earlier run left readable to others is
// made private.
func privateDataDir(dir string) error {
	syscall.Umask(0o077)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			return os.Chmod(p, perm&^0o077)
		}
		return nil
	})
}

// PostgresHome is the folder of the servers profile's PostgreSQL cluster
// for a data folder. PostgreSQL refuses to run as root, so as root it runs
// as the "postgres" user, which cannot enter a private data folder (nor a
// checkout under /root): its cluster then lives in a folder of its own under
// the system's temporary folder, private to that user, named after the data
// folder so that each data folder keeps its cluster.
func PostgresHome(dataDir string) string {
	if os.Geteuid() != 0 {
		return filepath.Join(dataDir, "postgres")
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(os.TempDir(), "bazaar-postgres-"+hex.EncodeToString(sum[:6]))
}
