package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/bazaar-shop/bazaar/internal/events"
)

// Streams lists the JetStream streams of the embedded profile: one per topic
// and one per dead-letter topic. The jetstream pub/sub component does not
// create streams, so the runner does, before any sidecar starts.
//
// One stream per topic because each app's consumer is durable and named
// after the app (components/embedded/pubsub.yaml): a durable name is unique
// within a stream, so an app subscribing to two topics of one stream would
// need two names. Dead letters have streams of their own because JetStream
// deduplicates by message id per stream and a dead-lettered message keeps its
// CloudEvent id. For the same reason a dead-letter stream deduplicates for a
// second only (the default is two minutes): a dead letter that fails again
// is published to its own topic again, with its id, after its retries (about
// 8 s; internal/daprapp DeadLetters), and a longer window dropped it as a
// duplicate: the event was lost (TestCheckoutsSurviveOrderingOutages, the
// app down for 40 s).
func Streams() []nats.StreamConfig {
	var out []nats.StreamConfig
	for _, t := range events.Topics {
		out = append(out, nats.StreamConfig{Name: streamName(t), Subjects: []string{t}})
		dl := events.DeadLetter(t)
		out = append(out, nats.StreamConfig{Name: streamName(dl), Subjects: []string{dl}, Duplicates: deadLetterDedupWindow})
	}
	return out
}

// deadLetterDedupWindow is how long a dead-letter stream drops a message
// whose id it has seen: shorter than a delivery's retries.
const deadLetterDedupWindow = time.Second

// streamName turns a topic into a stream name (which may not hold dots).
func streamName(topic string) string {
	return strings.NewReplacer(".", "_", ">", "_", "*", "_").Replace(topic)
}

// legacyStreams are the streams of earlier versions (a stream per topic
// family): their subjects overlap today's, so they are removed.
var legacyStreams = []string{"bazaar", "bazaar-deadletters"}

// startNATS runs an in-process NATS server with JetStream, storing under dir.
func startNATS(dir string, port int, token string) (*natsserver.Server, error) {
	srv, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1",
		Port: port,
		// Only holders of the token (the sidecars, through their rendered,
		// private component file) may connect: another local process can
		// neither read nor publish events.
		Authorization: token,
		JetStream:     true,
		StoreDir:      dir,
		NoSigs:        true,
		NoLog:         true,
		// Keep the embedded broker small: it serves one developer's machine.
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  1 << 30,
	})
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("nats: not ready after 10s")
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.Token(token))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("nats: %w", err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("nats: %w", err)
	}
	for _, name := range legacyStreams {
		_ = js.DeleteStream(name)
	}
	for _, cfg := range Streams() {
		cfg.Storage = nats.FileStorage
		// A day of history is plenty for one developer's machine.
		cfg.MaxAge = 24 * time.Hour
		if cfg.Duplicates == 0 {
			cfg.Duplicates = 2 * time.Minute // a publisher's retries
		}
		if _, err := js.StreamInfo(cfg.Name); err == nil {
			_, err = js.UpdateStream(&cfg)
			if err != nil {
				srv.Shutdown()
				return nil, fmt.Errorf("nats: update stream %s: %w", cfg.Name, err)
			}
		} else if _, err := js.AddStream(&cfg); err != nil {
			srv.Shutdown()
			return nil, fmt.Errorf("nats: create stream %s: %w", cfg.Name, err)
		}
	}
	return srv, nil
}

// findServer looks for a server binary on PATH and in Debian's versioned
// PostgreSQL folders.
func findServer(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	sort.Strings(matches)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s is not installed", name)
}

func randomSecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// redisCommand returns the command that runs a throwaway Redis for the
// servers profile: loopback only, password protected, nothing persisted.
// Its settings, the password among them, are in a private file (0600) in
// dir rather than on its command line, which every local user can read in
// the process list.
func redisCommand(dir string, port int, password string) (func() *exec.Cmd, error) {
	bin, err := findServer("redis-server")
	if err != nil {
		return nil, fmt.Errorf("the servers profile needs Redis: %w (Debian: apt-get install redis-server; `make test` installs it)", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "redis.conf")
	settings := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode yes\ndir %q\nsave \"\"\nappendonly no\ndatabases 32\nrequirepass %q\n",
		port, dir, password)
	if err := os.WriteFile(conf, []byte(settings), 0o600); err != nil {
		return nil, err
	}
	// WriteFile keeps the mode of a file that was already there.
	if err := os.Chmod(conf, 0o600); err != nil {
		return nil, err
	}
	return func() *exec.Cmd { return exec.Command(bin, conf) }, nil
}

// postgresCommand initialises a throwaway PostgreSQL cluster in dir (once)
// and returns the command that serves it on loopback. PostgreSQL refuses to
// run as root, so as root the cluster belongs to the "postgres" user.
func postgresCommand(ctx context.Context, dir string, port int, password string) (func() *exec.Cmd, error) {
	initdb, err := findServer("initdb")
	if err != nil {
		return nil, fmt.Errorf("the servers profile needs PostgreSQL: %w (Debian: apt-get install postgresql; `make test` installs it)", err)
	}
	postgres := filepath.Join(filepath.Dir(initdb), "postgres")
	cred, err := postgresCredential(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		pwfile := filepath.Join(filepath.Dir(dir), "pg-password")
		if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
			return nil, err
		}
		if cred != nil {
			_ = os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
		}
		cmd := exec.CommandContext(ctx, initdb, "-D", dir, "-U", "bazaar", "--pwfile", pwfile, "--auth", "scram-sha-256", "-E", "UTF8", "--no-sync")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		os.Remove(pwfile)
		if err != nil {
			return nil, fmt.Errorf("initdb: %v: %s", err, out)
		}
	}
	sock := filepath.Dir(dir)
	return func() *exec.Cmd {
		cmd := exec.Command(postgres, "-D", dir, "-p", strconv.Itoa(port), "-h", "127.0.0.1", "-k", sock,
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return cmd
	}, nil
}

// postgresCredential prepares dir for the user PostgreSQL will run as.
func postgresCredential(dir string) (*syscall.Credential, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("PostgreSQL refuses to run as root and there is no 'postgres' user (it comes with Debian's postgresql package)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chown(p, uid, gid); err != nil {
			return nil, err
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// waitTCP waits until something accepts connections on addr.
func waitTCP(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nothing listens on %s: %w", addr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
