package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/bazaar-shop/bazaar/internal/compose"
)

// startMail starts Mailpit (built from tools/mailpit into the tools folder)
// on loopback: the sidecars' SMTP binding sends the shop's e-mails there,
// and its API (MailURL) shows what arrived. With mail.enabled false in
// compose.yaml, e-mail goes to the SMTP server named there instead.
func (s *System) startMail(ctx context.Context) error {
	m := s.opts.Compose.Dapr().Mail
	if !compose.On(m.Enabled, true) {
		s.SMTPAddr = fmt.Sprintf("%s:%d", m.Host, m.Port)
		return nil
	}
	bin, missing := s.tool("mailpit", "extensions[dapr].mail (enabled: false, host, port)")
	if missing != nil && !s.opts.ToolsBuilding {
		return missing
	}
	what := "mail (" + s.opts.Compose.Path + ")"
	smtp, err := s.ports.pick(m.SMTPPort, what+" smtp-port")
	if err != nil {
		return err
	}
	web, err := s.ports.pick(m.WebPort, what+" web-port")
	if err != nil {
		return err
	}
	store := filepath.Join(s.DataDir, "mailpit")
	if err := os.MkdirAll(store, 0o700); err != nil {
		return err
	}
	s.SMTPAddr = "127.0.0.1:" + strconv.Itoa(smtp)
	s.MailURL = "http://127.0.0.1:" + strconv.Itoa(web)
	start := func(ctx context.Context) error {
		return s.startInfra(ctx, "mailpit", func() *exec.Cmd {
			return exec.Command(bin, "--smtp", s.SMTPAddr, "--listen", "127.0.0.1:"+strconv.Itoa(web),
				"--database", filepath.Join(store, "mailpit.db"), "--quiet", "--disable-version-check")
		}, httpReady(s.MailURL+"/api/v1/info", 200))
	}
	if missing != nil {
		// Until it joins, notification's sends fail and are retried.
		s.joinWhenBuilt("mailpit", bin, start)
		return nil
	}
	return start(ctx)
}
