package runner

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/events"
)

// TestRedisPasswordStaysOffTheCommandLine: the servers profile's Redis
// reads its password from a private file, so the process list, which every
// local user can read, does not show it.
func TestRedisPasswordStaysOffTheCommandLine(t *testing.T) {
	if _, err := findServer("redis-server"); err != nil && testing.Short() {
		t.Skip("needs redis-server: run without -short (make test installs it)")
	}
	dir := filepath.Join(t.TempDir(), "redis")
	port, err := newPortPool().free()
	require.NoError(t, err)
	password := randomSecret()
	command, err := redisCommand(dir, port, password)
	require.NoError(t, err, "make test installs redis-server")

	cmd := command()
	assert.NotContains(t, strings.Join(cmd.Args, " "), password)
	conf := filepath.Join(dir, "redis.conf")
	st, err := os.Stat(conf)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "only its owner may read the password")

	// The real server takes its settings from the file and shows no
	// password in /proc.
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	require.NoError(t, waitTCP(ctx, addr))
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid))
	require.NoError(t, err)
	assert.NotContains(t, string(cmdline), password)

	assert.Contains(t, redisSays(t, addr, "PING"), "NOAUTH", "a client without the password is refused")
	assert.Equal(t, "+OK", redisSays(t, addr, "AUTH "+password))
	assert.Contains(t, redisSays(t, addr, "AUTH wrong"), "WRONGPASS")
}

// redisSays sends one inline command on a new connection and returns the
// first line of the answer.
func redisSays(t *testing.T, addr, command string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = fmt.Fprintf(c, "%s\r\n", command)
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(line)
}

// TestDeadLetterComesRoundAgain: a dead letter that fails again is published
// to its own topic again, with the same message id, after its retries (about
// 8 s). JetStream drops a message whose id it saw within the stream's
// duplicate window; with the default two minutes the dead letter was
// dropped, and its order lost. A topic's own stream keeps the long window,
// which absorbs a publisher's retries.
func TestDeadLetterComesRoundAgain(t *testing.T) {
	port, err := newPortPool().free()
	require.NoError(t, err)
	srv, err := startNATS(t.TempDir(), port, "token")
	require.NoError(t, err)
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL(), nats.Token("token"))
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)

	publishTwice := func(subject string) uint64 {
		for range 2 {
			_, err := js.Publish(subject, []byte(`{}`), nats.MsgId("event-1"))
			require.NoError(t, err)
			time.Sleep(deadLetterDedupWindow + 500*time.Millisecond)
		}
		info, err := js.StreamInfo(streamName(subject))
		require.NoError(t, err)
		return info.State.Msgs
	}
	assert.EqualValues(t, 2, publishTwice(events.DeadLetter(events.CheckoutAccepted)), "the dead letter came round again")
	assert.EqualValues(t, 1, publishTwice(events.CheckoutAccepted), "a publisher's retry is one event")
}
